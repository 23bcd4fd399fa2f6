// Graceful shutdown of one instance when a call does not finish in time: the drain deadline ends it
// with a clear cause, and /ready answers 503 from the start of the drain.
import { labTone } from '../apps/lab/src/lab.js';
import { API_KEY, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { Tab } from './support/tabs.js';

describe('draining an instance with a call that outlasts the deadline', () => {
  let env: LabGateway;

  beforeAll(async () => {
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'] },
      { gateway: { env: { DRAIN_TIMEOUT_MS: '1500' } } },
    );
  });
  afterAll(async () => {
    await env.close();
  });

  it('ends the call with cause SHUTDOWN at the deadline, unregisters the agent, and is not ready meanwhile', async () => {
    await waitRegistered(env.gateway, '5000');
    const backend = await Tab.open(
      env.gateway.url,
      { domain: 'demo', apiKey: API_KEY },
      { namespace: '/events' },
    );
    try {
      const customer = env.lab.bot('0901000001');
      const call = customer.call('5000');
      const accepted = await backend.waitFor((e) => e.type === 'call.accepted', 10_000);
      await customer.hears({ call, frequency: labTone('ipPhone', 0) });

      const started = Date.now();
      const drained = env.gateway.drain();
      const ready = await fetch(`${env.gateway.url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ code: 'INSTANCE_UNREACHABLE' });
      const health = (await (await fetch(`${env.gateway.url}/health`)).json()) as { status: string };
      expect(health.status).toBe('draining');

      const ended = await backend.waitFor(
        (e) => e.type === 'call.ended' && e.callId === accepted.callId,
        10_000,
      );
      expect(ended.data).toMatchObject({ cause: 'SHUTDOWN', by: 'system' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
      await drained;
      expect(await call.terminated).toMatchObject({ established: true });
      const lines = (await (await fetch(`${env.gateway.url}/health`)).json()) as { lines: number };
      expect(lines.lines).toBe(0);
    } finally {
      backend.close();
    }
  });
});
