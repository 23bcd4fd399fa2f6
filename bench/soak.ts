/**
 * `npm run soak` (not part of `npm test`): a long, bounded run of three gateway instances on one
 * real redis-server and the lab Kamailio, 50 agents across the device modes, and a random mix of
 * inbound calls, callouts, holds, transfers, voice moves and tab reloads, while one instance is
 * killed (SIGKILL) and started again and Redis is restarted once. It fails on any anomaly:
 *   - a call whose lifecycle events are incomplete or out of order at /events or at an agent's tab
 *     (every `call.ringing` / `callout.started` ends in exactly one `call.ended`, nothing after it);
 *   - an event lost for a resuming /events subscriber (compared with one that never disconnects;
 *     windows it was told to resync are excused), or an event handed twice to a subscriber's
 *     application: a resume redelivers a few seconds before its resume point, and each subscriber
 *     drops the ids it has seen as a client must (README, "Events are durable"); what gets past
 *     that is an anomaly;
 *   - two tabs of an agent believing they hold voice at once (as their events arrive);
 *   - a SIP dialog left open at the end (a lab bot still in a call, an agent still in a call);
 *   - the resident memory of the instances that ran the whole soak growing over its second half.
 * Writes its figures to BENCHMARKS.md (its own section; the others are kept).
 *
 *   node dist/bench/soak.js [--calls 2000] [--minutes 40] [--concurrency 8]
 *
 * Browser-mode agents (device 1) are played by socket tabs that speak the voice tab's protocol:
 * they take part in voice moves and reloads, not in SIP calls (those need a real page each).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AnyEventEnvelope } from '@callgate/contracts';
import { compareEventIds } from '@callgate/contracts';
import { projectRoot } from '../apps/gateway/src/config.js';
import { startLab, type Lab } from '../apps/lab/src/lab.js';
import { login } from '../test/support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../test/support/gateway-process.js';
import { API_KEY, labDomainsYaml, MOBILE_PREFIX, rest } from '../test/support/lab-gateway.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { Tab } from '../test/support/tabs.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '8' },
    /** a directory to keep every instance's output in (gw-a.log, …; the killed one's as gw-c.1.log) */
    logs: { type: 'string' },
  },
});
const TARGET_CALLS = Number(args.calls);
const MAX_MS = Number(args.minutes) * 60_000;
const CONCURRENCY = Number(args.concurrency);
const IDS = ['gw-a', 'gw-b', 'gw-c'] as const;
const VICTIM = 'gw-c';
const LEASE_MS = 3_000;
const STEP_MS = 30_000;

const modeOf = (ext: number): 1 | 2 | 3 | 4 => (ext < 6220 ? 4 : ext < 6235 ? 2 : ext < 6245 ? 3 : 1);
const AGENTS = Array.from({ length: 50 }, (_, i) => String(6200 + i));
const CALLABLE = AGENTS.filter((ext) => modeOf(Number(ext)) !== 1);
const BROWSER = AGENTS.filter((ext) => modeOf(Number(ext)) === 1);
const CUSTOMERS = Array.from({ length: 16 }, (_, i) => `09010000${String(i + 1).padStart(2, '0')}`);
const LIFECYCLE = (type: string): boolean => type.startsWith('call.') || type.startsWith('callout.');

interface Anomaly {
  kind: string;
  detail: string;
}

const anomalies: Anomaly[] = [];
const anomaly = (kind: string, detail: string): void => {
  anomalies.push({ kind, detail });
  if (anomalies.length <= 50) console.error(`[soak] ANOMALY ${kind}: ${detail}`);
};
const counts = {
  inbound: 0,
  callouts: 0,
  holds: 0,
  transfers: 0,
  transfersSucceeded: 0,
  voiceMoves: 0,
  reloads: 0,
  failedSteps: 0,
  instanceKills: 0,
  instanceRestarts: 0,
  redisRestarts: 0,
};

/** How many recent ids a subscriber passes on to its next connection (as the SDK keeps 1,024). */
const RECENT_IDS = 1024;

/**
 * What a subscriber's application is handed, with its id order checked. Its subscriber (LiveTab)
 * drops the ids it has seen; an id handed here twice is an anomaly.
 */
