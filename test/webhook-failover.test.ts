// Webhook failover under kill -9: two gateway processes on one real redis-server, a real HTTP
// receiver. Events are produced on both instances while the receiver refuses (503, retried); then
// it accepts, and while the instance that leads the queue has a POST in flight it is killed with
// SIGKILL (the receiver never answers that POST). The other instance takes the queue over once the
// lead lapses and delivers everything, including what was produced while the leader was dead:
// after de-duplication by event id the receiver has every event exactly once, in order (so in
// order per agent), and the POST in flight at the kill was sent again.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { AnyEventEnvelope } from '@callgate/contracts';
import { verifySignature } from '../apps/gateway/src/webhooks/signature.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { labDomainsYaml, rest } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { eventually } from './support/tabs.js';

const SECRET = 'whsec-failover-0123456789';
const PREFIX = 'whfo:';
const AGENTS = ['5003', '5006'] as const;

interface Received {
  id: string;
  status: number;
  signed: boolean;
  event: AnyEventEnvelope;
}

describe('webhook failover under kill -9 (two instances, one redis-server)', () => {
  let redis: RedisServer;
  let client: Redis;
  let receiver: Server;
  let dir: string;
  const received: Received[] = [];
  const gateways: GatewayProcess[] = [];
  /** 'refuse': 503; 'accept': 200; on the POST number `killOn` of 'accept', `onKill` runs and that POST is never answered */
  let mode: 'refuse' | 'accept' = 'refuse';
  let accepted = 0;
  let killOn = Number.POSITIVE_INFINITY;
  let onKill: (() => void) | undefined;
  let inFlightAtKill: string | undefined;
  const hanging: ServerResponse[] = [];

  const read = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    receiver = createServer((req, res) => {
      void read(req).then((body) => {
        const id = String(req.headers['callgate-event-id']);
        const signed = verifySignature(
          SECRET,
          body,
          String(req.headers['callgate-signature']),
          Math.floor(Date.now() / 1000),
        );
        const event = JSON.parse(body) as AnyEventEnvelope;
        if (mode === 'accept' && ++accepted === killOn && onKill) {
          // The leader dies with this POST in flight: never answered, so never confirmed.
          inFlightAtKill = id;
          received.push({ id, status: 0, signed, event });
          hanging.push(res);
          onKill();
          return;
        }
        const status = mode === 'accept' ? 200 : 503;
        received.push({ id, status, signed, event });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'callgate-webhook-failover-'));
    writeFileSync(
      join(dir, 'domains.yaml'),
      labDomainsYaml(
        'ws://127.0.0.1:9',
        {},
        AGENTS.map((ext) => ({ ext, device: 1 as const })),
      ) + `    webhooks:\n      - { url: "${base}/hook", secret: "${SECRET}" }\n`,
    );
    for (const id of ['whfo-a', 'whfo-b'])
      gateways.push(
        await spawnGateway({
          instanceId: id,
          configPath: join(dir, 'domains.yaml'),
          redisUrl: redis.url,
          keyPrefix: PREFIX,
          leaseMs: 1000,
          env: { WEBHOOK_RETRY_MS: '50', WEBHOOK_MAX_ATTEMPTS: '100', WEBHOOK_TIMEOUT_MS: '20000' },
          startTimeoutMs: 60_000,
        }),
      );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    for (const res of hanging) res.destroy();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    receiver?.closeAllConnections();
    client?.disconnect();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The instance id holding the lead of the (only) webhook queue. */
  const leaderId = async (): Promise<string | undefined> => {
    const keys = await client.keys(`${PREFIX}webhooks:lead:*`);
    return keys.length === 1 ? ((await client.get(keys[0]!)) ?? undefined) : undefined;
  };

  /** One agent.callStatus toggle through `gw`; answered only once the event is queued. */
  const produce = async (gw: GatewayProcess, agent: string): Promise<void> => {
    expect((await rest(gw, 'POST', `/v1/demo/agents/${agent}/status`)).status).toBe(200);
  };

  it('the survivor delivers every event exactly once after de-duplication, in order per agent, including the POST in flight at the kill', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    // 1. The receiver refuses: events from both instances wait in Redis, retried by the leader.
    for (let i = 0; i < 8; i++) await produce(i % 2 === 0 ? a : b, AGENTS[i % AGENTS.length]!);
    await eventually(() => received.length >= 3 || undefined, 30_000, 'retried POSTs');
    expect(received.every((r) => r.status === 503)).toBe(true);
    const leader = await eventually(leaderId, 10_000, 'a queue leader');
    const [dying, survivor] = leader === a.instanceId ? [a, b] : [b, a];
    expect(leader).toBe(dying.instanceId);

    // 2. The receiver accepts; the leader is killed with its 4th accepted POST in flight.
    const killed = new Promise<void>((resolve) => {
      onKill = () => {
        dying.signal('SIGKILL');
        resolve();
      };
    });
    killOn = 4;
    mode = 'accept';
    await killed;
    expect(await dying.exited).toBe('SIGKILL');

    // 3. While the queue has no live leader, the survivor goes on producing events.
    for (let i = 0; i < 6; i++) await produce(survivor, AGENTS[i % AGENTS.length]!);

    // 4. Every event of the log reaches the receiver, through the survivor.
    const expected = (
      (await rest(survivor, 'GET', '/v1/demo/events?after=0-0')).body.events as AnyEventEnvelope[]
    ).map((e) => e.id);
    expect(expected.length).toBe(14);
    const delivered = (): string[] => [...new Set(received.filter((r) => r.status === 200).map((r) => r.id))];
    await eventually(
      () => delivered().length >= expected.length || undefined,
      60_000,
      `${expected.length} accepted deliveries`,
    );
    expect(delivered()).toEqual(expected);
    expect([...new Set(received.map((r) => r.id))].sort()).toEqual([...expected].sort());
    expect(await leaderId()).toBe(survivor.instanceId);

    // The POST in flight at the kill was never confirmed, so the survivor sent it again.
    expect(inFlightAtKill).toBeDefined();
    expect(received.filter((r) => r.id === inFlightAtKill && r.status === 200)).toHaveLength(1);
    // In order per agent, and each POST signed and carrying its own envelope.
    for (const agent of AGENTS) {
      const mine = delivered()
        .map((id) => received.find((r) => r.id === id)!.event)
        .filter((e) => e.ipphone === agent)
        .map((e) => e.id);
      expect(mine).toEqual(
        expected.filter((id) => received.find((r) => r.id === id)!.event.ipphone === agent),
      );
      expect(mine.length).toBeGreaterThan(0);
    }
    expect(received.every((r) => r.signed && r.event.id === r.id)).toBe(true);
    // Nothing left in the queue, nothing given up.
    expect((await rest(survivor, 'GET', '/v1/demo/webhooks/failures')).body.failures).toEqual([]);
  }, 180_000);
});
