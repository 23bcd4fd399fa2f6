// Webhooks through the real stack: a domain's events POSTed to a real HTTP receiver (node:http on
// a free port), signed; the receiver refuses at first, the instance that queued them stops, a new
// instance on the same redis-server delivers them when the receiver recovers: every event exactly
// once after de-duplication by event id, in order. A receiver that always fails fills the
// dead letters, shown at GET /v1/{domain}/webhooks/failures.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyEventEnvelope } from '@callgate/contracts';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { verifySignature } from '../apps/gateway/src/webhooks/signature.js';
import { startGateway } from './support/gateway.js';
import { checkAgainstOpenApi } from './support/openapi.js';
import { labDomainsYaml, rest } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { eventually } from './support/tabs.js';

const SECRET = 'whsec-test-0123456789abcdef';

interface Received {
  path: string;
  status: number;
  id: string;
  signed: boolean;
  event: AnyEventEnvelope;
}

describe('webhooks (signed POSTs, retried, persisted in Redis)', () => {
  let redis: RedisServer;
  let receiver: Server;
  let dir: string;
  const received: Received[] = [];
  /** how the receiver answers /hook now */
  let hookStatus = 503;
  const gateways: RunningGateway[] = [];
  const start = async (id: string): Promise<RunningGateway> => {
    const gw = await startGateway({
      configPath: join(dir, 'domains.yaml'),
      redisUrl: redis.url,
      instanceId: id,
      keyPrefix: 'webhooks:',
      leaseMs: 1000,
      env: { WEBHOOK_RETRY_MS: '20', WEBHOOK_MAX_ATTEMPTS: '6' },
    });
    gateways.push(gw);
    return gw;
  };

  const read = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  beforeAll(async () => {
    redis = await startRedis();
    receiver = createServer((req, res) => {
      void read(req).then((body) => {
        const status = req.url === '/hook' ? hookStatus : 500;
        const event = JSON.parse(body) as AnyEventEnvelope;
        received.push({
          path: req.url ?? '',
          status,
          id: String(req.headers['callgate-event-id']),
          signed: verifySignature(
            SECRET,
            body,
            String(req.headers['callgate-signature']),
            Math.floor(Date.now() / 1000),
          ),
          event,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'callgate-webhooks-'));
    writeFileSync(
      join(dir, 'domains.yaml'),
      labDomainsYaml('ws://127.0.0.1:9', {}, [{ ext: '5003', device: 1 }]) +
        `    webhooks:
      - { url: "${base}/hook", secret: "${SECRET}" }
      - { url: "${base}/dead", secret: "${SECRET}", events: [agent.callStatus] }
`,
    );
  }, 30_000);
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event exactly once after de-duplication, in order, across a failing receiver and an instance that stopped', async () => {
    const a = await start('wh-a');
    for (let i = 0; i < 5; i++)
      expect((await rest(a, 'POST', '/v1/demo/agents/5003/status')).status).toBe(200);
    await eventually(
      () => (received.some((r) => r.path === '/hook') ? true : undefined),
      10_000,
      'a first POST',
    );
    await a.close(); // its queue stays in Redis

    const b = await start('wh-b');
    hookStatus = 200;
    for (let i = 0; i < 2; i++)
      expect((await rest(b, 'POST', '/v1/demo/agents/5003/status')).status).toBe(200);
    const expected = (
      (await rest(b, 'GET', '/v1/demo/events?after=0-0')).body.events as AnyEventEnvelope[]
    ).map((e) => e.id);
    expect(expected).toHaveLength(7);
    const delivered = (): string[] => [
      ...new Set(received.filter((r) => r.path === '/hook' && r.status === 200).map((r) => r.id)),
    ];
    await eventually(() => (delivered().length >= 7 ? true : undefined), 15_000, '7 deliveries');
    expect(delivered()).toEqual(expected);
    const hook = received.filter((r) => r.path === '/hook');
    expect(hook.some((r) => r.status === 503)).toBe(true);
    expect(hook.every((r) => r.signed && r.event.id === r.id && r.event.domain === 'demo')).toBe(true);
  }, 60_000);

  it('keeps what a receiver never accepted as dead letters, shown to the API key only', async () => {
    const gw = gateways.at(-1)!;
    const { body } = await eventually(async () => {
      const res = await rest(gw, 'GET', '/v1/demo/webhooks/failures');
      checkAgainstOpenApi('GET', '/v1/demo/webhooks/failures', res.status, res.body);
      return (res.body.failures as unknown[]).length >= 7 ? res : undefined;
    }, 20_000);
    const failures = body.failures as { url: string; eventType: string; attempts: number; error: string }[];
    expect(failures.every((f) => f.url.endsWith('/dead') && f.attempts === 6 && f.error === 'HTTP 500')).toBe(
      true,
    );
    expect(new Set(failures.map((f) => f.eventType))).toEqual(new Set(['agent.callStatus']));
    const anonymous = await fetch(`${gw.url}/v1/demo/webhooks/failures`);
    expect(anonymous.status).toBe(401);
    expect((await rest(gw, 'GET', '/v1/demo/webhooks/failures?limit=0')).body).toMatchObject({
      code: 'INVALID_REQUEST',
    });
  }, 30_000);
});