class Stream {
  readonly events: AnyEventEnvelope[] = [];
  readonly ids = new Set<string>();
  /** [afterId, firstIdAfter) windows the subscriber was told it missed (resync) */
  readonly gaps: { after: string; until?: string }[] = [];
  lastId: string | undefined;
  duplicates = 0;
  /** events that arrived after one with a larger id */
  inversions = 0;
  /** the ids handed last, oldest first (at most RECENT_IDS) */
  readonly recent: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly name: string) {}

  push(e: AnyEventEnvelope): void {
    if (e.type === 'events.resync') {
      this.gaps.push({ after: e.data.afterId });
      return;
    }
    if (this.ids.has(e.id)) {
      this.duplicates += 1;
      anomaly('duplicate', `${this.name}: ${e.type} ${e.id} handed to the application twice`);
      return;
    }
    const gap = this.gaps.at(-1);
    if (gap && gap.until === undefined) gap.until = e.id;
    // Live events produced on different instances may cross (each instance's own are in order):
    // counted, not an anomaly; the order within each call is checked by checkCalls.
    if (this.lastId !== undefined && compareEventIds(e.id, this.lastId) < 0 && e.type !== 'session.ready')
      this.inversions += 1;
    if (this.lastId === undefined || compareEventIds(e.id, this.lastId) > 0) this.lastId = e.id;
    this.ids.add(e.id);
    this.recent.push(e.id);
    if (this.recent.length > RECENT_IDS) this.recent.shift();
    this.events.push(e);
    for (const wake of this.waiters) wake();
  }

  /** The first event from index `from` on that matches, waiting at most `timeoutMs`. */
  waitFor(match: (e: AnyEventEnvelope) => boolean, timeoutMs: number, what: string, from = 0) {
    return new Promise<AnyEventEnvelope>((resolve, reject) => {
      let index = from;
      const check = (): boolean => {
        for (; index < this.events.length; index++) {
          const e = this.events[index];
          if (e && match(e)) {
            done();
            resolve(e);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const wake = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
      };
      this.waiters.push(wake);
      check();
    });
  }
}

const gw: Record<string, GatewayProcess | undefined> = {};
const liveUrls = (): string[] =>
  IDS.flatMap((id) => {
    const g = gw[id];
    return g ? [g.url] : [];
  });
const anyUrl = (): string => {
  const urls = liveUrls();
  return urls[Math.floor(Math.random() * urls.length)] ?? '';
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** A subscriber that reconnects by itself (with its last id) wherever an instance is alive. */
class LiveTab {
  readonly stream: Stream;
  tab: Tab | undefined;
  voice = false;
  resyncs = 0;
  /** every connection it made (their `redelivered`: what a resume sent again, dropped as seen) */
  private readonly connections: Tab[] = [];
  /** a tab's last snapshot that started afresh: a resume's window before it is covered by it */
  private snapshotAt: string | undefined;
  /** could not reconnect within its bound (the machine too loaded, every instance away) */
  gaveUp = false;
  private closed = false;
  private opening: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly auth: () => Promise<{ domain: string; token?: string; apiKey?: string }>,
    private readonly namespace: '/agent' | '/events',
    private readonly url: () => string,
    private readonly onVoice: () => void = () => undefined,
  ) {
    this.stream = new Stream(name);
  }

  /** Events resumes sent again that this subscriber dropped as seen (never handed to the stream). */
  get redelivered(): number {
    return this.connections.reduce((sum, tab) => sum + tab.redelivered.length, 0);
  }

  open(): Promise<void> {
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** Closes and opens again with its last id (a page reload that resumes). */
  async reload(): Promise<void> {
    const tab = this.tab;
    this.tab = undefined;
    this.setVoice(false);
    tab?.close();
    await this.open();
  }

  close(): void {
    this.closed = true;
    this.tab?.close();
  }

  private setVoice(value: boolean): void {
    this.voice = value;
    this.onVoice();
  }

  private async connect(): Promise<void> {
    const deadline = Date.now() + 180_000;
    while (!this.closed) {
      try {
        const lastEventId = this.stream.lastId;
        // As the SDK: the ids seen lately are dropped from the replay (which starts a few seconds
        // before lastEventId), and so, for a tab, is what its last fresh snapshot covered.
        const tab = await Tab.open(
          this.url(),
          { ...(await this.auth()), ...(lastEventId ? { lastEventId } : {}) },
          {
            namespace: this.namespace,
            seen: this.stream.recent,
            ...(this.snapshotAt ? { floor: this.snapshotAt } : {}),
          },
        );
        const refused = tab.of('session.error')[0];
        if (refused) {
          tab.close();
          throw new Error(`refused: ${refused.data.code}`);
        }
        this.tab = tab;
        this.connections.push(tab);
        const handle = (e: AnyEventEnvelope): void => {
          if (e.type === 'session.ready') {
            if (e.data.resumed && 'resync' in e.data.resumed) this.resyncs += 1;
            if (!e.data.resumed || 'resync' in e.data.resumed) this.snapshotAt = e.id;
            this.setVoice(e.data.isEnable);
          } else if (e.type === 'voice.changed') this.setVoice(e.data.isEnable);
          this.stream.push(e);
        };
        // Only event envelopes (requests to the voice tab, such as voice.stop, are not events),
        // less those dropped as seen.
        for (const e of tab.events) handle(e);
        tab.onEvent(handle);
        tab.socket.on('disconnect', () => {
          if (this.tab !== tab) return;
          this.tab = undefined;
          this.setVoice(false);
          if (!this.closed)
            void this.open().catch((err: unknown) => {
              // The tab is gone for good: its stream is incomplete from here (its checks are excused).
              this.gaveUp = true;
              console.warn(`[soak] ${this.name} could not reconnect: ${String(err)}`);
            });
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500)); // an instance is starting or gone: try another
      }
    }
  }
}

/** Every lifecycle call seen on a stream: complete, ordered, exactly one call.ended. */
function checkCalls(stream: Stream, excuseIncomplete: boolean): { calls: number; excused: number } {
  const byCall = new Map<string, string[]>();
  for (const e of stream.events) {
    if (!LIFECYCLE(e.type) || e.callId === undefined) continue;
    const list = byCall.get(e.callId) ?? [];
    list.push(e.type);
    byCall.set(e.callId, list);
  }
  let excused = 0;
  const ids = new Map<string, string>();
  for (const e of stream.events) {
    if (!LIFECYCLE(e.type) || e.callId === undefined) continue;
    const before = ids.get(e.callId);
    if (before !== undefined && compareEventIds(e.id, before) < 0)
      anomaly('order', `${stream.name}: call ${e.callId}: ${e.type} ${e.id} after ${before}`);
    ids.set(e.callId, e.id);
  }
  for (const [callId, types] of byCall) {
    const first = types[0] ?? '';
    const ended = types.filter((t) => t === 'call.ended').length;
    const started = first === 'call.ringing' || first === 'callout.started';
    if (!started || ended === 0) {
      if (excuseIncomplete) {
        excused += 1;
        continue;
      }
      anomaly('incomplete', `${stream.name}: call ${callId}: ${types.join(' ')}`);
    } else if (ended > 1) anomaly('double-end', `${stream.name}: call ${callId}: ${types.join(' ')}`);
    else if (types.at(-1) !== 'call.ended')
      anomaly('after-end', `${stream.name}: call ${callId}: ${types.join(' ')}`);
  }
  return { calls: byCall.size, excused };
}

/** Resident memory of a live process; NaN for one that is gone (reported as an anomaly already). */
function rssMb(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return Number.NaN;
  }
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** What main opened, closed last-opened first (on success and on failure alike). */
const cleanups: (() => Promise<void> | void)[] = [];
async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) {
    try {
      await step();
    } catch (err) {
      console.warn(`[soak] clean-up: ${String(err)}`);
    }
  }
}

