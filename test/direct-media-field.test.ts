/**
 * The gateway in direct media mode (`pbx.media: direct`) on the field PBX: digest auth, wss:// with
 * the lab CA, rtpengine relaying between the gateway's WebSocket legs (DTLS-SRTP, ICE) and the
 * baresip plain-RTP desk phone and trunk customers. The gateway hands each leg's SDP to the other,
 * so media goes desk ⇄ rtpengine ⇄ rtpengine ⇄ customer and never through the gateway. Audio is
 * checked both ways at the endpoints. Waits are on events, bounded.
 *
 * The callout joins its legs with an offerless re-INVITE of the desk phone (RFC 3725): the offer
 * comes in the 200, the answer in the ACK. A PBX must run both through its media relay; the lab
 * Kamailio did not until it set its rtpengine flags for an INVITE without SDP as well (no audio
 * either way before).
 *
 * Transfers (to an agent, to the ACD queue; plain-RTP and WebRTC customers): every gateway leg is an
 * ICE end here (rtpengine forces ICE towards WebSocket clients), so the target is first offered a
 * plain-RTP placeholder and the customer is joined to it customer first. Offered the customer's own
 * SDP and joined target first, neither side heard the other after the move: rtpengine refused the
 * customer's restarted ICE credentials in the ACK (README "Field notes").
 */
import type { AnyEventEnvelope } from '@callgate/contracts';
import type { BaresipPhone } from '../apps/lab/src/baresip.js';
import { labTone, labUsers } from '../apps/lab/src/lab.js';
import { startFieldGateway, type FieldGateway } from './support/field-gateway.js';
import { API_KEY, rest, waitRegistered, type LabAgent } from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const T = 120_000;
const AGENTS: readonly LabAgent[] = [
  { ext: '5000', device: 4 },
  { ext: '5002', device: 4 },
];
/** The lab's desk phones, in the order that gives their tones (labTone('ipPhone', index)). */
const DESKS = ['5000', '5002'];
const deskTone = (ext: string): number => labTone('ipPhone', DESKS.indexOf(ext));

/** After a test: every lab phone hung up (a failed test may leave one in a call), and the agents idle. */
async function settleLab(env: FieldGateway): Promise<void> {
  for (const { phone: p } of env.lab.phones) await p.hangup().catch(() => undefined);
  for (const { ext } of AGENTS) {
    await eventually(
      async () =>
        (await rest(env.gateway, 'GET', `/v1/demo/agents/${ext}`)).body.call === null ? true : undefined,
      20_000,
      `${ext} idle`,
    );
  }
}

/** 5000 transfers its answered call to 5002, who accepts: 5000's call ends TRANSFERRED, 5002's is accepted. */
async function transferTo5002(source: Tab, target: Tab, callId: string): Promise<void> {
  expect(await source.command('transfer.toAgent', { ipphone: '5002' })).toMatchObject({ ok: true, callId });
  await target.waitFor((e) => e.type === 'transfer.request', 20_000);
  expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });
  const ended = await source.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 20_000);
  expect(ended.data).toMatchObject({ cause: 'TRANSFERRED' });
  await source.waitFor((e) => e.type === 'transfer.succeeded', 20_000);
  const accepted = await target.waitFor((e) => e.type === 'call.accepted', 20_000);
  expect(accepted.data).toMatchObject({ media: { path: 'direct' } });
}

