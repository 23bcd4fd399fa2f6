// Transfers that outlive their instance: gateway instances as real processes on one real
// redis-server and the lab Kamailio. A pending transfer lives in the shared store with a lease;
// when its home is killed (SIGKILL), another instance adopts it and finishes it, and both agents'
// tabs and /events hear the outcome. A target is reserved cluster-wide while it is asked.
//
// Browser-mode agents (device 1) are played by socket tabs that speak the voice tab's protocol
// (call reports, `voice.transfer`): the gateway's side of a browser call is what is under test.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { preferredInstance } from '@callgate/coordination';
import type { VoiceTransferRequest } from '@callgate/contracts';
import { startLab, type Lab } from '../apps/lab/src/lab.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { API_KEY, labDomainsYaml, MOBILE_PREFIX, rest } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const LEASE_MS = 3_000;
const TRANSFER_TIMEOUT_MS = 12_000;
/** kill -9 to an outcome: the lease lapses, the next tick (a third of it) adopts */
const TAKEOVER_BOUND_MS = 15_000;

/** Server-side (mode 4) agents: the first whose owner among `ids` would be `wanted`. */
function agentOwnedBy(wanted: string, ids: readonly string[], from: number): string {
  for (let ext = from; ; ext++) {
    if (preferredInstance({ domain: 'demo', ipphone: String(ext) }, ids) === wanted) return String(ext);
  }
}

const TWO = ['gw-a', 'gw-b'] as const;
const serverSource = agentOwnedBy('gw-a', TWO, 6100);
const serverSource2 = agentOwnedBy('gw-b', TWO, 6100);
const deskAgents = [serverSource, serverSource2];
const [browserSource, target, browserSource3, target3] = ['7000', '7001', '7010', '7011'];

