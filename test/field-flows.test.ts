/**
 * The main server-side call flows on the field PBX (digest auth, rtpengine, wss:// with the lab CA):
 * inbound and callout in modes 2, 3 and 4 (one parametrised flow), transfer to an agent and to the
 * ACD queue, with baresip desk phones, baresip mobiles and plain-RTP customers on the trunk; audio is
 * checked both ways on every call. Last: rtpengine stopped during a call. Waits are on events, bounded.
 */
import type { AnyEventEnvelope } from '@callgate/contracts';
import type { BaresipPhone } from '../apps/lab/src/baresip.js';
import { labTone, labUsers } from '../apps/lab/src/lab.js';
import { startFieldGateway, type FieldGateway } from './support/field-gateway.js';
import { API_KEY, rest, waitRegistered, type LabAgent } from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const T = 120_000;

/** 5000 and 5002 on desk phones always (4), 5001 on its desk phone while logged in (2), 5004 on its mobile (3). */
const AGENTS: readonly LabAgent[] = [
  { ext: '5000', device: 4 },
  { ext: '5001', device: 2 },
  { ext: '5002', device: 4 },
  { ext: '5004', device: 3 },
];
const DESKS = ['5000', '5001', '5002'];
const MOBILE_5004 = '0930000004';

/** One server-side device per mode: who the agent is, which lab phone rings, and the tone it plays. */
const MODES = [
  { mode: 2, ext: '5001', device: labUsers.ipPhone('5001'), tone: labTone('ipPhone', 1), tab: true },
  { mode: 3, ext: '5004', device: labUsers.mobile('9', MOBILE_5004), tone: labTone('mobile', 0), tab: false },
  { mode: 4, ext: '5002', device: labUsers.ipPhone('5002'), tone: labTone('ipPhone', 2), tab: false },
] as const;