describe('direct media on the field PBX (rtpengine, digest auth, wss)', () => {
  let env: FieldGateway;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const phone = (user: string): BaresipPhone => env.lab.phone(user).phone;
  const desk = (ext = '5000'): BaresipPhone => phone(labUsers.ipPhone(ext));
  const customerTone = (n: number): number => labTone('customer', n - 1);
  const next = (from: number, match: (e: AnyEventEnvelope) => boolean, what: string) =>
    backend.waitFor((e) => backend.events.indexOf(e) >= from && match(e), 20_000, what);

  beforeAll(async () => {
    env = await startFieldGateway(
      { customers: 3, ipPhones: DESKS, queues: ['1'] },
      { agents: AGENTS, domain: { transport: 'wss', media: 'direct' } },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await waitRegistered(env.gateway, '5000', true, 20_000);
  }, T);
  afterEach(async () => {
    await tabs.closeAll();
    await settleLab(env);
  }, T);
  afterAll(async () => {
    backend.close();
    await env.close();
  }, T);

  it(
    'inbound: a plain-RTP customer calls 5000, the desk phone answers, direct media, audio both ways; the customer hangs up',
    async () => {
      const customer = phone(labUsers.customer(1));
      const since = { desk: desk().events.length, backend: backend.events.length };
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await next(since.backend, (e) => e.type === 'call.accepted', 'accepted');
      expect(accepted.data).toEqual({ media: { path: 'direct', reason: expect.any(String) as string } });
      await desk().waitFor('CALL_ESTABLISHED', 20_000, since.desk);
      await desk().hears(customerTone(1), 15_000);
      await customer.hears(deskTone('5000'), 15_000);
      await customer.hangup();
      const ended = await next(
        since.backend,
        (e) => e.type === 'call.ended' && e.callId === accepted.callId,
        'ended',
      );
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
      await desk().waitFor('CALL_CLOSED', 20_000, since.desk);
    },
    T,
  );

  it(
    'callout: the desk phone answers first, then the plain-RTP customer; joined by an offerless re-INVITE through rtpengine, audio both ways; the agent hangs up',
    async () => {
      const customer = phone(labUsers.customer(2));
      const since = { customer: customer.events.length, desk: desk().events.length };
      const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls', {
        number: labUsers.customer(2),
      });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      const accepted = await backend.waitFor(
        (e) => e.type === 'call.customerAccepted' && e.callId === callId,
        30_000,
      );
      expect(accepted.data).toEqual({ media: { path: 'direct', reason: expect.any(String) as string } });
      await customer.waitFor('CALL_ESTABLISHED', 20_000, since.customer);
      await desk().hears(customerTone(2), 15_000);
      await customer.hears(deskTone('5000'), 15_000);

      expect(await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).toMatchObject({
        status: 200,
      });
      await customer.waitFor('CALL_CLOSED', 20_000, since.customer);
      await desk().waitFor('CALL_CLOSED', 20_000, since.desk);
      const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 20_000);
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
    },
    T,
  );

  it(
    '5000 transfers a plain-RTP customer to 5002, who accepts: the customer and 5002’s desk hear each other through four rtpengine sessions',
    async () => {
      const [source, target] = [await tabs.open('5000'), await tabs.open('5002')];
      await waitRegistered(env.gateway, '5002', true, 20_000);
      const customer = phone(labUsers.customer(3));
      const targetDesk = desk('5002');
      const since = targetDesk.events.length;
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await source.waitFor((e) => e.type === 'call.accepted', 20_000);
      await customer.hears(deskTone('5000'), 15_000);

      await transferTo5002(source, target, accepted.callId ?? '');
      await targetDesk.waitFor('CALL_ESTABLISHED', 20_000, since);
      await targetDesk.hears(customerTone(3), 15_000);
      await customer.hears(deskTone('5002'), 15_000);
      await customer.hangup();
      await targetDesk.waitFor('CALL_CLOSED', 20_000, since);
    },
    T,
  );

  it(
    '5000 transfers a plain-RTP customer to the ACD queue: the queue (a WebRTC bot) and the customer hear each other',
    async () => {
      const source = await tabs.open('5000');
      const customer = phone(labUsers.customer(1));
      const queue = env.lab.bot(labUsers.queue('1'));
      const since = customer.events.length;
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await source.waitFor((e) => e.type === 'call.accepted', 20_000);
      await customer.hears(deskTone('5000'), 15_000);

      const queued = queue.waitFor('answered', { timeoutMs: 30_000 });
      expect(await source.command('transfer.toQueue', { queueId: '1' })).toMatchObject({
        ok: true,
        callId: accepted.callId,
      });
      const leg = (await queued).call;
      await queue.hears({ call: leg, frequency: customerTone(1), timeoutMs: 15_000 });
      await customer.hears(labTone('queue', 0), 15_000);
      const ended = await source.waitFor((e) => e.type === 'call.ended', 20_000);
      expect(ended.data).toMatchObject({ cause: 'TRANSFERRED' });
      await queue.hangup(leg);
      await customer.waitFor('CALL_CLOSED', 20_000, since);
    },
    T,
  );
});

