/**
 * The gateway in direct media mode (`pbx.media: direct`) through the real stack: the plain lab
 * Kamailio (no media relay, no rtpengine), baresip plain-RTP desk phones and customers in their
 * own processes, JsSIP + wrtc bots for WebRTC, sipp for exact SIP, and the built gateway as a
 * child process (`node dist/apps/gateway/src/main.js`), so that the UDP sockets it holds can be
 * counted apart from this process's. Run `npm run build` first.
 *
 * Faults: a device answering the connecting re-INVITE 488, a customer moving its media, and two
 * glares (a customer answering our re-INVITE 491; a customer whose re-INVITE crosses ours).
 *
 * Two gateways share the lab: one in direct mode (agents 5000-5002), one in bridge mode (agent
 * 5003), each registering its own agents, so that a bridged call can be measured beside a direct one.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyEventEnvelope } from '@callgate/contracts';
import { ulawEncode } from '@callgate/sip';
import { BaresipPhone } from '../apps/lab/src/baresip.js';
import { labTone, startLab, type Lab } from '../apps/lab/src/lab.js';
import { freeUdpPort } from '../apps/lab/src/ports.js';
import { registeredSippUas, runSipp } from '../apps/lab/src/sipp.js';
import { udpSocketsOf } from './direct-media-support.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { API_KEY, labDomainsYaml, rest, waitRegistered, type LabAgent } from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

const T = 120_000;

/** Desk phones and customers played by baresip (plain RTP, PCMU), with their own tones. */
const BARESIP = { desk: '5000-desk', customer: '0901000001' } as const;
const BARESIP_TONE = { desk: 1200, customer: 600 } as const;
/** WebRTC bots of the lab: 5001's and 5003's desk phones, one customer. */
const WEBRTC_CUSTOMER = '0901000002';

const DIRECT_AGENTS: readonly LabAgent[] = [
  { ext: '5000', device: 4 },
  { ext: '5001', device: 4 },
  { ext: '5002', device: 4 },
];
const BRIDGE_AGENTS: readonly LabAgent[] = [{ ext: '5003', device: 4 }];

/** The call events of one call, as [type, data] pairs. */
const sequence = (events: readonly AnyEventEnvelope[], callId: string | undefined): [string, unknown][] =>
  events.filter((e) => e.callId === callId).map((e) => [e.type, e.data]);

/**
 * A callout's story without its `callout.customerRinging`, which is checked apart: a baresip
 * customer answers at once and may send its 200 without a 180 first (legal SIP), so there is at
 * most one, right after `call.agentRinging`.
 */
function withoutCustomerRinging(story: [string, unknown][]): [string, unknown][] {
  const ringing = story.findIndex(([type]) => type === 'callout.customerRinging');
  expect(story.filter(([type]) => type === 'callout.customerRinging').length).toBeLessThanOrEqual(1);
  if (ringing !== -1) {
    expect(story[ringing - 1]?.[0]).toBe('call.agentRinging');
    expect(story[ringing]?.[1]).toEqual({ number: BARESIP.customer });
  }
  return story.filter(([type]) => type !== 'callout.customerRinging');
}

/** Waits for an event that `tab` receives from now on (not one it already has). */
function upcoming(
  tab: Tab,
): (match: (e: AnyEventEnvelope) => boolean, timeoutMs?: number) => Promise<AnyEventEnvelope> {
  const since = tab.events.length;
  return (match, timeoutMs) => tab.waitFor((e) => tab.events.indexOf(e) >= since && match(e), timeoutMs);
}

/** 20 ms of a `frequency` Hz sine as PCMU (8 kHz), starting at sample `at`. */
function pcmuFrame(frequency: number, at: number): Buffer {
  const out = Buffer.alloc(160);
  for (let i = 0; i < 160; i++)
    out[i] = ulawEncode(Math.round(8_000 * Math.sin((2 * Math.PI * frequency * (at + i)) / 8_000)));
  return out;
}

/**
 * A UDP port of this test standing in for a plain-RTP customer's media: counts the RTP it
 * receives (and from where), and can play a PCMU tone back to whoever sent it some.
 */
