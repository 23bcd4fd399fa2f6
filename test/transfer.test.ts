import type { AnyEventEnvelope } from '@callgate/contracts';
import type { SipCall } from '@callgate/sip';
import { labTone } from '../apps/lab/src/lab.js';
import { API_KEY, rest, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

/** Event types and data of one agent's events from `index` on, for transfer and call events. */
const story = (events: readonly AnyEventEnvelope[], from = 0): string[] =>
  events
    .slice(from)
    .filter((e) => e.type.startsWith('call.') || e.type.startsWith('transfer.'))
    .map((e) => e.type);

const DESK_5000 = labTone('ipPhone', 0);
const DESK_5001 = labTone('ipPhone', 1);
const QUEUE_1 = labTone('queue', 0);

describe.each(['bridge', 'direct'] as const)(
  'transfers between server-side agents through the lab PBX, %s media',
  (media) => {
    let env: LabGateway;
    let backend: Tab;
    const tabs = new AgentTabs(() => env.gateway.url);
    const open = (ipphone: string): Promise<Tab> => tabs.open(ipphone);
    const customer = (n: number) => env.lab.bot(`090100000${n}`);
    const desk = (ext: string) => env.lab.bot(`${ext}-desk`);

    /** Customer n calls 5000 (its desk answers); resolves with the customer's leg and 5000's call id. */
    const inboundCall = async (n: number, source: Tab): Promise<{ leg: SipCall; callId: string }> => {
      const before = source.events.length;
      const leg = customer(n).call('5000');
      await customer(n).hears({ call: leg, frequency: DESK_5000 });
      const accepted = await source.waitFor(
        (e) => e.type === 'call.accepted' && source.events.indexOf(e) >= before,
        5000,
        'call.accepted',
      );
      return { leg, callId: accepted.callId ?? '' };
    };

    beforeAll(async () => {
      env = await startLabGateway(
        { customers: 3, ipPhones: ['5000', '5001', '5002'], mobiles: ['0930000004'], queues: ['1'] },
        { media, gateway: { env: { RING_TIMEOUT_MS: '3000', TRANSFER_TIMEOUT_MS: '1500' } } },
      );
      backend = await Tab.open(
        env.gateway.url,
        { domain: 'demo', apiKey: API_KEY },
        { namespace: '/events' },
      );
      await waitRegistered(env.gateway, '5000');
    });
    afterEach(async () => {
      for (const bot of env.lab.bots) await bot.hangup();
      for (const bot of env.lab.bots) bot.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      await tabs.closeAll();
      // No call may leak into the next test.
      for (const ipphone of ['5000', '5001', '5002', '5004']) {
        await eventually(async () =>
          (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.call === null
            ? true
            : undefined,
        );
      }
    });
    afterAll(async () => {
      backend.close();
      await env.close();
    });

    it('5000 transfers an inbound customer to 5001, who accepts: the customer hears 5001’s desk, 5000’s call ends TRANSFERRED', async () => {
      const [source, target] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const fromBackend = backend.events.length;
      const { leg, callId } = await inboundCall(1, source);

      const asked = await source.command('transfer.toAgent', { ipphone: '5001' });
      expect(asked).toEqual({ ok: true, callId, transferId: expect.any(String) as string });
      const transferId = asked.ok ? asked.transferId : '';
      const request = await target.waitFor((e) => e.type === 'transfer.request');
      expect(request.data).toEqual({
        transferId,
        customerCallId: callId,
        from: '5000',
        to: '5001',
        callId,
        phone: '0901000001',
        dropAgentId: '5000',
        expiresAt: expect.any(String) as string,
      });
      const targetDesk = desk('5001').waitFor('answered');
      expect(await target.command('transfer.respond', { accept: true })).toEqual({
        ok: true,
        callId,
        transferId,
      });

      await customer(1).hears({ call: leg, frequency: DESK_5001 });
      await desk('5001').hears({ call: (await targetDesk).call, frequency: labTone('customer', 0) });
      const ended = await source.waitFor((e) => e.type === 'call.ended');
      expect(ended).toMatchObject({ callId, data: { cause: 'TRANSFERRED', by: 'agent' } });
      const succeeded = await source.waitFor((e) => e.type === 'transfer.succeeded');
      expect(succeeded.data).toMatchObject({
        transferId,
        customerCallId: callId,
        callId,
        agent: { ipphone: '5001', name: 'Agent 5001' },
      });
      expect(story(source.events)).toEqual([
        'call.ringing',
        'call.accepted',
        'transfer.response',
        'call.ended',
        'transfer.succeeded',
      ]);
      const ringing = await target.waitFor((e) => e.type === 'call.ringing');
      expect(ringing.data).toEqual({
        phone: '0901000001',
        customerCallId: callId,
        transferId,
        transferredFrom: '5000',
      });
      expect(ringing.callId).not.toBe(callId);
      await target.waitFor((e) => e.type === 'call.accepted');
      expect(story(target.events)).toEqual([
        'transfer.request',
        'transfer.response',
        'call.ringing',
        'call.accepted',
      ]);
      // The source is free again: a new customer reaches its desk while the first one talks to 5001.
      const second = customer(2).call('5000');
      await customer(2).hears({ call: second, frequency: DESK_5000 });
      await customer(2).hangup(second);

      // The customer hangs up: 5001's call ends, the relay closes.
      await customer(1).hangup(leg);
      const targetEnded = await target.waitFor((e) => e.type === 'call.ended');
      expect(targetEnded.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
      // /events follows the customer by one id across both agents (each agent's events in order).
      const followed = (ipphone: string): string[] =>
        backend.events
          .slice(fromBackend)
          .filter(
            (e) =>
              e.ipphone === ipphone &&
              (e.callId === callId ||
                e.callId === ringing.callId ||
                (e.type.startsWith('transfer.') &&
                  'customerCallId' in e.data &&
                  e.data.customerCallId === callId)),
          )
          .map((e) => e.type);
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === ringing.callId);
      expect(followed('5000')).toEqual([
        'call.ringing',
        'call.accepted',
        'transfer.response',
        'call.ended',
        'transfer.succeeded',
      ]);
      expect(followed('5001')).toEqual(['transfer.request', 'call.ringing', 'call.accepted', 'call.ended']);
    });

    it('the target refuses: the source hears transfer.response NOK and transfer.failed REJECTED, the customer stays with 5000', async () => {
      const [source, target] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const { leg, callId } = await inboundCall(1, source);
      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({ ok: true });
      await target.waitFor((e) => e.type === 'transfer.request');
      expect(await target.command('transfer.respond', { accept: false })).toMatchObject({ ok: true, callId });
      const failed = await source.nth('transfer.failed', 1);
      expect(failed.data).toMatchObject({
        error: 'TRANSFER_CALL_FAILED',
        reason: 'REJECTED',
        agent: { ipphone: '5001' },
      });
      expect((await source.waitFor((e) => e.type === 'transfer.response')).data).toMatchObject({
        status: 'NOK',
      });
      // the target's tabs learn it too (to close their request), without /events duplicates
      await target.waitFor((e) => e.type === 'transfer.failed');
      expect(
        backend.of('transfer.failed').filter((e) => e.data.transferId === failed.data.transferId),
      ).toHaveLength(1);
      await customer(1).hears({ call: leg, frequency: DESK_5000 });
      expect(source.of('call.ended')).toHaveLength(0);
      // a second answer finds nothing to answer
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
      });
    });

    it('the target does not answer within TRANSFER_TIMEOUT_MS: transfer.failed TIMEOUT, the customer stays with 5000', async () => {
      const [source, target] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const { leg } = await inboundCall(1, source);
      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({ ok: true });
      await target.waitFor((e) => e.type === 'transfer.request');
      // one transfer per call at a time
      expect(await source.command('transfer.toQueue', { queueId: '1' })).toMatchObject({
        ok: false,
        code: 'TRANSFER_CALL_FAILED',
      });
      expect((await source.nth('transfer.failed', 1)).data).toMatchObject({ reason: 'ALREADY_TRANSFERRING' });
      const failed = await source.nth('transfer.failed', 2, 5000);
      expect(failed.data).toMatchObject({ error: 'TRANSFER_CALL_FAILED', reason: 'TIMEOUT' });
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
      });
      await customer(1).hears({ call: leg, frequency: DESK_5000 });
      expect(source.of('call.ended')).toHaveLength(0);
    });

    it('a busy target and an offline target are refused at once with transfer.failed and the target’s info', async () => {
      const [source, busy] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const other = customer(2).call('5001');
      await customer(2).hears({ call: other, frequency: DESK_5001 });
      await busy.waitFor((e) => e.type === 'call.accepted');
      const { leg } = await inboundCall(1, source);

      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({
        ok: false,
        code: 'TRANSFER_CALL_FAILED',
      });
      expect((await source.nth('transfer.failed', 1)).data).toMatchObject({
        error: 'TRANSFER_CALL_FAILED',
        reason: 'TARGET_BUSY',
        agent: { ipphone: '5001', online: true },
      });
      // 5002 has no tab: nobody could consent
      expect(await source.command('transfer.toAgent', { ipphone: '5002' })).toMatchObject({
        ok: false,
        code: 'TRANSFER_CALL_FAILED',
      });
      expect((await source.nth('transfer.failed', 2)).data).toMatchObject({
        reason: 'TARGET_OFFLINE',
        agent: { ipphone: '5002', online: false },
      });
      expect(await source.command('transfer.toAgent', { ipphone: '5000' })).toMatchObject({ ok: false });
      expect((await source.nth('transfer.failed', 3)).data).toMatchObject({ reason: 'TARGET_IS_SOURCE' });
      expect(await source.command('transfer.toAgent', { ipphone: '5999' })).toMatchObject({ ok: false });
      expect((await source.nth('transfer.failed', 4)).data).toMatchObject({ reason: 'TARGET_UNKNOWN' });
      expect(busy.of('transfer.request')).toHaveLength(0);
      await customer(1).hears({ call: leg, frequency: DESK_5000 });
    });

    it('transfer commands outside a call, without a target or for another call answer their 3C codes', async () => {
      const source = await open('5000');
      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({
        ok: false,
        code: 'NOT_IN_A_CALL',
      });
      expect(await source.command('transfer.toQueue', { queueId: '1' })).toMatchObject({
        ok: false,
        code: 'NOT_IN_A_CALL',
      });
      expect(await source.raw('transfer.toAgent', {})).toMatchObject({
        ok: false,
        code: 'NOT_CHOOSE_TYPE_TRANSFER',
      });
      expect(await source.raw('transfer.toQueue', { queueId: '' })).toMatchObject({
        ok: false,
        code: 'NOT_CHOOSE_TYPE_TRANSFER',
      });
      expect(await source.command('transfer.respond', { accept: true })).toMatchObject({
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
      });
      await inboundCall(1, source);
      expect(
        await source.command('transfer.toAgent', { ipphone: '5001', callId: 'not-this-call' }),
      ).toMatchObject({
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
      });
      expect(source.of('transfer.failed')).toHaveLength(0);
    });

    it('queue transfer: the queue bot receives the customer and each hears the other; an unknown queue is refused', async () => {
      const source = await open('5000');
      const { leg, callId } = await inboundCall(1, source);
      expect(await source.command('transfer.toQueue', { queueId: '9' })).toMatchObject({
        ok: false,
        code: 'TRANSFER_CALL_FAILED',
      });
      expect((await source.waitFor((e) => e.type === 'transfer.failed')).data).toMatchObject({
        error: 'TRANSFER_CALL_FAILED',
        reason: 'UNKNOWN_QUEUE',
        queueId: '9',
      });
      await customer(1).hears({ call: leg, frequency: DESK_5000 });

      const queued = env.lab.bot('queue1').waitFor('answered');
      const moved = await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/transfer/queue`, {
        queueId: '1',
      });
      expect(moved).toEqual({
        status: 200,
        body: { ok: true, callId, transferId: expect.any(String) as string },
      });
      await customer(1).hears({ call: leg, frequency: QUEUE_1 });
      const queueLeg = (await queued).call;
      expect(queueLeg.remote.user).toBe('0901000001');
      await env.lab.bot('queue1').hears({ call: queueLeg, frequency: labTone('customer', 0) });
      expect((await source.waitFor((e) => e.type === 'transfer.succeeded')).data).toMatchObject({
        queueId: '1',
        to: 'queue:1',
        customerCallId: callId,
      });
      expect((await source.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
        cause: 'TRANSFERRED',
      });
      await env.lab.bot('queue1').hangup(queueLeg);
      expect((await leg.terminated).by).toBe('remote');
    });

    it('a callout, on hold, is transferred over REST: the customer comes off hold and hears 5001’s desk', async () => {
      const [source, target] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const answered = customer(3).waitFor('answered');
      const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls', { number: '0901000003' });
      const callId = dialled.body.callId as string;
      const leg = (await answered).call;
      await customer(3).hears({ call: leg, frequency: DESK_5000 });
      await source.waitFor((e) => e.type === 'call.customerAccepted');
      expect(await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hold`)).toMatchObject({
        body: { held: true },
      });
      await customer(3).hearsSilence({ call: leg });

      const asked = await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/transfer/agent`, {
        ipphone: '5001',
      });
      expect(asked.status).toBe(200);
      const request = await target.waitFor((e) => e.type === 'transfer.request');
      expect(request.data).toMatchObject({ phone: '0901000003', callId });
      expect(
        await rest(env.gateway, 'POST', '/v1/demo/agents/5001/transfer/respond', {
          accept: true,
          transferId: asked.body.transferId,
        }),
      ).toEqual({ status: 200, body: { ok: true, callId, transferId: asked.body.transferId } });
      await customer(3).hears({ call: leg, frequency: DESK_5001 });
      expect(leg.onHold.remote).toBe(false);
      expect((await source.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
        cause: 'TRANSFERRED',
      });
      expect((await target.waitFor((e) => e.type === 'call.ringing')).data).toMatchObject({
        phone: '0901000003',
        customerCallId: callId,
      });
    });

    it('the target’s desk refuses after its agent accepted: TRANSFER_CALL_FAILED, the customer hears 5000 again', async () => {
      const [source, target] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const { leg } = await inboundCall(1, source);
      desk('5001').setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({ ok: true });
      await target.waitFor((e) => e.type === 'transfer.request');
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });
      const failed = await source.waitFor((e) => e.type === 'transfer.failed', 8000);
      expect(failed.data).toMatchObject({
        error: 'TRANSFER_CALL_FAILED',
        reason: 'SIP_FAILED',
        sipCode: 486,
      });
      await customer(1).hears({ call: leg, frequency: DESK_5000 });
      expect(source.of('call.ended')).toHaveLength(0);
      // the source may try again once the first attempt is over
      desk('5001').setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      await target.waitFor((e) => e.type === 'call.ended');
      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({ ok: true });
      await target.nth('transfer.request', 2);
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });
      await customer(1).hears({ call: leg, frequency: DESK_5001 });
    });

    it('the customer hangs up while the target thinks: the request is withdrawn (NOT_IN_A_CALL, CALL_ENDED)', async () => {
      const [source, target] = [await open('5000'), await open('5001')];
      await waitRegistered(env.gateway, '5001');
      const { leg } = await inboundCall(1, source);
      expect(await source.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({ ok: true });
      await target.waitFor((e) => e.type === 'transfer.request');
      await customer(1).hangup(leg);
      expect((await target.waitFor((e) => e.type === 'transfer.failed')).data).toMatchObject({
        error: 'NOT_IN_A_CALL',
        reason: 'CALL_ENDED',
      });
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
      });
    });

    it('mode 3 to mode 4: 5004’s customer (on its mobile) is handed to 5002’s always-registered desk phone', async () => {
      const [source, target] = [await open('5004'), await open('5002')];
      await waitRegistered(env.gateway, '5004');
      await waitRegistered(env.gateway, '5002');
      const leg = customer(2).call('5004');
      await customer(2).hears({ call: leg, frequency: labTone('mobile', 0) });
      const accepted = await source.waitFor((e) => e.type === 'call.accepted');
      expect(await source.command('transfer.toAgent', { ipphone: '5002' })).toMatchObject({ ok: true });
      await target.waitFor((e) => e.type === 'transfer.request');
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });
      await customer(2).hears({ call: leg, frequency: labTone('ipPhone', 2) });
      expect((await source.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
        cause: 'TRANSFERRED',
      });
      expect((await target.waitFor((e) => e.type === 'call.ringing')).data).toMatchObject({
        phone: '0901000002',
        customerCallId: accepted.callId,
        transferredFrom: '5004',
      });
      // the mobile leg was hung up; the customer and 5002 go on
      await eventually(() => (env.lab.bot('90930000004').calls.length === 0 ? true : undefined));
      await desk('5002').hears({ frequency: labTone('customer', 1) });
    });

    it('a second hop keeps the customer call id: 5000 → 5001 → 5002, the customer hears 5002’s desk', async () => {
      const [first, second, third] = [await open('5000'), await open('5001'), await open('5002')];
      await waitRegistered(env.gateway, '5001');
      await waitRegistered(env.gateway, '5002');
      const { leg, callId } = await inboundCall(1, first);
      expect(await first.command('transfer.toAgent', { ipphone: '5001' })).toMatchObject({ ok: true });
      await second.waitFor((e) => e.type === 'transfer.request');
      await second.command('transfer.respond', { accept: true });
      await customer(1).hears({ call: leg, frequency: DESK_5001 });
      const secondCall = await second.waitFor((e) => e.type === 'call.accepted');

      expect(await second.command('transfer.toAgent', { ipphone: '5002' })).toMatchObject({
        ok: true,
        callId: secondCall.callId,
      });
      const request = await third.waitFor((e) => e.type === 'transfer.request');
      expect(request.data).toMatchObject({
        customerCallId: callId,
        dropAgentId: '5001',
        phone: '0901000001',
      });
      await third.command('transfer.respond', { accept: true });
      await customer(1).hears({ call: leg, frequency: labTone('ipPhone', 2) });
      expect((await third.waitFor((e) => e.type === 'call.ringing')).data).toMatchObject({
        phone: '0901000001',
        customerCallId: callId,
        transferredFrom: '5001',
      });
      expect((await second.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
        cause: 'TRANSFERRED',
      });
      expect((await second.waitFor((e) => e.type === 'transfer.succeeded')).data).toMatchObject({
        customerCallId: callId,
        agent: { ipphone: '5002' },
      });
      await customer(1).hangup(leg);
      await third.waitFor((e) => e.type === 'call.ended');
    });
  },
);