describe('direct media on the field PBX with WebRTC customers (JsSIP bots through rtpengine)', () => {
  let env: FieldGateway;
  const tabs = new AgentTabs(() => env.gateway.url);
  const desk = (ext: string): BaresipPhone => env.lab.phone(labUsers.ipPhone(ext)).phone;

  beforeAll(async () => {
    env = await startFieldGateway(
      { customers: 1, customerBots: true, ipPhones: DESKS },
      {
        agents: AGENTS,
        domain: { transport: 'wss', media: 'direct' },
      },
    );
    await waitRegistered(env.gateway, '5000', true, 20_000);
  }, T);
  afterEach(async () => {
    await tabs.closeAll();
    await settleLab(env);
  }, T);
  afterAll(async () => {
    await env.close();
  }, T);

  it(
    '5000 transfers a WebRTC customer to 5002, who accepts: the customer and 5002’s desk hear each other',
    async () => {
      const [source, target] = [await tabs.open('5000'), await tabs.open('5002')];
      await waitRegistered(env.gateway, '5002', true, 20_000);
      const customer = env.lab.bot(labUsers.customer(1));
      const targetDesk = desk('5002');
      const since = targetDesk.events.length;
      const leg = customer.call('5000');
      const accepted = await source.waitFor((e) => e.type === 'call.accepted', 20_000);
      await customer.hears({ call: leg, frequency: deskTone('5000'), timeoutMs: 15_000 });

      await transferTo5002(source, target, accepted.callId ?? '');
      await targetDesk.waitFor('CALL_ESTABLISHED', 20_000, since);
      await targetDesk.hears(labTone('customer', 0), 15_000);
      await customer.hears({ call: leg, frequency: deskTone('5002'), timeoutMs: 15_000 });
      await customer.hangup(leg);
      await targetDesk.waitFor('CALL_CLOSED', 20_000, since);
    },
    T,
  );

  it(
    'callout to a WebRTC customer: audio both ways; mute silences the agent for the customer, unmute brings it back',
    async () => {
      const tab = await tabs.open('5000');
      const customer = env.lab.bot(labUsers.customer(1));
      const answered = customer.waitFor('answered', { timeoutMs: 30_000 });
      const dialled = await tab.command('call.dial', { number: labUsers.customer(1) });
      expect(dialled).toMatchObject({ ok: true });
      const callId = (dialled as { callId: string }).callId;
      const leg = (await answered).call;
      const accepted = await tab.waitFor((e) => e.type === 'call.customerAccepted', 20_000);
      expect(accepted.data).toMatchObject({ media: { path: 'direct' } });
      await customer.hears({ call: leg, frequency: deskTone('5000'), timeoutMs: 15_000 });
      await desk('5000').hears(labTone('customer', 0), 15_000);
      expect(await tab.command('call.toggleMute', { callId })).toMatchObject({ ok: true, muted: true });
      await customer.hearsSilence({ call: leg, timeoutMs: 15_000 });
      expect(await tab.command('call.toggleMute', { callId })).toMatchObject({ ok: true, muted: false });
      await customer.hears({ call: leg, frequency: deskTone('5000'), timeoutMs: 15_000 });
      expect(await tab.command('call.hangup', { callId })).toMatchObject({ ok: true });
      await tab.waitFor((e) => e.type === 'call.ended', 20_000);
    },
    T,
  );
});