class RtpPort {
  received = 0;
  from: RemoteInfo | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (message, from) => {
      // RTP version 2, payload type 0 (PCMU)
      if (
        message.length >= 12 &&
        message[0] !== undefined &&
        message[0] >> 6 === 2 &&
        (message[1] ?? 0) % 128 === 0
      ) {
        this.received++;
        this.from = from;
      }
    });
  }

  static async open(host: string, port: number): Promise<RtpPort> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    });
    return new RtpPort(socket, port);
  }

  /** Resolves once `count` more RTP packets arrived. */
  more(count: number, timeoutMs = 10_000): Promise<number> {
    const target = this.received + count;
    return eventually(
      () => (this.received >= target ? this.received : undefined),
      timeoutMs,
      `${count} RTP packets on ${this.port}`,
    );
  }

  /** Plays a PCMU tone (20 ms packets) to the address the far end sends from (symmetric RTP). */
  play(frequency: number): void {
    const to = this.from;
    if (!to) throw new Error(`no RTP received on ${this.port}: nowhere to play to`);
    let seq = 0;
    const ssrc = 0x1234abcd;
    this.timer = setInterval(() => {
      const header = Buffer.alloc(12);
      header[0] = 0x80;
      header[1] = 0;
      header.writeUInt16BE(seq & 0xffff, 2);
      header.writeUInt32BE((seq * 160) >>> 0, 4);
      header.writeUInt32BE(ssrc, 8);
      this.socket.send(Buffer.concat([header, pcmuFrame(frequency, seq * 160)]), to.port, to.address);
      seq++;
    }, 20);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.socket.close();
  }
}

