// A server-side transfer leaves the customer bridged to the target through the source's line (a
// TransferRelay the line keeps). Whatever would close that line while the relay lives — the agent's
// device changes, a mode-2 agent closes its last tab, the instance drains — waits for the
// transferred customer's call to end instead of cutting it.
import type { SipCall } from '@callgate/sip';
import { labTone } from '../apps/lab/src/lab.js';
import { rest, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { AgentTabs, eventually, type Tab } from './support/tabs.js';

const QUEUE_1 = labTone('queue', 0);

/** Customer 1 calls `ext` (its desk answers), then the agent sends the customer to queue 1. */
async function transferToQueue(env: LabGateway, ext: string, source: Tab): Promise<SipCall> {
  const customer = env.lab.bot('0901000001');
  const before = source.events.length;
  const leg = customer.call(ext);
  const accepted = await source.waitFor(
    (e) => e.type === 'call.accepted' && source.events.indexOf(e) >= before,
    10_000,
    'call.accepted',
  );
  const queued = env.lab.bot('queue1').waitFor('answered');
  const moved = await rest(
    env.gateway,
    'POST',
    `/v1/demo/agents/${ext}/calls/${accepted.callId}/transfer/queue`,
    {
      queueId: '1',
    },
  );
  expect(moved.status).toBe(200);
  await queued;
  await customer.hears({ call: leg, frequency: QUEUE_1 });
  await source.waitFor(
    (e) => e.type === 'call.ended' && e.callId === accepted.callId,
    10_000,
    'call.ended TRANSFERRED',
  );
  return leg;
}

/** The customer still hears the queue, twice over, through `ext`'s line, which is still registered. */
async function stillRelayed(env: LabGateway, ext: string, leg: SipCall): Promise<void> {
  const customer = env.lab.bot('0901000001');
  await customer.hears({ call: leg, frequency: QUEUE_1 });
  expect((await rest(env.gateway, 'GET', `/v1/demo/agents/${ext}`)).body.sip).toMatchObject({
    registered: true,
  });
  await customer.hears({ call: leg, frequency: QUEUE_1 });
  expect(leg.isTerminated).toBe(false);
}

describe('a transferred customer outlives what closes the source line', () => {
  let env: LabGateway;
  const tabs = new AgentTabs(() => env.gateway.url);

  beforeAll(async () => {
    env = await startLabGateway({ customers: 1, ipPhones: ['5000', '5001'], queues: ['1'] });
    await waitRegistered(env.gateway, '5000');
  });
  afterEach(async () => {
    for (const bot of env.lab.bots) await bot.hangup();
    await tabs.closeAll();
  });
  afterAll(async () => {
    await env.close();
  });

  it('device change: 5000 goes to browser mode while its former customer talks to the queue; the line closes after that call', async () => {
    const source = await tabs.open('5000');
    const leg = await transferToQueue(env, '5000', source);

    expect(await source.command('agent.setDevice', { type: 1 })).toMatchObject({ ok: true, type: 1 });
    // the line is kept for the relay: registered, and the customer still hears the queue
    await stillRelayed(env, '5000', leg);

    await env.lab.bot('0901000001').hangup(leg);
    await waitRegistered(env.gateway, '5000', false);
    expect(await source.command('agent.resetDevice', {})).toMatchObject({ ok: true, type: 4 });
    await waitRegistered(env.gateway, '5000');
  });

  it('last tab closed: mode-2 agent 5001 keeps its line for the transferred customer, and drops it after', async () => {
    const source = await tabs.open('5001');
    await waitRegistered(env.gateway, '5001');
    const leg = await transferToQueue(env, '5001', source);

    await tabs.closeAll();
    await eventually(async () =>
      (await rest(env.gateway, 'GET', '/v1/demo/agents/5001')).body.tabs === 0 ? true : undefined,
    );
    await stillRelayed(env, '5001', leg);

    await env.lab.bot('0901000001').hangup(leg);
    await waitRegistered(env.gateway, '5001', false);
  });
});

describe('draining an instance that relays a transferred customer', () => {
  let env: LabGateway;
  const tabs = new AgentTabs(() => env.gateway.url);

  beforeAll(async () => {
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'], queues: ['1'] },
      { gateway: { env: { DRAIN_TIMEOUT_MS: '30000' } } },
    );
    await waitRegistered(env.gateway, '5000');
  });
  afterAll(async () => {
    await tabs.closeAll();
    await env.close();
  });

  it('the drain waits for the relayed call like a call in progress, and finishes once the customer hangs up', async () => {
    const source = await tabs.open('5000');
    const leg = await transferToQueue(env, '5000', source);
    await tabs.closeAll();

    let drained = false;
    const draining = env.gateway.drain().then(() => {
      drained = true;
    });
    await eventually(async () =>
      (await fetch(`${env.gateway.url}/ready`)).status === 503 ? true : undefined,
    );
    await env.lab.bot('0901000001').hears({ call: leg, frequency: QUEUE_1 });
    const health = (await (await fetch(`${env.gateway.url}/health`)).json()) as {
      status: string;
      lines: number;
    };
    expect(health).toMatchObject({ status: 'draining', lines: 1 });
    await env.lab.bot('0901000001').hears({ call: leg, frequency: QUEUE_1 });
    expect(leg.isTerminated).toBe(false);
    expect(drained).toBe(false);

    await env.lab.bot('0901000001').hangup(leg);
    await draining;
    const after = (await (await fetch(`${env.gateway.url}/health`)).json()) as { lines: number };
    expect(after.lines).toBe(0);
  });
});