/** Errors thrown by the lab's JsSIP bots outside any call of ours (a bot's hang-up racing its set-up). */
let labErrors = 0;

async function main(): Promise<void> {
  const started = Date.now();
  process.on('uncaughtException', (err) => {
    labErrors += 1;
    console.warn(
      `[soak] uncaught in a lab bot: ${err.stack?.split('\n').slice(0, 3).join(' | ') ?? err.message}`,
    );
  });
  const redis: RedisServer = await startRedis();
  cleanups.push(() => redis.stop());
  const mobiles = AGENTS.filter((ext) => modeOf(Number(ext)) === 3).map((ext) => `09300000${ext.slice(-2)}`);
  const lab: Lab = await startLab({
    mobilePrefix: MOBILE_PREFIX,
    customers: CUSTOMERS,
    ipPhones: AGENTS.filter((ext) => [2, 4].includes(modeOf(Number(ext)))),
    mobiles,
  });
  cleanups.push(() => lab.close());
  const dir = mkdtempSync(join(tmpdir(), 'callgate-soak-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(async () => {
    for (const g of Object.values(gw)) if (g) await g.stop();
  });
  writeFileSync(
    join(dir, 'domains.yaml'),
    labDomainsYaml(
      lab.pbx.wsUri,
      {},
      AGENTS.map((ext) => ({ ext, device: modeOf(Number(ext)) })),
    ),
  );
  /** Instances the soak kills itself; any other that exits is an anomaly (its output is kept). */
  const killed = new WeakSet<GatewayProcess>();
  let stopping = false;
  const spawn = async (id: string): Promise<GatewayProcess> => {
    const g = await spawnGateway({
      instanceId: id,
      configPath: join(dir, 'domains.yaml'),
      redisUrl: redis.url,
      keyPrefix: 'soak:',
      leaseMs: LEASE_MS,
      startTimeoutMs: 90_000,
      env: { RING_TIMEOUT_MS: '8000', TRANSFER_TIMEOUT_MS: '8000' },
    });
    void g.exited.then((code) => {
      if (killed.has(g) || stopping) return;
      const tail = g.output().trimEnd().split('\n').slice(-5).join(' | ');
      anomaly('instance-died', `${id} exited by itself (${String(code)}): ${tail}`);
      keepLog(`${id}.died`, g);
      if (gw[id] === g) gw[id] = undefined;
    });
    return g;
  };
  for (const id of IDS) gw[id] = await spawn(id);
  const opened: LiveTab[] = [];
  cleanups.push(() => {
    for (const tab of opened) tab.close();
  });
  const tokens = new Map<string, string>();
  const tokenOf = async (ipphone: string): Promise<string> => {
    let token = tokens.get(ipphone);
    if (token === undefined) {
      token = await login(anyUrl(), ipphone);
      tokens.set(ipphone, token);
    }
    return token;
  };
  const onAgent = (ipphone: string, n: number): LiveTab =>
    new LiveTab(
      `tab ${ipphone}#${n}`,
      async () => ({ domain: 'demo', token: await tokenOf(ipphone) }),
      '/agent',
      anyUrl,
      () => checkVoice(ipphone),
    );
  const agentTabs = new Map<string, LiveTab[]>();
  const checkVoice = (ipphone: string): void => {
    const holders = (agentTabs.get(ipphone) ?? []).filter((t) => t.voice);
    if (holders.length > 1) anomaly('two-voice', `${ipphone}: ${holders.map((t) => t.name).join(', ')}`);
  };
  // The reference subscriber stays on gw-a (never killed); the resuming one starts on the victim.
  const reference = new LiveTab(
    '/events reference',
    () => Promise.resolve({ domain: 'demo', apiKey: API_KEY }),
    '/events',
    () => gw['gw-a']?.url ?? '',
  );
  const resuming = new LiveTab(
    '/events resuming',
    () => Promise.resolve({ domain: 'demo', apiKey: API_KEY }),
    '/events',
    () => gw[VICTIM]?.url ?? anyUrl(),
  );
  await reference.open();
  await resuming.open();
  opened.push(reference, resuming);
  for (const ipphone of AGENTS) {
    const tabs = [onAgent(ipphone, 1), ...(BROWSER.includes(ipphone) ? [onAgent(ipphone, 2)] : [])];
    agentTabs.set(ipphone, tabs);
    for (const tab of tabs) {
      await tab.open();
      opened.push(tab);
    }
  }
  const ref = reference.stream;
  console.log(
    `[soak] cluster, lab and ${opened.length} tabs up in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  // Every server-side agent registered before the run starts.
  const registeredBy = Date.now() + 60_000;
  for (const ext of CALLABLE) {
    for (;;) {
      const sip = (await rest({ url: anyUrl() }, 'GET', `/v1/demo/agents/${ext}`)).body.sip as {
        registered?: boolean;
      } | null;
      if (sip?.registered) break;
      if (Date.now() > registeredBy) throw new Error(`${ext} not registered`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const freeAgents = new Set(CALLABLE);
  const freeCustomers = new Set(CUSTOMERS);
  const take = <T>(set: Set<T>): T | undefined => {
    const item = pick([...set]);
    if (item !== undefined) set.delete(item);
    return item;
  };
  const tabOf = (ipphone: string): LiveTab | undefined => agentTabs.get(ipphone)?.[0];
  let callsDone = 0;
  let paused: Promise<void> | undefined;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  /** One inbound call: maybe held, maybe transferred, then hung up by the customer. */
  const inbound = async (agent: string, number: string): Promise<string[]> => {
    const customer = lab.bot(number);
    const from = ref.events.length;
    const sipCall = customer.call(agent);
    const ends: string[] = [];
    try {
      const accepted = await ref.waitFor(
        (e) => e.type === 'call.accepted' && e.ipphone === agent,
        STEP_MS,
        `call.accepted of ${agent}`,
        from,
      );
      const callId = accepted.callId ?? '';
      ends.push(callId);
      counts.inbound += 1;
      if (Math.random() < 0.25) {
        const url = anyUrl();
        if ((await rest({ url }, 'POST', `/v1/demo/agents/${agent}/calls/${callId}/hold`)).status === 200) {
          await ref.waitFor((e) => e.type === 'call.held' && e.callId === callId, STEP_MS, 'call.held', from);
          await rest({ url: anyUrl() }, 'POST', `/v1/demo/agents/${agent}/calls/${callId}/hold`);
          await ref.waitFor(
            (e) => e.type === 'call.unheld' && e.callId === callId,
            STEP_MS,
            'call.unheld',
            from,
          );
          counts.holds += 1;
        }
      }
      if (Math.random() < 0.2) {
        const target = take(freeAgents);
        if (target !== undefined) {
          try {
            const targetTab = tabOf(target);
            const mark = targetTab?.stream.events.length ?? 0;
            const asked = await rest(
              { url: anyUrl() },
              'POST',
              `/v1/demo/agents/${agent}/calls/${callId}/transfer/agent`,
              {
                ipphone: target,
              },
            );
            counts.transfers += 1;
            if (asked.status === 200 && targetTab) {
              await targetTab.stream.waitFor(
                (e) => e.type === 'transfer.request',
                STEP_MS,
                'transfer.request',
                mark,
              );
              await targetTab.tab?.command('transfer.respond', { accept: true }, STEP_MS);
              const outcome = await ref.waitFor(
                (e) =>
                  (e.type === 'transfer.succeeded' || e.type === 'transfer.failed') && e.callId === callId,
                STEP_MS * 2,
                'transfer outcome',
                from,
              );
              if (outcome.type === 'transfer.succeeded') {
                counts.transfersSucceeded += 1;
                const ringing = await ref.waitFor(
                  (e) =>
                    e.type === 'call.ringing' && e.ipphone === target && e.data.customerCallId === callId,
                  STEP_MS,
                  'the target’s call.ringing',
                  from,
                );
                ends.push(ringing.callId ?? '');
              }
            }
          } finally {
            // released once this call's ends are seen (the target may carry the customer)
            ends.push(`release:${target}`);
          }
        }
      }
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 600)); // talk time
      return ends;
    } finally {
      await customer.hangup(sipCall).catch(() => undefined);
    }
  };

  /** One callout: the agent's device, then the customer; hung up by the customer. */
  const callout = async (agent: string, number: string): Promise<string[]> => {
    const customer = lab.bot(number);
    const from = ref.events.length;
    const dialled = await rest({ url: anyUrl() }, 'POST', `/v1/demo/agents/${agent}/calls`, { number });
    if (dialled.status !== 201)
      throw new Error(`callout refused: ${dialled.status} ${JSON.stringify(dialled.body)}`);
    const callId = String(dialled.body.callId);
    counts.callouts += 1;
    await ref.waitFor(
      (e) => e.type === 'call.customerAccepted' && e.callId === callId,
      STEP_MS,
      'call.customerAccepted',
      from,
    );
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 600)); // talk time
    await customer.hangup().catch(() => undefined);
    return [callId];
  };

  const worker = async (): Promise<void> => {
    while (callsDone < TARGET_CALLS && Date.now() - started < MAX_MS) {
      if (paused) await paused;
      const roll = Math.random();
      inFlight += 1;
      try {
        if (roll < 0.08) {
          const ipphone = pick(BROWSER);
          const tab = pick(agentTabs.get(ipphone) ?? []);
          const ack = await tab.tab?.command('voice.enable', {}, STEP_MS);
          if (ack?.ok) counts.voiceMoves += 1;
          continue;
        }
        if (roll < 0.12) {
          await pick(opened.slice(2)).reload();
          counts.reloads += 1;
          continue;
        }
        const agent = take(freeAgents);
        const number = take(freeCustomers);
        if (agent === undefined || number === undefined) {
          if (agent !== undefined) freeAgents.add(agent);
          if (number !== undefined) freeCustomers.add(number);
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const from = ref.events.length;
        let ends: string[] = [];
        try {
          ends = roll < 0.75 ? await inbound(agent, number) : await callout(agent, number);
        } catch (err) {
          counts.failedSteps += 1;
          if (counts.failedSteps <= 30) console.warn(`[soak] step failed: ${(err as Error).message}`);
        } finally {
          callsDone += 1;
          const releases = ends.filter((id) => id.startsWith('release:')).map((id) => id.slice(8));
          // The agents go back to the pool once their calls ended (bounded: a missing end is found by the checks).
          await Promise.all(
            ends
              .filter((id) => id !== '' && !id.startsWith('release:'))
              .map((callId) =>
                ref
                  .waitFor(
                    (e) => e.type === 'call.ended' && e.callId === callId,
                    STEP_MS * 2,
                    `call.ended ${callId}`,
                    from,
                  )
                  .catch(() => undefined),
              ),
          );
          freeAgents.add(agent);
          for (const r of releases) freeAgents.add(r);
          freeCustomers.add(number);
          if (callsDone % 100 === 0 && callsDone > 0)
            console.log(
              `[soak] ${callsDone} calls, ${anomalies.length} anomalies, ${Math.round((Date.now() - started) / 1000)} s`,
            );
        }
      } catch (err) {
        counts.failedSteps += 1;
        if (counts.failedSteps <= 30) console.warn(`[soak] step failed: ${(err as Error).message}`);
      } finally {
        inFlight -= 1;
        if (inFlight === 0) idle?.();
      }
    }
  };

  /** Faults, by progress: kill -9 of the victim, its restart, a Redis restart with traffic paused. */
  const faults = async (): Promise<void> => {
    const at = (share: number): Promise<void> =>
      new Promise((resolve) => {
        const poll = setInterval(() => {
          // by calls or by time, whichever comes first (the run is bounded by both)
          if (callsDone >= TARGET_CALLS * share || Date.now() - started >= MAX_MS * share) {
            clearInterval(poll);
            resolve();
          }
        }, 200);
      });
    await at(0.3);
    const victim = gw[VICTIM];
    if (victim) {
      console.log('[soak] kill -9 of', VICTIM);
      killed.add(victim);
      victim.signal('SIGKILL');
      await victim.exited;
      keepLog(`${VICTIM}.1`, victim);
      gw[VICTIM] = undefined;
      counts.instanceKills += 1;
    }
    await at(0.4);
    try {
      gw[VICTIM] = await spawn(VICTIM);
      counts.instanceRestarts += 1;
      console.log('[soak] restarted', VICTIM);
    } catch (err) {
      // On an overloaded machine a start can outlast its bound: the run goes on with two instances.
      console.warn(`[soak] ${VICTIM} did not start again: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
    await at(0.65);
    let resume: () => void = () => undefined;
    paused = new Promise((r) => (resume = r));
    if (inFlight > 0) await new Promise<void>((r) => (idle = r));
    console.log('[soak] restarting Redis');
    await redis.restart();
    counts.redisRestarts += 1;
    for (const g of Object.values(gw)) {
      if (!g) continue;
      for (let i = 0; i < 100; i++) {
        const ready = await fetch(`${g.url}/ready`)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ready) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    idle = undefined;
    paused = undefined;
    resume();
  };

  /** With --logs: an instance's output, for reading an anomaly's cause after the run. */
  function keepLog(name: string, g: GatewayProcess): void {
    if (args.logs === undefined) return;
    mkdirSync(args.logs, { recursive: true });
    writeFileSync(join(args.logs, `${name}.log`), g.output());
  }

  const memory: { at: string; a: number; b: number }[] = [];
  const sampleMemory = (at: string): void => {
    const [a, b] = [gw['gw-a'], gw['gw-b']];
    if (a && b) memory.push({ at, a: rssMb(a.pid), b: rssMb(b.pid) });
  };
  const halfway = (async () => {
    while (callsDone < TARGET_CALLS / 2 && Date.now() - started < MAX_MS / 2)
      await new Promise((r) => setTimeout(r, 500));
    sampleMemory('half');
  })();
  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), faults(), halfway]);
  const runMs = Date.now() - started;

  // Drain: every call ended, every SIP dialog closed, on the bots and on the gateway.
  const drainBy = Date.now() + 60_000;
  const inCall = async (ext: string): Promise<boolean> => {
    const res = await rest({ url: anyUrl() }, 'GET', `/v1/demo/agents/${ext}/call`).catch(() => null);
    const body = res?.body as Record<string, unknown> | null | undefined;
    return res?.status === 200 && typeof body?.callId === 'string';
  };
  let openDialogs: number;
  let busyAgents: string[];
  for (;;) {
    openDialogs = lab.bots.reduce((n, bot) => n + bot.calls.filter((c) => !c.isTerminated).length, 0);
    busyAgents = [];
    for (const ext of CALLABLE) if (await inCall(ext)) busyAgents.push(ext);
    if ((openDialogs === 0 && busyAgents.length === 0) || Date.now() > drainBy) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (openDialogs > 0) anomaly('sip-dialog', `${openDialogs} bot calls still up after the drain`);
  if (busyAgents.length > 0) anomaly('sip-dialog', `agents still in a call: ${busyAgents.join(', ')}`);
  for (const [id, g] of Object.entries(gw)) if (g) keepLog(id, g);
  sampleMemory('end');
  stopping = true;
  const [half, end] = [memory.find((m) => m.at === 'half'), memory.find((m) => m.at === 'end')];
  if (half && end) {
    for (const id of ['a', 'b'] as const) {
      if (end[id] > half[id] * 1.5 + 50)
        anomaly(
          'memory',
          `gw-${id}: ${half[id].toFixed(0)} MB at half time, ${end[id].toFixed(0)} MB at the end`,
        );
    }
  }

  // Event checks: the reference /events stream, every agent tab, and the resuming subscriber.
  const refCalls = checkCalls(ref, false);
  let tabCalls = 0;
  let tabExcused = 0;
  for (const tab of opened.slice(2)) {
    const r = checkCalls(tab.stream, tab.resyncs > 0 || tab.gaveUp);
    tabCalls += r.calls;
    tabExcused += r.excused;
  }
  const first = resuming.stream.events[0]?.id;
  const last = resuming.stream.lastId;
  let missing = 0;
  if (first !== undefined && last !== undefined) {
    const excused = (id: string): boolean =>
      resuming.stream.gaps.some(
        (g) =>
          compareEventIds(id, g.after) > 0 && (g.until === undefined || compareEventIds(id, g.until) < 0),
      );
    for (const e of ref.events) {
      if (compareEventIds(e.id, first) < 0 || compareEventIds(e.id, last) > 0) continue;
      if (resuming.stream.ids.has(e.id) || excused(e.id)) continue;
      missing += 1;
      console.log(`[soak] the resuming /events subscriber never got ${e.type} ${e.id} of ${e.ipphone}`);
    }
  }
  if (missing > 0)
    anomaly('lost', `the resuming /events subscriber missed ${missing} events the reference got`);
  const lostBye = anomalies.filter(
    (a) => a.kind === 'incomplete' && a.detail.startsWith('/events reference'),
  ).length;

  await cleanUp();

  const byKind = new Map<string, number>();
  for (const a of anomalies) byKind.set(a.kind, (byKind.get(a.kind) ?? 0) + 1);
  const section = [
    `Run ${new Date().toISOString().slice(0, 16)}Z: three instances on one redis-server, the lab Kamailio, ${AGENTS.length} agents (${CALLABLE.filter((e) => modeOf(Number(e)) === 4).length} in mode 4, ${CALLABLE.filter((e) => modeOf(Number(e)) === 2).length} in mode 2, ${CALLABLE.filter((e) => modeOf(Number(e)) === 3).length} in mode 3, ${BROWSER.length} in mode 1 with two protocol-level tabs each), ${CONCURRENCY} workers, ${(runMs / 60_000).toFixed(1)} min (bounded by ${args.minutes} min).`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| call attempts | ${callsDone} (${counts.inbound} inbound answered, ${counts.callouts} callouts, ${counts.failedSteps} steps refused or failed: mostly around the faults) |`,
    `| calls seen at the reference /events | ${refCalls.calls} |`,
    `| calls checked at agent tabs | ${tabCalls} (${tabExcused} incomplete ones excused: the tab was told to resync, or could not reconnect within 3 min: ${opened.filter((t) => t.gaveUp).length} tabs) |`,
    `| holds, transfers (succeeded), voice moves, tab reloads | ${counts.holds}, ${counts.transfers} (${counts.transfersSucceeded}), ${counts.voiceMoves}, ${counts.reloads} |`,
    `| events at the reference /events, at the resuming one | ${ref.events.length}, ${resuming.stream.events.length} (${resuming.stream.gaps.length} resyncs; ${resuming.redelivered} redelivered by its resumes and dropped by id) |`,
    `| events handed twice to an application (any subscriber, after its dedupe by id) | ${opened.reduce((sum, t) => sum + t.stream.duplicates, 0)} |`,
    `| live events that arrived after one with a larger id (produced on two instances at once) | reference ${ref.events.length > 0 ? ref.inversions : 0}, resuming ${resuming.stream.inversions} |`,
    `| errors thrown inside the lab's JsSIP bots (the soak process, not the gateway) | ${labErrors} |`,
    `| faults injected | kill -9 of ${VICTIM} ×${counts.instanceKills} (started again ×${counts.instanceRestarts}), Redis restarted ×${counts.redisRestarts} (new calls paused meanwhile) |`,
    `| resident memory, gw-a / gw-b | ${half ? `${half.a.toFixed(0)} / ${half.b.toFixed(0)} MB at half time` : 'n/a'}, ${end ? `${end.a.toFixed(0)} / ${end.b.toFixed(0)} MB at the end` : 'n/a'} |`,
    `| calls without their call.ended at /events (the "lost BYE" suspicion) | ${lostBye} |`,
    `| **anomalies** | **${anomalies.length}**${byKind.size > 0 ? ` (${[...byKind].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''} |`,
  ].join('\n');
  console.log(section);
  await writeSection('Soak (npm run soak)', section);
  if (anomalies.length > 0) throw new Error(`${anomalies.length} anomalies`);
}

/** Replaces (or adds) one `## title` section of BENCHMARKS.md, keeping the rest as it is. */
async function writeSection(title: string, markdown: string): Promise<void> {
  const file = join(projectRoot(), 'BENCHMARKS.md');
  const text = await readFile(file, 'utf8').catch(() => '# callgate benchmarks\n');
  const parts = text.split(/^(?=## )/m);
  const body = `## ${title}\n\n${markdown.trim()}\n\n`;
  const index = parts.findIndex((p) => p.startsWith(`## ${title}\n`));
  if (index >= 0) parts[index] = body;
  else parts.push(parts.at(-1)?.endsWith('\n\n') ? body : `\n${body}`);
  await writeFile(file, parts.join(''));
  console.log(`[soak] wrote ${file}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[soak] failed', err);
    void cleanUp().finally(() => process.exit(1));
  },
);
