import { labTone } from '../apps/lab/src/lab.js';
import {
  API_KEY,
  LAB_HOTLINES,
  rest,
  startLabGateway,
  waitRegistered,
  type LabGateway,
} from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

/** The 3C ringback the agent hears while the customer's phone rings. */
const RINGBACK_HZ = 425;

describe.each(['bridge', 'direct'] as const)(
  'callout and in-call control through the lab PBX, %s media',
  (media) => {
    let env: LabGateway;
    let backend: Tab;
    const tabs = new AgentTabs(() => env.gateway.url);
    const open = (ipphone: string): Promise<Tab> => tabs.open(ipphone);
    const customer = (n: number) => env.lab.bot(`090100000${n}`);
    const phone = () => env.lab.bot('5000-desk');

    beforeAll(async () => {
      env = await startLabGateway(
        { customers: 3, ipPhones: ['5000', '5002'] },
        { media, gateway: { env: { RING_TIMEOUT_MS: '3000' } } },
      );
      backend = await Tab.open(
        env.gateway.url,
        { domain: 'demo', apiKey: API_KEY },
        { namespace: '/events' },
      );
      await waitRegistered(env.gateway, '5000');
    });
    afterEach(async () => {
      await tabs.closeAll();
      for (const bot of [customer(1), customer(2), customer(3), phone()]) {
        bot.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      }
      // No call may leak into the next test.
      await eventually(async () =>
        (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.call === null ? true : undefined,
      );
    });
    afterAll(async () => {
      backend.close();
      await env.close();
    });

    it('a REST callout rings the device first, plays ringback (bridge) or the customer’s early media (direct; the lab’s customers send none: silence), then connects the customer both ways', async () => {
      const tab = await open('5000');
      customer(1).setBehaviour({ incoming: { action: 'answer', afterMs: 1500 } });
      const deviceAnswered = phone().waitFor('answered');
      const customerAnswered = customer(1).waitFor('answered');
      const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls', {
        number: '0901000001',
        transactionId: 'crm-42',
      });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      const deviceLeg = (await deviceAnswered).call;
      // direct media: what the agent hears while the customer rings is the customer's early media
      if (media === 'bridge') await phone().hears({ call: deviceLeg, frequency: RINGBACK_HZ });
      else await phone().hearsSilence({ call: deviceLeg });
      const customerLeg = (await customerAnswered).call;
      await phone().hears({ call: deviceLeg, frequency: labTone('customer', 0) });
      await customer(1).hears({ call: customerLeg, frequency: labTone('ipPhone', 0) });
      const accepted = await tab.waitFor((e) => e.type === 'call.customerAccepted');
      expect(accepted.data).toEqual({ media: { path: media, reason: expect.any(String) as string } });

      const state = await rest(env.gateway, 'GET', '/v1/demo/agents/5000/call');
      expect(state.body).toMatchObject({
        callId,
        direction: 'outbound',
        phone: '0901000001',
        state: 'active',
        transactionId: 'crm-42',
      });
      expect(await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).toEqual({
        status: 200,
        body: { ok: true, callId },
      });
      const ended = await tab.waitFor((e) => e.type === 'call.ended');
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
      expect(tab.events.filter((e) => e.callId === callId).map((e) => e.type)).toEqual([
        'callout.started',
        'call.agentRinging',
        'callout.customerRinging',
        'call.customerAccepted',
        'call.ended',
      ]);
      expect(tab.of('callout.customerRinging')[0]?.data).toEqual({
        number: '0901000001',
        transactionId: 'crm-42',
      });
      expect(tab.events.filter((e) => e.callId === callId).every((e) => e.transactionId === 'crm-42')).toBe(
        true,
      );
      expect(tab.of('callout.started')[0]?.data).toEqual({ number: '0901000001', transactionId: 'crm-42' });
    });

    it("callout services: the customer sees the chosen service's number, the default one without serviceId; an unknown id is refused", async () => {
      const tab = await open('5000');
      const callerSeen = async (payload: {
        number: string;
        serviceId?: string;
      }): Promise<string | undefined> => {
        const answered = customer(1).waitFor('answered');
        const ack = await tab.command('call.dial', payload);
        expect(ack).toMatchObject({ ok: true });
        const { call } = await answered;
        const header = call.requestHeader('P-Asserted-Identity');
        const callId = (ack as { callId: string }).callId;
        expect((await tab.command('call.hangup', { callId })).ok).toBe(true);
        await tab.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
        return header;
      };
      expect(await callerSeen({ number: '0901000001', serviceId: 'cskh' })).toContain(
        `sip:${LAB_HOTLINES.care}@`,
      );
      expect(await callerSeen({ number: '0901000001' })).toContain(`sip:${LAB_HOTLINES.sales}@`);

      const started = tab.of('callout.started').length;
      expect(await tab.command('call.dial', { number: '0901000001', serviceId: 'nope' })).toMatchObject({
        ok: false,
        code: 'UNKNOWN_CALLOUT_SERVICE',
      });
      expect(await tab.command('call.dial', { number: '0901000001', serviceId: 'x y;@' })).toMatchObject({
        ok: false,
        code: 'UNKNOWN_CALLOUT_SERVICE',
      });
      const refused = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls', {
        number: '0901000001',
        serviceId: 'nope',
      });
      expect(refused).toMatchObject({ status: 404, body: { code: 'UNKNOWN_CALLOUT_SERVICE' } });
      expect(tab.of('callout.started')).toHaveLength(started);
      // the services are in the snapshot, as csVoice.getCalloutServices() lists them
      expect(tab.of('session.ready')[0]?.data.calloutServices).toEqual([
        { callout_id: '1', descriptions: 'Sales hotline', is_default: true },
        { callout_id: 'cskh', descriptions: 'Customer care', is_default: false },
      ]);
    });

    it.each([486, 480, 408, 403, 487, 603])(
      'a customer rejecting with %i gives callout.failed IPCC_NOT_CONNECT_CUSTOMER with that sipCode',
      async (code) => {
        const tab = await open('5000');
        customer(2).setBehaviour({ incoming: { action: 'reject', statusCode: code as 486 } });
        const ack = await tab.command('call.dial', { number: '0901000002' });
        expect(ack).toMatchObject({ ok: true });
        const failed = await tab.waitFor((e) => e.type === 'callout.failed', 8000);
        expect(failed.data).toEqual({ errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: code });
        await tab.waitFor((e) => e.type === 'call.ended');
      },
    );

    it('a number nobody registered gives IPCC_NOT_CONNECT_CUSTOMER with 404 (answered by the PBX)', async () => {
      const tab = await open('5000');
      await tab.command('call.dial', { number: '0909999999' });
      expect((await tab.waitFor((e) => e.type === 'callout.failed', 8000)).data).toEqual({
        errorCode: 'IPCC_NOT_CONNECT_CUSTOMER',
        sipCode: 404,
      });
    });

    it('a device that does not answer gives IPCC_NOT_CONNECT_AGENT_ID and the customer is never called', async () => {
      const tab = await open('5000');
      phone().setBehaviour({ incoming: { action: 'reject', statusCode: 480 } });
      const before = customer(3).history.length;
      await tab.command('call.dial', { number: '0901000003' });
      expect((await tab.waitFor((e) => e.type === 'callout.failed', 8000)).data).toEqual({
        errorCode: 'IPCC_NOT_CONNECT_AGENT_ID',
      });
      expect(tab.of('call.agentRinging')).toHaveLength(1);
      expect(customer(3).history.length).toBe(before);
    });

    it('the desk phone rings once per callout once it is known: a WebRTC desk refuses the plain-RTP placeholder (direct, no relay) on its first callout only', async () => {
      const tab = await open('5000');
      /** a callout answered and hung up; the INVITEs the desk phone got, with how each ended */
      const callOut = async (): Promise<{ invites: (number | undefined)[]; reason: string }> => {
        const mark = phone().history.length;
        const dialled = await tab.command('call.dial', { number: '0901000002' });
        if (!dialled.ok) throw new Error(`call.dial refused: ${dialled.code}`);
        const ofCall = (type: string) => (e: { type: string; callId?: string }) =>
          e.type === type && e.callId === dialled.callId;
        const accepted = await tab.waitFor(ofCall('call.customerAccepted'), 10_000);
        expect((await tab.command('call.hangup', {})).ok).toBe(true);
        await tab.waitFor(ofCall('call.ended'), 10_000);
        // every leg the desk phone took is over, the answered one last
        const legs = await eventually(() => {
          const ended = phone().history.slice(mark);
          return ended.some((r) => r.end.established) ? ended : undefined;
        });
        return {
          invites: legs.filter((r) => r.direction === 'incoming').map((r) => r.end.statusCode),
          reason: (accepted.data as { media: { reason: string } }).media.reason,
        };
      };
      // the first may have been rung twice (in this file the first callout was another test's)
      await callOut();
      const second = await callOut();
      expect(second.invites).toHaveLength(1);
      expect(second.reason).toBe(
        media === 'bridge'
          ? 'pbx.media is bridge'
          : 'direct media: the device and the customer exchange RTP themselves',
      );
    });

    it('a second callout while in a call is CALLOUT_AGENT_BUSY; an agent without permission gets CALLOUT_PERMISSION_DENY', async () => {
      const tab = await open('5000');
      await tab.command('call.dial', { number: '0901000001' });
      await tab.waitFor((e) => e.type === 'call.customerAccepted', 8000);
      expect(await tab.command('call.dial', { number: '0901000002' })).toMatchObject({
        ok: false,
        code: 'CALLOUT_AGENT_BUSY',
      });
      expect(
        await rest(env.gateway, 'POST', '/v1/demo/agents/5002/calls', { number: '0901000002' }),
      ).toMatchObject({
        status: 403,
        body: { code: 'CALLOUT_PERMISSION_DENY' },
      });
      await tab.command('call.hangup', {});
      await tab.waitFor((e) => e.type === 'call.ended');
    });

    it.each(['123@evil.example', '123;transport=tcp', '1 2', '<sip:x>'])(
      'the number %j is refused before anything is sent',
      async (number) => {
        const tab = await open('5000');
        const calls = phone().history.length;
        expect(await tab.command('call.dial', { number })).toMatchObject({
          ok: false,
          code: 'INVALID_NUMBER',
        });
        expect(tab.of('callout.started')).toHaveLength(0);
        expect(phone().history.length).toBe(calls);
      },
    );

    it('hold gives the customer silence and unhold the agent’s tone again, twice, on an inbound call', async () => {
      const tab = await open('5000');
      const call = customer(1).call('5000');
      await customer(1).hears({ call, frequency: labTone('ipPhone', 0) });
      for (let round = 1; round <= 2; round++) {
        expect(await tab.command('call.toggleHold', {})).toMatchObject({ ok: true, held: true });
        await tab.nth('call.held', round);
        await customer(1).hearsSilence({ call });
        expect(await tab.command('call.toggleHold', {})).toMatchObject({ ok: true, held: false });
        await tab.nth('call.unheld', round);
        await customer(1).hears({ call, frequency: labTone('ipPhone', 0) });
      }
      await customer(1).hangup(call);
      await tab.waitFor((e) => e.type === 'call.ended');
    });

    it('mute: the customer stops hearing the agent, the agent still hears the customer; on an outbound call too', async () => {
      const tab = await open('5000');
      const deviceAnswered = phone().waitFor('answered');
      const customerAnswered = customer(2).waitFor('answered');
      await tab.command('call.dial', { number: '0901000002' });
      await tab.waitFor((e) => e.type === 'call.customerAccepted', 8000);
      const call = (await customerAnswered).call;
      const deviceLeg = (await deviceAnswered).call;
      await customer(2).hears({ call, frequency: labTone('ipPhone', 0) });
      expect(await tab.command('call.toggleMute', {})).toMatchObject({ ok: true, muted: true });
      await tab.waitFor((e) => e.type === 'call.muted');
      await customer(2).hearsSilence({ call });
      await phone().hears({ call: deviceLeg, frequency: labTone('customer', 1) });
      expect(await tab.command('call.toggleMute', {})).toMatchObject({ ok: true, muted: false });
      await tab.waitFor((e) => e.type === 'call.unmuted');
      await customer(2).hears({ call, frequency: labTone('ipPhone', 0) });
      await tab.command('call.hangup', {});
      await tab.waitFor((e) => e.type === 'call.ended');
    });

    it('DTMF is sent to the customer by SIP INFO', async () => {
      const tab = await open('5000');
      const call = customer(3).call('5000');
      await customer(3).hears({ call, frequency: labTone('ipPhone', 0) });
      const before = customer(3).receivedDtmf;
      const ack = await tab.command('call.dtmf', { digits: '12#' });
      expect(ack).toMatchObject({ ok: true });
      await eventually(
        () => (customer(3).receivedDtmf === `${before}12#` ? true : undefined),
        5000,
        'digits at the customer',
      );
      await customer(3).hangup(call);
      await tab.waitFor((e) => e.type === 'call.ended');
    });

    it('in-call commands without a call, or for another call id, are refused with codes', async () => {
      const tab = await open('5000');
      expect(await tab.command('call.toggleHold', {})).toMatchObject({ ok: false, code: 'NOT_IN_A_CALL' });
      expect(await tab.command('call.hangup', {})).toMatchObject({ ok: false, code: 'NOT_IN_A_CALL' });
      const call = customer(1).call('5000');
      await customer(1).hears({ call, frequency: labTone('ipPhone', 0) });
      expect(await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls/not-this-one/hold')).toMatchObject({
        status: 404,
        body: { code: 'COULD_NOT_GET_CALL_INFO' },
      });
      await customer(1).hangup(call);
      await tab.waitFor((e) => e.type === 'call.ended');
    });
  },
);