describe('transfers that outlive their instance (real processes, one Redis, the lab PBX)', () => {
  let redis: RedisServer;
  let lab: Lab;
  let dir: string;
  const gw: Record<string, GatewayProcess> = {};
  const tabs = new AgentTabs(() => gw['gw-b']?.url ?? '');

  const spawn = (instanceId: string, keyPrefix: string): Promise<GatewayProcess> =>
    spawnGateway({
      instanceId,
      configPath: join(dir, 'domains.yaml'),
      redisUrl: redis.url,
      keyPrefix,
      leaseMs: LEASE_MS,
      env: { RING_TIMEOUT_MS: '8000', TRANSFER_TIMEOUT_MS: String(TRANSFER_TIMEOUT_MS) },
    });
  const events = async (via: GatewayProcess): Promise<Tab> =>
    tabs.add(await Tab.open(via.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }));
  /** A browser-mode voice tab on `via` with an answered customer call (reported as its phone would). */
  const browserCall = async (via: GatewayProcess, ipphone: string): Promise<{ tab: Tab; callId: string }> => {
    const tab = await tabs.open(ipphone, { url: via.url });
    expect(tab.of('session.ready')[0]?.data.isEnable).toBe(true);
    const callId = `b-${randomUUID()}`;
    expect(
      await tab.raw('call.report', { type: 'call.ringing', callId, data: { phone: '0901000009' } }),
    ).toMatchObject({ ok: true });
    expect(await tab.raw('call.report', { type: 'call.accepted', callId, data: {} })).toMatchObject({
      ok: true,
    });
    return { tab, callId };
  };
  const askTransfer = (via: GatewayProcess, source: string, callId: string, to: string) =>
    rest(via, 'POST', `/v1/demo/agents/${source}/calls/${callId}/transfer/agent`, { ipphone: to });
  const stopAll = async (): Promise<void> => {
    await tabs.closeAll();
    await Promise.all(Object.values(gw).map((g) => g.stop()));
    for (const id of Object.keys(gw)) delete gw[id];
  };

  beforeAll(async () => {
    redis = await startRedis();
    lab = await startLab({ mobilePrefix: MOBILE_PREFIX, customers: 2, ipPhones: deskAgents });
    dir = mkdtempSync(join(tmpdir(), 'callgate-takeover-'));
    writeFileSync(
      join(dir, 'domains.yaml'),
      labDomainsYaml(lab.pbx.wsUri, {}, [
        ...deskAgents.map((ext) => ({ ext, device: 4 as const })),
        ...[browserSource, target, browserSource3, target3].map((ext) => ({ ext, device: 1 as const })),
      ]),
    );
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await lab?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  describe('two instances', () => {
    beforeAll(async () => {
      for (const id of TWO) gw[id] = await spawn(id, 'two:');
    }, 60_000);
    afterEach(async () => {
      await tabs.closeAll();
    });

    it('a target asked through A is busy for a source on B; kill -9 of A: B ends the transfer (CALL_ENDED) for both agents and /events, and frees the target', async () => {
      const [a, b] = [gw['gw-a']!, gw['gw-b']!];
      await eventually(
        async () => {
          // Each by its preferred instance (the first to start may have claimed both for a while).
          const owners: Array<[string, string]> = [
            [serverSource, 'gw-a'],
            [serverSource2, 'gw-b'],
          ];
          for (const [ext, owner] of owners) {
            const sip = (await rest(b, 'GET', `/v1/demo/agents/${ext}`)).body.sip as {
              registered?: boolean;
              owner?: string;
            } | null;
            if (!sip?.registered || sip.owner !== owner) return undefined;
          }
          return true;
        },
        30_000,
        'both desk agents registered, each by its preferred instance',
      );
      const backend = await events(b);
      const targetTab = await tabs.open(target, { url: b.url });
      const sourceTab = await tabs.open(serverSource, { url: b.url });
      const customer = lab.bot('0901000001');
      const call = customer.call(serverSource);
      const accepted = await backend.waitFor(
        (e) => e.type === 'call.accepted' && e.ipphone === serverSource,
        15_000,
      );
      const callId = accepted.callId ?? '';
      // Asked through B, run by A (the source's owner).
      const asked = await askTransfer(b, serverSource, callId, target);
      expect(asked).toMatchObject({ status: 200, body: { callId } });
      const request = await targetTab.waitFor((e) => e.type === 'transfer.request', 5_000);
      const transferId = (request.data as { transferId: string }).transferId;

      // A second source, on B, finds the target reserved by A's transfer.
      const customer2 = lab.bot('0901000002');
      const call2 = customer2.call(serverSource2);
      const accepted2 = await backend.waitFor(
        (e) => e.type === 'call.accepted' && e.ipphone === serverSource2,
        15_000,
      );
      const refused = await askTransfer(b, serverSource2, accepted2.callId ?? '', target);
      expect(refused.body).toMatchObject({ code: 'TRANSFER_CALL_FAILED' });
      const busy = await backend.waitFor(
        (e) => e.type === 'transfer.failed' && e.ipphone === serverSource2,
        5_000,
      );
      expect(busy.data).toMatchObject({ reason: 'TARGET_BUSY', agent: { ipphone: target } });
      expect(targetTab.of('transfer.request')).toHaveLength(1);

      a.signal('SIGKILL');
      const killedAt = Date.now();
      await a.exited;
      delete gw['gw-a'];
      const failed = await backend.waitFor(
        (e) => e.type === 'transfer.failed' && e.ipphone === serverSource,
        TAKEOVER_BOUND_MS,
      );
      console.log(`pending transfer ended by the survivor ${Date.now() - killedAt} ms after kill -9`);
      expect(failed.data).toMatchObject({ transferId, reason: 'CALL_ENDED', callId });
      const toTarget = await targetTab.waitFor((e) => e.type === 'transfer.failed', 5_000);
      expect(toTarget.data).toMatchObject({ transferId, reason: 'CALL_ENDED' });
      expect(b.output()).toMatch(new RegExp(`transfer ${transferId}: adopted from gw-a`));
      const lost = await backend.waitFor(
        (e) => e.type === 'call.ended' && e.callId === callId,
        TAKEOVER_BOUND_MS,
      );
      expect(lost.data).toMatchObject({ cause: 'INSTANCE_LOST' });
      // The source's tab, connected to B all along, heard it too.
      await sourceTab.waitFor((e) => e.type === 'transfer.failed', 5_000);

      // The target is free again: the second source may ask it now.
      // (the survivor frees the reservation as it ends the transfer; asked again until it is free)
      await eventually(
        async () => {
          const again = await askTransfer(b, serverSource2, accepted2.callId ?? '', target);
          return again.status === 200 ? again : undefined;
        },
        10_000,
        'the target free again for the second source',
      );
      await targetTab.nth('transfer.request', 2, 5_000);
      expect(await targetTab.command('transfer.respond', { accept: false })).toMatchObject({ ok: true });
      await eventually(
        () =>
          Promise.resolve(
            backend
              .of('transfer.failed')
              .find((e) => e.ipphone === serverSource2 && e.data.reason === 'REJECTED'),
          ),
        5_000,
        'the second source told REJECTED',
      );
      await customer.hangup(call).catch(() => undefined);
      await customer2.hangup(call2);
    }, 120_000);

    it('a browser-mode source on A, its voice tab never back after kill -9: B lets the request lapse (TIMEOUT) for the target and /events', async () => {
      gw['gw-a'] = await spawn('gw-a', 'two:');
      const [a, b] = [gw['gw-a'], gw['gw-b']!];
      const backend = await events(b);
      const targetTab = await tabs.open(target, { url: b.url });
      const { callId } = await browserCall(a, browserSource);
      expect(await askTransfer(b, browserSource, callId, target)).toMatchObject({ status: 200 });
      const request = await targetTab.waitFor((e) => e.type === 'transfer.request', 5_000);
      const { transferId, expiresAt } = request.data as { transferId: string; expiresAt: string };

      a.signal('SIGKILL');
      await a.exited;
      delete gw['gw-a'];
      const lapsed = await targetTab.waitFor(
        (e) => e.type === 'transfer.failed',
        TRANSFER_TIMEOUT_MS + TAKEOVER_BOUND_MS,
      );
      expect(lapsed.data).toMatchObject({ transferId, reason: 'TIMEOUT', callId });
      // Not before the request's own deadline: nobody answered, nobody cut it short.
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
      const seen = await backend.waitFor(
        (e) => e.type === 'transfer.failed' && e.ipphone === browserSource,
        5_000,
      );
      expect(seen.data).toMatchObject({ transferId, reason: 'TIMEOUT' });
    }, 120_000);

    afterAll(stopAll, 60_000);
  });

  describe('three instances', () => {
    const THREE = ['gw-a', 'gw-b', 'gw-c'] as const;
    beforeAll(async () => {
      for (const id of THREE) gw[id] = await spawn(id, 'three:');
    }, 60_000);

    it('kill -9 of the home of a pending transfer: the instance the source’s voice tab returns to adopts it, the target accepts through a third, the move goes through', async () => {
      const [a, b, c] = [gw['gw-a']!, gw['gw-b']!, gw['gw-c']!];
      const backend = await events(b);
      const targetTab = await tabs.open(target3, { url: b.url });
      const { callId } = await browserCall(a, browserSource3);
      expect(await askTransfer(c, browserSource3, callId, target3)).toMatchObject({ status: 200 });
      const request = await targetTab.waitFor((e) => e.type === 'transfer.request', 5_000);
      const { transferId } = request.data as { transferId: string };

      a.signal('SIGKILL');
      await a.exited;
      delete gw['gw-a'];
      // The source's page reconnects to C, takes voice back and reports the call it still carries.
      const back = await tabs.open(browserSource3, { url: c.url });
      const moves: VoiceTransferRequest[] = [];
      back.socket.on('voice.transfer', (req, ack) => {
        moves.push(req);
        ack({ ok: true, callId: req.callId });
      });
      expect(await back.command('voice.enable', {})).toMatchObject({ ok: true });
      expect(await back.raw('call.report', { type: 'call.accepted', callId, data: {} })).toMatchObject({
        ok: true,
      });
      await c.waitForLog(new RegExp(`transfer ${transferId}: adopted from gw-a`), TAKEOVER_BOUND_MS);
      expect(b.output()).not.toMatch(new RegExp(`transfer ${transferId}: adopted`));

      // The target answers through B; C holds the request and moves the customer.
      expect(await targetTab.command('transfer.respond', { accept: true })).toMatchObject({
        ok: true,
        callId,
        transferId,
      });
      const succeeded = await backend.waitFor(
        (e) => e.type === 'transfer.succeeded' && e.ipphone === browserSource3,
        10_000,
      );
      expect(succeeded.data).toMatchObject({ transferId, callId, agent: { ipphone: target3 } });
      expect(moves).toHaveLength(1);
      expect(moves[0]).toMatchObject({ callId });
      expect(moves[0]?.target).toContain(`sip:${target3}@`);
      expect(moves[0]?.target).toContain(transferId);
      const response = await targetTab.waitFor((e) => e.type === 'transfer.response', 5_000);
      expect(response.data).toMatchObject({ transferId, status: 'OK' });
      await back.waitFor((e) => e.type === 'transfer.succeeded', 5_000);
      // Finished: the store no longer holds it nor reserves the target.
      const store = new Redis(redis.url);
      try {
        expect(await store.exists(`three:transfer:${transferId}`)).toBe(0);
        expect(await store.get(`three:transfer:target:demo:${target3}`)).toBeNull();
      } finally {
        await store.quit();
      }
    }, 120_000);
  });
});