describe('main flows on the field PBX (modes 2, 3, 4, transfers; baresip phones and plain-RTP customers)', () => {
  let env: FieldGateway;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const phone = (user: string): BaresipPhone => env.lab.phone(user).phone;
  const customerTone = (n: number): number => labTone('customer', n - 1);
  const callOf = async (ipphone: string): Promise<unknown> =>
    (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.call;
  const eventsOf = (callId: string): string[] =>
    backend.events.filter((e) => e.callId === callId).map((e) => e.type);
  const next = (from: number, match: (e: AnyEventEnvelope) => boolean, what: string) =>
    backend.waitFor((e) => backend.events.indexOf(e) >= from && match(e), 20_000, what);

  beforeAll(async () => {
    env = await startFieldGateway(
      { customers: 3, ipPhones: DESKS, mobiles: [MOBILE_5004], queues: ['1'] },
      {
        agents: AGENTS,
        // bridged: these flows check baresip's ears after mute and transfers, and baresip 1.0 stops
        // recording after a re-INVITE that changes the direction (what direct media sends); the
        // field PBX in direct mode is test/direct-media-field.test.ts
        domain: { transport: 'wss', media: 'bridge' },
        gateway: { env: { RING_TIMEOUT_MS: '10000', TRANSFER_TIMEOUT_MS: '10000' } },
      },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  }, T);
  afterEach(async () => {
    await tabs.closeAll();
    // A failed test may leave a phone in a call: hang every lab phone up (no call: baresip says so).
    for (const { phone: p } of env.lab.phones) await p.hangup().catch(() => undefined);
    // No call may leak into the next test.
    for (const { ext } of AGENTS) {
      await eventually(async () => ((await callOf(ext)) === null ? true : undefined), 20_000, `${ext} idle`);
    }
  }, T);
  afterAll(async () => {
    backend.close();
    await env.close();
  }, T);

  /** Opens a tab when the mode needs one (2), and waits for the gateway's registration of the agent. */
  const ready = async (ext: string, withTab: boolean): Promise<void> => {
    if (withTab) await tabs.open(ext);
    await waitRegistered(env.gateway, ext, true, 20_000);
  };

  it.each(MODES)(
    'mode $mode inbound: a plain-RTP customer calls $ext, $device answers, audio both ways; the customer hangs up',
    async ({ ext, device, tone, tab }) => {
      await ready(ext, tab);
      const customer = phone(labUsers.customer(1));
      const desk = phone(device);
      const since = {
        customer: customer.events.length,
        desk: desk.events.length,
        backend: backend.events.length,
      };
      await customer.dial(`sip:${ext}@${env.lab.pbx.sipDomain}`);
      const ringing = await next(
        since.backend,
        (e) => e.type === 'call.ringing' && e.ipphone === ext,
        'ringing',
      );
      expect(ringing.data).toMatchObject({ phone: labUsers.customer(1) });
      const callId = ringing.callId ?? '';
      await next(since.backend, (e) => e.type === 'call.accepted' && e.callId === callId, 'accepted');
      await desk.waitFor('CALL_ESTABLISHED', 20_000, since.desk);
      await desk.hears(customerTone(1), 15_000);
      await customer.hears(tone, 15_000);
      await customer.hangup();
      const ended = await next(since.backend, (e) => e.type === 'call.ended' && e.callId === callId, 'ended');
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
      await desk.waitFor('CALL_CLOSED', 20_000, since.desk);
      expect(eventsOf(callId)).toEqual(['call.ringing', 'call.accepted', 'call.ended']);
    },
    T,
  );

  it.each(MODES)(
    'mode $mode callout: $device answers first, then the plain-RTP customer; audio both ways, mute and DTMF; the agent hangs up',
    async ({ ext, device, tone, tab }) => {
      await ready(ext, tab);
      const customer = phone(labUsers.customer(2));
      const desk = phone(device);
      const since = { customer: customer.events.length, desk: desk.events.length };
      const dialled = await rest(env.gateway, 'POST', `/v1/demo/agents/${ext}/calls`, {
        number: labUsers.customer(2),
      });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      await backend.waitFor((e) => e.type === 'call.customerAccepted' && e.callId === callId, 30_000);
      await customer.waitFor('CALL_ESTABLISHED', 20_000, since.customer);
      await customer.hears(tone, 15_000);
      await desk.hears(customerTone(2), 15_000);

      const path = `/v1/demo/agents/${ext}/calls/${callId}`;
      expect(await rest(env.gateway, 'POST', `${path}/mute`)).toMatchObject({
        status: 200,
        body: { muted: true },
      });
      await customer.hearsSilence(20_000);
      await desk.hears(customerTone(2), 20_000); // the agent still hears the customer
      expect(await rest(env.gateway, 'POST', `${path}/mute`)).toMatchObject({
        status: 200,
        body: { muted: false },
      });
      await customer.hears(tone, 20_000);
      expect(await rest(env.gateway, 'POST', `${path}/dtmf`, { digits: '7*' })).toMatchObject({
        status: 200,
      });
      const digits = await eventually(
        () => {
          const got = customer.events.slice(since.customer).filter((e) => e.type === 'CALL_DTMF_START');
          return got.length >= 2 ? got.map((e) => e.param).join('') : undefined;
        },
        20_000,
        'the customer received DTMF',
      );
      expect(digits).toBe('7*');

      expect(await rest(env.gateway, 'POST', `${path}/hangup`)).toMatchObject({ status: 200 });
      await customer.waitFor('CALL_CLOSED', 20_000, since.customer);
      await desk.waitFor('CALL_CLOSED', 20_000, since.desk);
      const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 20_000);
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
      // A baresip customer set to answer at once may send its 200 without a 180 first (legal SIP):
      // then there is no callout.customerRinging; when there is one, it comes in its place.
      const sequence = eventsOf(callId);
      expect(sequence.filter((type) => type === 'callout.customerRinging').length).toBeLessThanOrEqual(1);
      expect(sequence.filter((type) => type !== 'callout.customerRinging')).toEqual([
        'callout.started',
        'call.agentRinging',
        'call.customerAccepted',
        'call.muted',
        'call.unmuted',
        'call.ended',
      ]);
      if (sequence.includes('callout.customerRinging'))
        expect(sequence.indexOf('callout.customerRinging')).toBe(sequence.indexOf('call.agentRinging') + 1);
    },
    T,
  );

  it(
    '5000 transfers a plain-RTP customer to 5002, who accepts: the customer hears 5002’s baresip desk and it hears the customer',
    async () => {
      const [source, target] = [await tabs.open('5000'), await tabs.open('5002')];
      await waitRegistered(env.gateway, '5000', true, 20_000);
      await waitRegistered(env.gateway, '5002', true, 20_000);
      const customer = phone(labUsers.customer(1));
      const targetDesk = phone(labUsers.ipPhone('5002'));
      const since = { customer: customer.events.length, target: targetDesk.events.length };
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await source.waitFor((e) => e.type === 'call.accepted', 20_000);
      const callId = accepted.callId ?? '';
      await customer.hears(labTone('ipPhone', 0), 15_000);

      const asked = await source.command('transfer.toAgent', { ipphone: '5002' });
      expect(asked).toMatchObject({ ok: true, callId });
      await target.waitFor((e) => e.type === 'transfer.request', 20_000);
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });

      await targetDesk.waitFor('CALL_ESTABLISHED', 20_000, since.target);
      await customer.hears(labTone('ipPhone', 2), 15_000);
      await targetDesk.hears(customerTone(1), 15_000);
      expect((await source.waitFor((e) => e.type === 'call.ended', 20_000)).data).toMatchObject({
        cause: 'TRANSFERRED',
      });
      await source.waitFor((e) => e.type === 'transfer.succeeded', 20_000);
      const targetCall = await target.waitFor((e) => e.type === 'call.accepted', 20_000);

      await customer.hangup();
      await target.waitFor((e) => e.type === 'call.ended' && e.callId === targetCall.callId, 20_000);
      await targetDesk.waitFor('CALL_CLOSED', 20_000, since.target);
    },
    T,
  );

  it(
    '5000 transfers a plain-RTP customer to the ACD queue: the queue (a WebRTC bot with a password) and the customer hear each other',
    async () => {
      await waitRegistered(env.gateway, '5000', true, 20_000);
      const source = await tabs.open('5000');
      const customer = phone(labUsers.customer(3));
      const queue = env.lab.bot(labUsers.queue('1'));
      const since = customer.events.length;
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await source.waitFor((e) => e.type === 'call.accepted', 20_000);
      const callId = accepted.callId ?? '';
      await customer.hears(labTone('ipPhone', 0), 15_000);

      const queued = queue.waitFor('answered', { timeoutMs: 30_000 });
      const moved = await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/transfer/queue`, {
        queueId: '1',
      });
      expect(moved).toMatchObject({ status: 200, body: { ok: true, callId } });
      const queueLeg = (await queued).call;
      expect(queueLeg.remote.user).toBe(labUsers.customer(3));
      await customer.hears(labTone('queue', 0), 15_000);
      await queue.hears({ call: queueLeg, frequency: customerTone(3), timeoutMs: 15_000 });
      expect((await source.waitFor((e) => e.type === 'transfer.succeeded', 20_000)).data).toMatchObject({
        queueId: '1',
        customerCallId: callId,
      });
      expect((await source.waitFor((e) => e.type === 'call.ended', 20_000)).data).toMatchObject({
        cause: 'TRANSFERRED',
      });
      await queue.hangup(queueLeg);
      await customer.waitFor('CALL_CLOSED', 20_000, since);
    },
    T,
  );
});