describe('the gateway with pbx.media: direct, through the plain lab (no media relay)', () => {
  let lab: Lab;
  let dir: string;
  let direct: GatewayProcess;
  let bridge: GatewayProcess;
  let events: Tab;
  let bridgeEvents: Tab;
  let desk: BaresipPhone;
  let customer: BaresipPhone;
  const extra: { close(): unknown }[] = [];

  beforeAll(async () => {
    lab = await startLab({ customers: [WEBRTC_CUSTOMER], ipPhones: ['5001', '5003'] });
    dir = mkdtempSync(join(tmpdir(), 'callgate-direct-gw-'));
    const config = (name: string, agents: readonly LabAgent[], media: 'direct' | 'bridge'): string => {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(path, labDomainsYaml(lab.pbx.wsUri, {}, agents, media));
      return path;
    };
    [direct, bridge] = await Promise.all([
      spawnGateway({
        instanceId: 'direct',
        configPath: config('direct', DIRECT_AGENTS, 'direct'),
        redisUrl: '',
      }),
      spawnGateway({
        instanceId: 'bridge',
        configPath: config('bridge', BRIDGE_AGENTS, 'bridge'),
        redisUrl: '',
      }),
    ]);
    const phone = (user: string, tone: number): Promise<BaresipPhone> =>
      BaresipPhone.start({
        user,
        domain: lab.pbx.sipDomain,
        proxy: { host: lab.pbx.host, port: lab.pbx.udpPort },
        tone,
      });
    [desk, customer, events, bridgeEvents] = await Promise.all([
      phone(BARESIP.desk, BARESIP_TONE.desk),
      phone(BARESIP.customer, BARESIP_TONE.customer),
      Tab.open(direct.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }),
      Tab.open(bridge.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }),
    ]);
    await Promise.all([
      waitRegistered(direct, '5000'),
      waitRegistered(direct, '5001'),
      waitRegistered(direct, '5002'),
      waitRegistered(bridge, '5003'),
    ]);
  }, T);

  afterEach(async () => {
    for (const e of extra.splice(0)) await e.close();
    // no call may leak into the next test
    await eventually(
      async () => {
        for (const [gw, ext] of [
          [direct, '5000'],
          [direct, '5001'],
          [direct, '5002'],
          [bridge, '5003'],
        ] as const) {
          if ((await rest(gw, 'GET', `/v1/demo/agents/${ext}`)).body.call !== null) return undefined;
        }
        return true;
      },
      20_000,
      'no call left',
    );
  }, T);

  afterAll(async () => {
    events?.close();
    bridgeEvents?.close();
    await Promise.all([desk?.close(), customer?.close(), direct?.stop(), bridge?.stop()]);
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  }, T);

  it(
    'inbound, plain RTP both ends: the baresip customer and desk phone hear each other, the gateway holds no UDP socket; the customer hangs up',
    async () => {
      const udpBefore = udpSocketsOf(direct.pid);
      const next = upcoming(events);
      await customer.dial(`sip:5000@${lab.pbx.sipDomain}`);
      const accepted = await next((e) => e.type === 'call.accepted' && e.ipphone === '5000', 20_000);
      const heardByDesk = await desk.hears(BARESIP_TONE.customer, 20_000);
      const heardByCustomer = await customer.hears(BARESIP_TONE.desk, 20_000);
      const udpDuring = udpSocketsOf(direct.pid);
      console.log(
        `gateway direct inbound (plain RTP): desk heard ${heardByDesk.frequency?.toFixed(0)} Hz, customer ${heardByCustomer.frequency?.toFixed(0)} Hz; gateway UDP sockets before ${udpBefore}, during ${udpDuring}`,
      );
      expect(udpBefore).toBe(0);
      expect(udpDuring).toBe(0);

      await customer.hangup();
      await events.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId, 15_000);
      expect(sequence(events.events, accepted.callId)).toEqual([
        ['call.ringing', { phone: BARESIP.customer }],
        ['call.accepted', { media: { path: 'direct', reason: expect.any(String) as string } }],
        ['call.ended', { cause: 'NORMAL_CLEARING', by: 'customer', duration: expect.any(Number) as number }],
      ]);
      await desk.waitFor('CALL_CLOSED', 15_000);
    },
    T,
  );

  it(
    'callout, plain RTP both ends: the desk phone is called first, then the customer; both hear each other with no UDP socket in the gateway; the agent hangs up by REST',
    async () => {
      const deskSince = desk.events.length;
      const customerSince = customer.events.length;
      const dialled = await rest(direct, 'POST', '/v1/demo/agents/5000/calls', { number: BARESIP.customer });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      await events.waitFor((e) => e.type === 'call.customerAccepted' && e.callId === callId, 20_000);
      await customer.waitFor('CALL_ESTABLISHED', 15_000, customerSince);
      await desk.waitFor('CALL_ESTABLISHED', 15_000, deskSince);
      await desk.hears(BARESIP_TONE.customer, 20_000);
      await customer.hears(BARESIP_TONE.desk, 20_000);
      expect(udpSocketsOf(direct.pid)).toBe(0);

      expect(await rest(direct, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).toEqual({
        status: 200,
        body: { ok: true, callId },
      });
      await events.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 15_000);
      const seen = withoutCustomerRinging(sequence(events.events, callId));
      expect(seen.map(([type]) => type)).toEqual([
        'callout.started',
        'call.agentRinging',
        'call.customerAccepted',
        'call.ended',
      ]);
      expect(seen[2]?.[1]).toEqual({ media: { path: 'direct', reason: expect.any(String) as string } });
      expect(seen[3]?.[1]).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
      await customer.waitFor('CALL_CLOSED', 15_000, customerSince);
    },
    T,
  );

  it(
    'WebRTC bots on both sides: direct, their DTLS end to end, both hear each other, no UDP socket in the gateway; the same call bridged by the bridge-mode gateway holds some',
    async () => {
      const bot = lab.bot(WEBRTC_CUSTOMER);
      const deskBot = lab.bot('5001-desk');
      const udpBefore = udpSocketsOf(direct.pid);
      const next = upcoming(events);
      const answered = deskBot.waitFor('answered');
      const call = bot.call('5001');
      const deviceLeg = (await answered).call;
      await bot.hears({ call, frequency: labTone('ipPhone', 0) });
      await deskBot.hears({ call: deviceLeg, frequency: labTone('customer', 0) });
      const accepted = await next((e) => e.type === 'call.accepted' && e.ipphone === '5001', 10_000);
      expect(accepted.data).toEqual({ media: { path: 'direct', reason: expect.any(String) as string } });
      // the desk phone was offered WebRTC (DTLS-SRTP) and the gateway holds no UDP socket to end DTLS
      // on: the DTLS handshake runs between the two bots
      const offer = deviceLeg.requestSdp ?? '';
      expect(offer).toContain('UDP/TLS/RTP/SAVPF');
      expect(offer).toMatch(/a=fingerprint:/);
      const udpDirect = udpSocketsOf(direct.pid);
      expect(udpDirect).toBe(udpBefore);
      await bot.hangup(call);
      await events.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId, 15_000);

      // the same call through the bridge-mode gateway: its wrtc legs hold UDP sockets
      const bridgedBefore = udpSocketsOf(bridge.pid);
      const bridgedDesk = lab.bot('5003-desk');
      const bridgedNext = upcoming(bridgeEvents);
      const bridgedAnswered = bridgedDesk.waitFor('answered');
      const bridged = bot.call('5003');
      const bridgedLeg = (await bridgedAnswered).call;
      await bot.hears({ call: bridged, frequency: labTone('ipPhone', 1) });
      await bridgedDesk.hears({ call: bridgedLeg, frequency: labTone('customer', 0) });
      const bridgedAccepted = await bridgedNext((e) => e.type === 'call.accepted', 10_000);
      expect(bridgedAccepted.data).toEqual({ media: { path: 'bridge', reason: 'pbx.media is bridge' } });
      const udpBridged = udpSocketsOf(bridge.pid);
      console.log(
        `gateway UDP sockets during a WebRTC call: direct ${udpDirect} (before ${udpBefore}), bridge ${udpBridged} (before ${bridgedBefore})`,
      );
      expect(udpBridged).toBeGreaterThan(bridgedBefore);
      await bot.hangup(bridged);
      await bridgeEvents.waitFor(
        (e) => e.type === 'call.ended' && e.callId === bridgedAccepted.callId,
        15_000,
      );
    },
    T,
  );
  it(
    'a WebRTC customer transferred to a plain-RTP queue, with no relay: the queue answers the placeholder, is hung up and called with the customer’s own offer, refuses it (488); the transfer fails and the customer stays with 5001',
    async () => {
      const queue = await BaresipPhone.start({
        user: 'queue1',
        domain: lab.pbx.sipDomain,
        proxy: { host: lab.pbx.host, port: lab.pbx.udpPort },
        tone: 700,
      });
      extra.push(queue);
      const bot = lab.bot(WEBRTC_CUSTOMER);
      const deskBot = lab.bot('5001-desk');
      const next = upcoming(events);
      const answered = deskBot.waitFor('answered');
      const call = bot.call('5001');
      const deviceLeg = (await answered).call;
      const accepted = await next((e) => e.type === 'call.accepted' && e.ipphone === '5001', 10_000);
      await bot.hears({ call, frequency: labTone('ipPhone', 0) });

      const callId = accepted.callId ?? '';
      const moved = await rest(direct, 'POST', `/v1/demo/agents/5001/calls/${callId}/transfer/queue`, {
        queueId: '1',
      });
      expect(moved).toMatchObject({ status: 200, body: { ok: true, callId } });
      const failed = await next((e) => e.type === 'transfer.failed' && e.ipphone === '5001', 20_000);
      expect(failed.data).toMatchObject({ queueId: '1', sipCode: 488 });
      // the queue took the placeholder call, which was hung up, then refused the WebRTC offer
      await queue.waitFor('CALL_CLOSED', 10_000);
      expect(queue.events.filter((e) => e.type === 'CALL_ESTABLISHED')).toHaveLength(1);
      expect(direct.stdoutLines().join('\n')).toMatch(
        /queue1@[^ ]* answered the placeholder with media the customer cannot take/,
      );
      // the customer is still with 5001, and both still hear each other
      expect((await rest(direct, 'GET', '/v1/demo/agents/5001/call')).body).toMatchObject({
        callId,
        state: 'active',
      });
      await bot.hears({ call, frequency: labTone('ipPhone', 0) });
      await deskBot.hears({ call: deviceLeg, frequency: labTone('customer', 0) });
      await bot.hangup(call);
      await events.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 15_000);
    },
    T,
  );
  it(
    'a WebRTC customer calling an agent whose desk phone is plain RTP, with no relay: the desk refuses the direct offer (488), is rung again bridged, refuses the WebRTC offer again; the call ends and the customer gets 480',
    async () => {
      const bot = lab.bot(WEBRTC_CUSTOMER);
      const deskSince = desk.events.length;
      const next = upcoming(events);
      const call = bot.call('5000');
      const ended = await next((e) => e.type === 'call.ended' && e.ipphone === '5000', 20_000);
      const outcome = await call.terminated;
      console.log(
        `WebRTC customer to plain desk: ${JSON.stringify(sequence(events.events, ended.callId))}; customer got ${String(outcome.statusCode)}`,
      );
      expect(outcome).toMatchObject({ established: false, statusCode: 480 });
      expect(sequence(events.events, ended.callId)).toEqual([
        ['call.ringing', { phone: WEBRTC_CUSTOMER }],
        ['call.ended', { cause: 'ERROR', by: 'agent', duration: 0 }],
      ]);
      // the desk phone never took a call
      expect(desk.events.slice(deskSince).filter((e) => e.type === 'CALL_ESTABLISHED')).toHaveLength(0);
      // the gateway said why it moved to the bridge
      await direct.waitForLog(/answered 488 to the direct offer: the device refused direct media/, 5_000);
    },
    T,
  );
});

