// GET /metrics during a real call: a lab customer calls a mode-4 agent (the gateway registers its
// extension with the lab Kamailio and rings its desk phone bot), with a tab and a CRM backend
// connected, the coordination on a real redis-server. The numbers move as the call goes.
import { labTone } from '../apps/lab/src/lab.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { startGateway } from './support/gateway.js';
import {
  API_KEY,
  labDomainsYaml,
  rest,
  startLabGateway,
  waitRegistered,
  type LabGateway,
} from './support/lab-gateway.js';
import { scrape, type Scrape } from './support/metrics.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const TOKEN = 'metrics-token-0123456789';

/** A domains file with one browser-mode agent (5003) and no reachable PBX, in a fresh folder. */
function writeLabDomains(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'callgate-metrics-')), 'domains.yaml');
  writeFileSync(file, labDomainsYaml('ws://127.0.0.1:9', {}, [{ ext: '5003', device: 1 }]));
  return file;
}

describe('GET /metrics (Prometheus)', () => {
  let redis: RedisServer;
  let env: LabGateway;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const read = (): Promise<Scrape> => scrape(env.gateway.url, TOKEN);

  beforeAll(async () => {
    redis = await startRedis();
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'] },
      {
        agents: [{ ext: '5000', device: 4 }],
        gateway: { redisUrl: redis.url, keyPrefix: 'metrics:', env: { METRICS_TOKEN: TOKEN } },
      },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  }, 60_000);
  afterAll(async () => {
    backend?.close();
    await tabs.closeAll();
    await env?.close();
    await redis?.stop();
  });

  it('answers 401 UNAUTHORIZED without the METRICS_TOKEN bearer, or with a wrong one', async () => {
    const tries: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: TOKEN },
    ];
    for (const headers of tries) {
      const res = await fetch(`${env.gateway.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('counts tabs, backends, the registered line, a call by state and mode, its set-up time, events, Redis commands', async () => {
    await waitRegistered(env.gateway, '5000');
    const tab = await tabs.open('5000');
    const before = await read();
    expect(before.value('callgate_tabs_connected')).toBe(1);
    expect(before.value('callgate_backends_connected')).toBe(1);
    expect(before.value('callgate_lines_registered')).toBe(1);
    expect(before.value('callgate_leases_held')).toBe(1);
    expect(before.value('callgate_calls')).toBe(0);
    // process metrics, and every sample labelled with the instance
    expect(before.has('process_cpu_user_seconds_total')).toBe(true);
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(before.samples.every((s) => s.labels.instance_id === env.gateway.config.instanceId)).toBe(true);

    const customer = env.lab.bot('0901000001');
    const call = customer.call('5000');
    await tab.waitFor((e) => e.type === 'call.accepted');
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    const during = await eventually(async () => {
      const s = await read();
      return s.value('callgate_calls', { state: 'connected', mode: '4' }) === 1 ? s : undefined;
    });
    expect(during.value('callgate_calls')).toBe(1);
    expect(during.value('callgate_calls_started_total', { mode: '4', direction: 'inbound' })).toBe(1);
    expect(during.value('callgate_call_setup_seconds_count', { mode: '4' })).toBe(1);
    expect(during.value('callgate_call_setup_seconds_sum', { mode: '4' })).toBeGreaterThan(0);

    await customer.hangup(call);
    await backend.waitFor((e) => e.type === 'call.ended' && e.ipphone === '5000');
    const after = await read();
    expect(after.value('callgate_calls')).toBe(0);
    expect(after.value('callgate_calls_ended_total', { mode: '4', outcome: 'ended' })).toBe(1);
    for (const type of ['call.ringing', 'call.accepted', 'call.ended'])
      expect(after.value('callgate_events_published_total', { type })).toBe(
        before.value('callgate_events_published_total', { type }) + 1,
      );
    expect(after.value('callgate_events_delivered_total', { target: 'agent' })).toBeGreaterThanOrEqual(
      before.value('callgate_events_delivered_total', { target: 'agent' }) + 3,
    );
    expect(after.value('callgate_events_delivered_total', { target: 'events' })).toBeGreaterThanOrEqual(
      before.value('callgate_events_delivered_total', { target: 'events' }) + 3,
    );
    // Events are appended by XADD, or with an agent's partition in one script (EVALSHA).
    const appends = (m: typeof after): number =>
      m.value('callgate_redis_command_seconds_count', { command: 'xadd' }) +
      m.value('callgate_redis_command_seconds_count', { command: 'evalsha' });
    expect(appends(after)).toBeGreaterThanOrEqual(appends(before) + 3);
    expect(after.samples.filter((s) => s.name === 'callgate_redis_errors_total')).toEqual([]);
    expect(after.value('callgate_registration_failures_total')).toBe(0);
    expect(after.value('callgate_leases_lost_total')).toBe(0);
  }, 60_000);

  it('counts a backend that resumes from an event id the log does not have as a resync', async () => {
    const before = await read();
    const late = await Tab.open(
      env.gateway.url,
      { domain: 'demo', apiKey: API_KEY, lastEventId: '99999999999999-0' },
      { namespace: '/events' },
    );
    try {
      await late.waitFor((e) => (e.type as string) === 'events.resync');
      const after = await read();
      expect(after.value('callgate_event_resyncs_total', { namespace: 'events' })).toBe(
        before.value('callgate_event_resyncs_total', { namespace: 'events' }) + 1,
      );
      expect(after.value('callgate_backends_connected')).toBe(2);
    } finally {
      late.close();
    }
  });
});

describe('METRICS_ENABLED=false', () => {
  let redis: RedisServer;
  let gateway: RunningGateway;
  let backend: Tab | undefined;
  const configPath = writeLabDomains();

  beforeAll(async () => {
    redis = await startRedis();
    gateway = await startGateway({
      configPath,
      redisUrl: redis.url,
      keyPrefix: 'metrics-off:',
      env: { METRICS_ENABLED: 'false' },
    });
  }, 60_000);
  afterAll(async () => {
    backend?.close();
    await gateway?.close();
    await redis?.stop();
    rmSync(dirname(configPath), { recursive: true, force: true });
  });

  it('answers 404 NOT_FOUND at /metrics while events still flow', async () => {
    const res = await fetch(`${gateway.url}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
    backend = await Tab.open(gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    expect((await rest(gateway, 'POST', '/v1/demo/agents/5003/status')).status).toBe(200);
    const event = await backend.waitFor((e) => e.type === 'agent.callStatus' && e.ipphone === '5003');
    expect(event.domain).toBe('demo');
  });
});
