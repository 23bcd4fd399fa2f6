import type { RunningGateway } from '../apps/gateway/src/app.js';
import { startGateway } from './support/gateway.js';
import { rest } from './support/lab-gateway.js';
import { AgentTabs } from './support/tabs.js';

const CALL = '/v1/demo/agents/5000/calls/c1';

/** Every REST command with a body, given a field of the wrong JSON type. */
const REST_CASES: readonly [string, string, Record<string, unknown>][] = [
  ['dial: a JSON number', '/v1/demo/agents/5000/calls', { number: 12345 }],
  [
    'dial: a number with a leading zero sent as a number',
    '/v1/demo/agents/5000/calls',
    { number: 909123456 },
  ],
  [
    'dial: transactionId as a number',
    '/v1/demo/agents/5000/calls',
    { number: '0909123456', transactionId: 7 },
  ],
  ['click-to-call: phoneNumber as a number', '/v1/demo/calls', { phoneNumber: 909123456, ipPhone: '5000' }],
  ['click-to-call: ipPhone as a number', '/v1/demo/calls', { phoneNumber: '0909123456', ipPhone: 5000 }],
  ['dtmf: digits as a number', `${CALL}/dtmf`, { digits: 12 }],
  ['transfer to agent: ipphone as a number', `${CALL}/transfer/agent`, { ipphone: 5001 }],
  ['transfer to queue: queueId as a number', `${CALL}/transfer/queue`, { queueId: 1 }],
  ['transfer answer: accept as 1', '/v1/demo/agents/5000/transfer/respond', { accept: 1 }],
  ['transfer answer: accept as "true"', '/v1/demo/agents/5000/transfer/respond', { accept: 'true' }],
  ['device: type as a string', '/v1/demo/agents/5000/device', { type: '4' }],
  ['device: mobile as a number', '/v1/demo/agents/5000/device', { type: 3, mobile: 909123456 }],
];

/** Every socket command with fields, given one of the wrong JSON type. */
const SOCKET_CASES: readonly [string, Record<string, unknown>][] = [
  ['call.dial', { number: 12345 }],
  ['call.dial', { number: '0909123456', transactionId: 7 }],
  ['agent.setDevice', { type: '4' }],
  ['agent.setDevice', { type: 3, mobile: 909123456 }],
  ['call.answer', { callId: 1 }],
  ['call.hangup', { callId: 1 }],
  ['call.toggleHold', { callId: 1 }],
  ['call.toggleMute', { callId: 1 }],
  ['call.dtmf', { digits: 12 }],
  ['transfer.toAgent', { ipphone: 5001 }],
  ['transfer.toQueue', { queueId: 1 }],
  ['transfer.respond', { accept: 0 }],
  ['voice.enable', { voiceFence: '1' }],
  ['call.report', { type: 'call.ringing', callId: 'c1', data: { phone: 909123456 } }],
];

describe('strict payload types: a number where a string is required, or the other way round', () => {
  let gateway: RunningGateway;
  const tabs = new AgentTabs(() => gateway.url);

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await tabs.closeAll();
    await gateway.close();
  });

  it.each(REST_CASES)('REST %s: 400 INVALID_PAYLOAD', async (_name, path, body) => {
    const res = await rest(gateway, 'POST', path, body);
    expect(res).toMatchObject({ status: 400, body: { code: 'INVALID_PAYLOAD' } });
  });

  it.each(SOCKET_CASES)('socket %s %j: INVALID_PAYLOAD, and the tab goes on', async (name, payload) => {
    const tab = await tabs.open('5000');
    expect(await tab.raw(name, payload)).toMatchObject({ ok: false, code: 'INVALID_PAYLOAD' });
    expect(await tab.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
  });

  it('the same commands with strings where strings belong are not refused for their types', async () => {
    const res = await rest(gateway, 'POST', '/v1/demo/agents/5000/device', { type: 4 });
    expect(res.status).toBe(200);
    const dial = await rest(gateway, 'POST', '/v1/demo/agents/5000/calls', { number: '0909123456' });
    expect(dial.body.code).not.toBe('INVALID_PAYLOAD');
  });
});
