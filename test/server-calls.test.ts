import type { AnyEventEnvelope } from '@callgate/contracts';
import { labTone } from '../apps/lab/src/lab.js';
import { API_KEY, rest, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

/** The call events of one call, as [type, data] pairs (ids and times vary). */
const sequence = (events: readonly AnyEventEnvelope[], callId: string): [string, unknown][] =>
  events.filter((e) => e.callId === callId).map((e) => [e.type, e.data]);

describe.each(['bridge', 'direct'] as const)(
  'server-side calls through the lab PBX (device modes 2, 3, 4), %s media',
  (media) => {
    let env: LabGateway;
    let backend: Tab;
    const tabs = new AgentTabs(() => env.gateway.url);
    const open = (ipphone: string): Promise<Tab> => tabs.open(ipphone);
    const registered = (ipphone: string, want = true): Promise<true> =>
      waitRegistered(env.gateway, ipphone, want);

    beforeAll(async () => {
      env = await startLabGateway(
        { customers: 3, ipPhones: ['5000', '5001', '5002'], mobiles: ['0930000004'] },
        { media, gateway: { env: { RING_TIMEOUT_MS: '2500' } } },
      );
      backend = await Tab.open(
        env.gateway.url,
        { domain: 'demo', apiKey: API_KEY },
        { namespace: '/events' },
      );
    });
    afterEach(async () => {
      await tabs.closeAll();
    });
    afterAll(async () => {
      backend.close();
      await env.close();
    });

    it('mode 4, no tab open: a customer call rings the IP phone, audio is bridged both ways, the customer hangs up', async () => {
      await registered('5000');
      const customer = env.lab.bot('0901000001');
      const phone = env.lab.bot('5000-desk');
      const ringing = phone.waitFor('incoming');
      const call = customer.call('5000');
      const deviceLeg = (await ringing).call;
      await customer.waitFor('answered');
      await customer.hears({ call, frequency: labTone('ipPhone', 0) });
      await phone.hears({ frequency: labTone('customer', 0) });

      const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === '5000', 5000);
      const callId = accepted.callId ?? '';
      await customer.hangup(call);
      expect(await deviceLeg.terminated).toMatchObject({ established: true, by: 'remote' });
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
      expect(sequence(backend.events, callId)).toEqual([
        ['call.ringing', { phone: '0901000001' }],
        ['call.accepted', { media: { path: media, reason: expect.any(String) as string } }],
        ['call.ended', { cause: 'NORMAL_CLEARING', by: 'customer', duration: expect.any(Number) as number }],
      ]);
    });

    it('mode 4 with a tab open: the tab and /events see the same sequence; the phone hangs up', async () => {
      const tab = await open('5000');
      const customer = env.lab.bot('0901000002');
      const phone = env.lab.bot('5000-desk');
      const call = customer.call('5000');
      const ringing = await tab.waitFor((e) => e.type === 'call.ringing');
      expect(ringing.data).toEqual({ phone: '0901000002' });
      await customer.hears({ call, frequency: labTone('ipPhone', 0) });
      await phone.hangup();
      const ended = await tab.waitFor((e) => e.type === 'call.ended');
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
      const callId = ringing.callId ?? '';
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
      expect(sequence(tab.events, callId)).toEqual(sequence(backend.events, callId));
      expect(sequence(tab.events, callId).map(([type]) => type)).toEqual([
        'call.ringing',
        'call.accepted',
        'call.ended',
      ]);
      expect((await call.terminated).by).toBe('remote');
    });

    it('mode 3: the call rings the agent’s mobile through the PBX prefix and is bridged', async () => {
      await registered('5004');
      const customer = env.lab.bot('0901000003');
      const mobile = env.lab.bot('90930000004');
      const call = customer.call('5004');
      await customer.hears({ call, frequency: labTone('mobile', 0) });
      await mobile.hears({ frequency: labTone('customer', 2) });
      const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === '5004');
      await customer.hangup(call);
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId);
    });

    it('mode 2: registered only while the agent has a tab; with none the customer gets 404', async () => {
      const customer = env.lab.bot('0901000001');
      expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5001')).body.sip).toBeNull();
      const before = customer.call('5001');
      expect(await before.terminated).toMatchObject({ established: false, statusCode: 404 });

      const tab = await open('5001');
      await registered('5001');
      const during = customer.call('5001');
      await customer.hears({ call: during, frequency: labTone('ipPhone', 1) });
      expect((await tab.waitFor((e) => e.type === 'call.ringing')).data).toEqual({ phone: '0901000001' });
      await customer.hangup(during);
      await tab.waitFor((e) => e.type === 'call.ended');

      tab.close();
      await tab.waitForDisconnect();
      await eventually(async () =>
        (await rest(env.gateway, 'GET', '/v1/demo/agents/5001')).body.sip === null ? true : undefined,
      );
      const after = customer.call('5001');
      expect(await after.terminated).toMatchObject({ established: false, statusCode: 404 });
    });

    it('a device that rejects the call: the customer gets 486 and the tab sees call.ended BUSY', async () => {
      const tab = await open('5000');
      const phone = env.lab.bot('5000-desk');
      phone.setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
      try {
        const call = env.lab.bot('0901000002').call('5000');
        expect(await call.terminated).toMatchObject({ established: false, statusCode: 486 });
        const ended = await tab.waitFor((e) => e.type === 'call.ended');
        expect(ended.data).toMatchObject({ cause: 'BUSY', by: 'agent', duration: 0 });
        expect(tab.of('call.accepted')).toHaveLength(0);
      } finally {
        phone.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      }
    });

    it('a device that never answers is given up after the ring timeout: the customer gets 480, cause NO_ANSWER', async () => {
      const tab = await open('5000');
      const phone = env.lab.bot('5000-desk');
      phone.setBehaviour({ incoming: { action: 'ignore' } });
      try {
        const ringing = phone.waitFor('incoming');
        const call = env.lab.bot('0901000002').call('5000');
        const deviceLeg = (await ringing).call;
        expect(await call.terminated).toMatchObject({ established: false, statusCode: 480 });
        expect((await tab.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
          cause: 'NO_ANSWER',
          by: 'agent',
        });
        expect((await deviceLeg.terminated).established).toBe(false);
        // 3C 'No Answer': the agent gets no calls until it changes its status, which goes back to on
        expect((await tab.waitFor((e) => e.type === 'agent.callStatus')).data).toEqual({
          status: 'noAnswer',
        });
        const refused = env.lab.bot('0901000003').call('5000');
        expect(await refused.terminated).toMatchObject({ established: false, statusCode: 480 });
        expect(await tab.command('agent.toggleCallStatus', {})).toEqual({ ok: true, status: 'on' });
      } finally {
        phone.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
        const status = (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.callStatus;
        if (status !== 'on') await tab.command('agent.toggleCallStatus', {});
      }
    });

    it('the customer hangs up while the device rings: the device stops ringing, cause CUSTOMER_CANCELLED', async () => {
      const tab = await open('5000');
      const phone = env.lab.bot('5000-desk');
      phone.setBehaviour({ incoming: { action: 'ignore' } });
      try {
        const customer = env.lab.bot('0901000002');
        const ringing = phone.waitFor('incoming');
        const call = customer.call('5000');
        await tab.waitFor((e) => e.type === 'call.ringing');
        const deviceLeg = (await ringing).call;
        await customer.hangup(call);
        expect((await tab.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
          cause: 'CUSTOMER_CANCELLED',
          by: 'customer',
        });
        expect((await deviceLeg.terminated).established).toBe(false);
      } finally {
        phone.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      }
    });

    it('the CRM answers a call ringing an IP phone that auto-answers: the phone is asked to pick up, audio is bridged', async () => {
      const tab = await open('5000');
      const phone = env.lab.bot('5000-desk');
      // The desk phone would ring forever: only an INVITE asking it to answer gets it to pick up.
      phone.setBehaviour({ incoming: { action: 'ignore' } });
      try {
        const customer = env.lab.bot('0901000001');
        const firstRing = phone.waitFor('incoming');
        const call = customer.call('5000');
        const ringing = await tab.waitFor((e) => e.type === 'call.ringing');
        const firstLeg = (await firstRing).call;
        const secondRing = phone.waitFor('incoming', { filter: (e) => e.call !== firstLeg });
        expect(await tab.command('call.answer', {})).toEqual({ ok: true, callId: ringing.callId });
        const picked = (await secondRing).call;
        expect(picked.requestHeader('Answer-Mode')).toBe('Auto');
        await customer.hears({ call, frequency: labTone('ipPhone', 0) });
        await phone.hears({ call: picked, frequency: labTone('customer', 0) });
        await tab.waitFor((e) => e.type === 'call.accepted' && e.callId === ringing.callId);
        // The first ring was cancelled; one call, no stray events.
        expect((await firstLeg.terminated).established).toBe(false);
        await customer.hangup(call);
        const ended = await tab.waitFor((e) => e.type === 'call.ended' && e.callId === ringing.callId);
        expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
        expect(sequence(tab.events, ringing.callId ?? '').map(([type]) => type)).toEqual([
          'call.ringing',
          'call.accepted',
          'call.ended',
        ]);
      } finally {
        phone.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      }
    });

    it('the CRM cannot answer a call ringing a device without auto-answer: DEVICE_NOT_AVAILABLE, the call goes on ringing', async () => {
      await registered('5002');
      const tab = await open('5002');
      const phone = env.lab.bot('5002-desk');
      phone.setBehaviour({ incoming: { action: 'ignore' } });
      try {
        const customer = env.lab.bot('0901000002');
        const call = customer.call('5002');
        await tab.waitFor((e) => e.type === 'call.ringing');
        expect(await tab.command('call.answer', {})).toMatchObject({
          ok: false,
          code: 'DEVICE_NOT_AVAILABLE',
        });
        await customer.hangup(call);
        expect((await tab.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
          cause: 'CUSTOMER_CANCELLED',
        });
      } finally {
        phone.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      }
    });

    it('call status off: inbound calls fail with 480 and the agent stays registered; on again they ring', async () => {
      const tab = await open('5000');
      expect(await tab.command('agent.toggleCallStatus', {})).toEqual({ ok: true, status: 'off' });
      try {
        const customer = env.lab.bot('0901000003');
        const refused = customer.call('5000');
        expect(await refused.terminated).toMatchObject({ established: false, statusCode: 480 });
        expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.sip).toEqual({
          registered: true,
          owner: env.gateway.config.instanceId,
          state: 'registered',
        });
        expect(tab.of('call.ringing')).toHaveLength(0);
      } finally {
        await tab.command('agent.toggleCallStatus', {});
      }
      const customer = env.lab.bot('0901000003');
      const call = customer.call('5000');
      await customer.hears({ call, frequency: labTone('ipPhone', 0) });
      await customer.hangup(call);
      await tab.waitFor((e) => e.type === 'call.ended');
    });

    it('a second customer calling an agent already in a call gets 486', async () => {
      const first = env.lab.bot('0901000001');
      const call = first.call('5000');
      await first.hears({ call, frequency: labTone('ipPhone', 0) });
      const second = env.lab.bot('0901000002').call('5000');
      expect(await second.terminated).toMatchObject({ established: false, statusCode: 486 });
      await first.hangup(call);
      await backend.waitFor(
        (e) => e.type === 'call.ended' && e.data.by === 'customer' && e.ipphone === '5000',
        5000,
      );
    });
  },
);
