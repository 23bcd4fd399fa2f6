import { labTone } from '../apps/lab/src/lab.js';
import {
  API_KEY,
  LAB_AGENTS,
  rest,
  startLabGateway,
  waitRegistered,
  type LabGateway,
} from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

/** The 3C ringback the agent hears while the customer's phone rings. */
const RINGBACK_HZ = 425;

/**
 * Device type 6, the vendor's softphone: a server-side device with its own SIP URI in the domains
 * file (5006: `devices.softphone: sip:5006-softphone@…`); a lab bot registered as 5006-softphone
 * plays it.
 */
describe('device 6 (softphone) through the lab PBX', () => {
  let env: LabGateway;
  let backend: Tab;
  const customer = () => env.lab.bot('0901000001');
  const softphone = () => env.lab.bot('5006-softphone');

  beforeAll(async () => {
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'], softphones: ['5006'] },
      {
        agents: [...LAB_AGENTS, { ext: '5006', device: 6, softphone: true }],
        // device 6's routing is what this file tests; the media paths are callout.test's (both modes)
        media: 'bridge',
        gateway: { env: { RING_TIMEOUT_MS: '3000' } },
      },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await waitRegistered(env.gateway, '5006');
  });
  afterEach(async () => {
    // No call may leak into the next test.
    await eventually(async () =>
      (await rest(env.gateway, 'GET', '/v1/demo/agents/5006')).body.call === null ? true : undefined,
    );
  });
  afterAll(async () => {
    backend.close();
    await env.close();
  });

  it('an inbound call rings the softphone (no tab open), audio is bridged both ways, the customer hangs up', async () => {
    const seen = backend.events.length;
    const ringing = softphone().waitFor('incoming');
    const call = customer().call('5006');
    const deviceLeg = (await ringing).call;
    await customer().waitFor('answered');
    await customer().hears({ call, frequency: labTone('softphone', 0) });
    await softphone().hears({ call: deviceLeg, frequency: labTone('customer', 0) });
    const accepted = await backend.waitFor(
      (e) => e.type === 'call.accepted' && e.ipphone === '5006' && backend.events.indexOf(e) >= seen,
    );
    await customer().hangup(call);
    expect(await deviceLeg.terminated).toMatchObject({ established: true, by: 'remote' });
    const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId);
    expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
    // The desk phone of another agent never rang: the call went to 5006's own softphone URI.
    expect(env.lab.bot('5000-desk').calls.length).toBe(0);
  });

  it('a callout rings the softphone first, plays ringback, then bridges the customer both ways', async () => {
    customer().setBehaviour({ incoming: { action: 'answer', afterMs: 1500 } });
    try {
      const deviceAnswered = softphone().waitFor('answered');
      const customerAnswered = customer().waitFor('answered');
      const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5006/calls', { number: '0901000001' });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      const deviceLeg = (await deviceAnswered).call;
      await softphone().hears({ call: deviceLeg, frequency: RINGBACK_HZ });
      const customerLeg = (await customerAnswered).call;
      await softphone().hears({ call: deviceLeg, frequency: labTone('customer', 0) });
      await customer().hears({ call: customerLeg, frequency: labTone('softphone', 0) });
      await backend.waitFor((e) => e.type === 'call.customerAccepted' && e.callId === callId);
      expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5006/call')).body).toMatchObject({
        callId,
        direction: 'outbound',
        state: 'active',
      });
      expect(await rest(env.gateway, 'POST', `/v1/demo/agents/5006/calls/${callId}/hangup`)).toEqual({
        status: 200,
        body: { ok: true, callId },
      });
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
    } finally {
      customer().setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
    }
  });

  it('an agent without a softphone is refused device 6; device 8 is refused; nothing changes', async () => {
    const before = await rest(env.gateway, 'GET', '/v1/demo/agents/5000');
    const noSoftphone = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/device', { type: 6 });
    expect(noSoftphone.status).toBeGreaterThanOrEqual(400);
    expect(noSoftphone.body).toMatchObject({ code: 'DEVICE_NOT_AVAILABLE' });
    const mobileApp = await rest(env.gateway, 'POST', '/v1/demo/agents/5006/device', { type: 8 });
    expect(mobileApp.status).toBe(400);
    expect(mobileApp.body).toMatchObject({ code: 'INVALID_DEVICE_TYPE' });
    const after = await rest(env.gateway, 'GET', '/v1/demo/agents/5000');
    expect(after.body.deviceType).toBe(before.body.deviceType);
    expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5006')).body.deviceType).toBe(6);
  });

  it('switching 5006 to device 1 drops its line; back to 6 registers it again and calls ring the softphone', async () => {
    expect(await rest(env.gateway, 'POST', '/v1/demo/agents/5006/device', { type: 1 })).toMatchObject({
      body: { ok: true, type: 1 },
    });
    await waitRegistered(env.gateway, '5006', false);
    expect(await rest(env.gateway, 'POST', '/v1/demo/agents/5006/device', { type: 6 })).toMatchObject({
      body: { ok: true, type: 6 },
    });
    await waitRegistered(env.gateway, '5006');
    const ringing = softphone().waitFor('incoming');
    const call = customer().call('5006');
    const deviceLeg = (await ringing).call;
    await customer().hears({ call, frequency: labTone('softphone', 0) });
    await customer().hangup(call);
    await deviceLeg.terminated;
  });
});