describe('faults of the gateway in direct media mode, each ending in a defined state', () => {
  let lab: Lab;
  let dir: string;
  let gateway: GatewayProcess;
  let events: Tab;
  let desk: BaresipPhone;
  let customer: BaresipPhone;
  const extra: { close(): unknown }[] = [];

  /** The agent hangs up a held call of 5000 over REST: ringing, accepted, held, then ended by the agent. */
  async function hangUpHeldCall(callId: string): Promise<void> {
    expect((await rest(gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).status).toBe(200);
    await events.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 15_000);
    expect(sequence(events.events, callId).map(([type]) => type)).toEqual([
      'call.ringing',
      'call.accepted',
      'call.held',
      'call.ended',
    ]);
    expect(events.events.find((e) => e.type === 'call.ended' && e.callId === callId)?.data).toMatchObject({
      cause: 'NORMAL_CLEARING',
      by: 'agent',
    });
  }

  beforeAll(async () => {
    lab = await startLab({});
    dir = mkdtempSync(join(tmpdir(), 'callgate-direct-faults-'));
    const configPath = join(dir, 'domains.yaml');
    writeFileSync(configPath, labDomainsYaml(lab.pbx.wsUri, {}, DIRECT_AGENTS, 'direct'));
    gateway = await spawnGateway({ instanceId: 'direct-faults', configPath, redisUrl: '' });
    const phone = (user: string, tone: number): Promise<BaresipPhone> =>
      BaresipPhone.start({
        user,
        domain: lab.pbx.sipDomain,
        proxy: { host: lab.pbx.host, port: lab.pbx.udpPort },
        tone,
      });
    [desk, customer, events] = await Promise.all([
      phone(BARESIP.desk, BARESIP_TONE.desk),
      phone(BARESIP.customer, BARESIP_TONE.customer),
      Tab.open(gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }),
    ]);
    await Promise.all([waitRegistered(gateway, '5000'), waitRegistered(gateway, '5002')]);
  }, T);

  afterEach(async () => {
    for (const e of extra.splice(0)) await e.close();
    await eventually(
      async () => {
        for (const ext of ['5000', '5002'])
          if ((await rest(gateway, 'GET', `/v1/demo/agents/${ext}`)).body.call !== null) return undefined;
        return true;
      },
      20_000,
      'no call left',
    );
  }, T);

  afterAll(async () => {
    events?.close();
    await Promise.all([desk?.close(), customer?.close(), gateway?.stop()]);
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  }, T);

  it(
    'a desk phone that answers the connecting re-INVITE of a callout with 488: the call ends MEDIA_FAILED by system, both legs hung up',
    async () => {
      const { done: uas } = await registeredSippUas({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uas-reinvite-488',
        user: '5002-desk',
        timeoutMs: 40_000,
      });
      const customerSince = customer.events.length;

      const dialled = await rest(gateway, 'POST', '/v1/demo/agents/5002/calls', { number: BARESIP.customer });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      await events.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 30_000);
      expect(withoutCustomerRinging(sequence(events.events, callId))).toEqual([
        ['callout.started', { number: BARESIP.customer }],
        ['call.agentRinging', {}],
        ['call.ended', { cause: 'MEDIA_FAILED', by: 'system', duration: expect.any(Number) as number }],
      ]);
      await customer.waitFor('CALL_CLOSED', 15_000, customerSince);
      // sipp got its BYE after the 488
      expect((await uas).exitCode).toBe(0);
    },
    T,
  );

  it(
    'a customer that moves its media mid-call (re-INVITE to a new port): the desk phone is re-INVITEd, its audio goes to the new port, and audio continues both ways',
    async () => {
      const first = await RtpPort.open(lab.pbx.host, await freeUdpPort(lab.pbx.host));
      extra.push(first);
      const moved = await RtpPort.open(lab.pbx.host, await freeUdpPort(lab.pbx.host));
      extra.push(moved);
      const next = upcoming(events);
      const sipp = runSipp({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uac-sdp-move',
        service: '5000',
        keys: { first_port: String(first.port), moved_port: String(moved.port) },
        timeoutMs: 40_000,
      });
      const accepted = await next((e) => e.type === 'call.accepted' && e.ipphone === '5000', 20_000);
      expect(accepted.data).toMatchObject({ media: { path: 'direct' } });
      // the desk phone's RTP comes to the customer's new port once it was re-INVITEd
      await moved.more(25, 15_000);
      const stale = first.received;
      await moved.more(25);
      expect(first.received - stale).toBeLessThan(3);
      // and the desk still hears the customer, from its new address
      moved.play(BARESIP_TONE.customer);
      const heard = await desk.hears(BARESIP_TONE.customer, 15_000);
      console.log(
        `media moved: ${first.received} RTP packets at the first port, ${moved.received} at the new one; the desk hears ${heard.frequency?.toFixed(0)} Hz`,
      );
      expect(udpSocketsOf(gateway.pid)).toBe(0);

      const callId = accepted.callId ?? '';
      expect((await rest(gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).status).toBe(200);
      await events.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 15_000);
      expect(
        sequence(events.events, callId).map(([type, data]) => [type, type === 'call.ended' ? data : null]),
      ).toEqual([
        ['call.ringing', null],
        ['call.accepted', null],
        ['call.ended', { cause: 'NORMAL_CLEARING', by: 'agent', duration: expect.any(Number) as number }],
      ]);
      expect((await sipp).exitCode).toBe(0);
    },
    T,
  );

  it(
    'glare: the customer answers the hold re-INVITE with 491 (its own re-INVITE crossed ours) twice; the gateway tries again, the hold completes (call.held) and the call ends normally',
    async () => {
      const next = upcoming(events);
      const sipp = runSipp({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uac-reinvite-491',
        service: '5000',
        timeoutMs: 40_000,
      });
      const accepted = await next((e) => e.type === 'call.accepted' && e.ipphone === '5000', 20_000);
      const callId = accepted.callId ?? '';
      const held = await rest(gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hold`);
      expect(held).toMatchObject({ status: 200, body: { ok: true } });
      await events.waitFor((e) => e.type === 'call.held' && e.callId === callId, 15_000);
      expect((await rest(gateway, 'GET', '/v1/demo/agents/5000/call')).body).toMatchObject({
        callId,
        state: 'held',
      });

      await hangUpHeldCall(callId);
      const result = await sipp;
      expect(result.output.match(/491 ---------->\s+1 /g)).toHaveLength(2);
      expect(result.exitCode).toBe(0);
    },
    T,
  );
  it(
    "glare: the customer sends its own re-INVITE while the hold re-INVITE is pending; each side answers the other 491; the hold is retried and completes, the customer's re-INVITE is retried and followed",
    async () => {
      const next = upcoming(events);
      const deskSince = desk.events.length;
      const sipp = runSipp({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uac-glare',
        service: '5000',
        timeoutMs: 40_000,
      });
      const accepted = await next((e) => e.type === 'call.accepted' && e.ipphone === '5000', 20_000);
      const callId = accepted.callId ?? '';
      // the hold re-INVITE meets the customer's: the gateway answers it 491 and does not act on it
      expect(await rest(gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hold`)).toMatchObject({
        status: 200,
        body: { ok: true, held: true },
      });
      await events.waitFor((e) => e.type === 'call.held' && e.callId === callId, 15_000);
      // the customer's re-INVITE, sent again, is followed: the desk phone gets its new SDP (its
      // third offer: the call's, the hold's, this one); the one answered 491 was not followed
      const established = await desk.waitFor('CALL_ESTABLISHED', 15_000, deskSince);
      const deskOffers = (): number =>
        desk.events
          .slice(deskSince)
          .filter((e) => e.type === 'CALL_REMOTE_SDP' && e.param === 'offer' && e.id === established.id)
          .length;
      await eventually(
        () => (deskOffers() >= 3 ? true : undefined),
        15_000,
        "the customer's re-INVITE followed",
      );
      expect((await rest(gateway, 'GET', '/v1/demo/agents/5000/call')).body).toMatchObject({
        callId,
        state: 'held',
      });

      await hangUpHeldCall(callId);
      const result = await sipp;
      // sipp got 491 for its first re-INVITE and 200 for the second; the desk phone no other offer
      expect(deskOffers()).toBe(3);
      expect(result.output).toMatch(/491 <----------\s+1 /);
      expect(result.output).toMatch(/491 ---------->\s+1 /);
      expect(result.exitCode).toBe(0);
    },
    T,
  );
});
