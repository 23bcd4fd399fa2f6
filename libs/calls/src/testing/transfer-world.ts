// The world of transfer-flow tests: a CallWorld's lines and fake PBX, plus what the transfers
// read and write (libs/coordination's in-memory store, the domains file, the voice tabs, the other
// instances), composed with `Transfers` as the gateway composes it.
import { afterEach, beforeEach, jest } from '@jest/globals';
import { type AgentConfig, DomainRegistry, parseDomainsFile } from '@callgate/auth';
import type { DialPurpose } from '@callgate/call-core';
import { type Coordination, createCoordination, MemoryBackend } from '@callgate/coordination';
import { BrowserCalls } from '../browser-calls.js';
import type { AgentRef } from '../ports.js';
import type { ServerLine } from '../server-line.js';
import { Transfers } from '../transfers.js';
import { type AgentLine, type CallWorld, DOMAIN, RING_TIMEOUT_MS, worldEachTest } from './call-world.js';
import { FakeAgentLocation, FakePeers, FakeVoiceTabs, RecordingLogger } from './fake-ports.js';
import { settle } from './fake-sip.js';

/** TRANSFER_TIMEOUT_MS of these tests: how long a request waits for the target. */
export const TRANSFER_TIMEOUT_MS = 10_000;
/** The queue and the survey IVR of the domain. */
export const QUEUE_URI = 'sip:queue-sales@pbx.test';
export const SURVEY_URI = 'sip:survey-csat@pbx.test';

const agentYaml = (ipphone: string): string => `
      "${ipphone}":
        name: "Agent ${ipphone}"
        sip: { user: "${ipphone}", password: "secret" }
        devices: { ipPhone: "sip:desk${ipphone}@pbx.test", softphone: "sip:soft${ipphone}@pbx.test", mobile: "0912345678" }
        defaultDevice: 2`;

/** The domains file: agents 1001-1004 (as call-world's `agentConfig`), one queue, one survey. */
const DOMAINS = `
domains:
  ${DOMAIN}:
    accessKey: "acme-access-key-0123456789abcdef0123"
    apiKeys: ["acme-api-key-0123456789"]
    allowedOrigins: ["*"]
    timezone: Asia/Ho_Chi_Minh
    pbx: { wsUri: "ws://pbx.test:8080", sipDomain: pbx.test, mobilePrefix: "9" }
    queues: { sales: "${QUEUE_URI}" }
    surveys: { csat: "${SURVEY_URI}" }
    agents:${['1001', '1002', '1003', '1004'].map(agentYaml).join('')}
`;

/** How long a transfer's lease lasts unrenewed before another instance adopts it. */
export const LEASE_MS = 3_000;

/** One gateway instance's transfers, over the shared store. */
export interface Composed {
  coordination: Coordination;
  browser: BrowserCalls;
  transfers: Transfers;
}

/** A dial policy check the test sees, and may make refuse. */
export interface DialCheck {
  agent: AgentRef;
  purpose: DialPurpose;
  number: string;
  command: string;
}

export class TransferWorld {
  readonly domains = new DomainRegistry(parseDomainsFile(DOMAINS, 'transfer-world.yaml'));
  /** made anew for each test (see {@link TransferWorld.open}) */
  location = new FakeAgentLocation('gw-1');
  peers = new FakePeers('gw-1');
  voiceTabs = new FakeVoiceTabs();
  logger = new RecordingLogger();
  dialChecks: DialCheck[] = [];
  /** the shared store of every instance of the test */
  backend = new MemoryBackend();
  private opened: Composed | undefined;
  private readonly others: Composed[] = [];
  private readonly lines = new Map<string, AgentLine>();

  constructor(readonly calls: CallWorld) {}

  private get parts(): Composed {
    if (!this.opened) throw new Error('the transfer world is not open (outside a test?)');
    return this.opened;
  }
  get transfers(): Transfers {
    return this.parts.transfers;
  }
  get coordination(): Coordination {
    return this.parts.coordination;
  }
  get browser(): BrowserCalls {
    return this.parts.browser;
  }

  agent(ipphone: string): AgentRef {
    return { domain: DOMAIN, ipphone };
  }

  config(ipphone: string): AgentConfig {
    return this.domains.agent(DOMAIN, ipphone);
  }

  /** A registered line of `ipphone` on this instance, with a tab open (online). */
  async line(ipphone: string): Promise<AgentLine> {
    const entry = await this.calls.registeredLine(ipphone);
    this.lines.set(ipphone, entry);
    this.location.setLineOwner(entry.agent, this.location.instanceId);
    await this.coordination.presence.join(entry.agent, `tab-${ipphone}`);
    return entry;
  }

  async open(): Promise<void> {
    this.location = new FakeAgentLocation('gw-1');
    this.peers = new FakePeers('gw-1');
    this.voiceTabs = new FakeVoiceTabs();
    this.logger = new RecordingLogger();
    this.dialChecks = [];
    this.backend = new MemoryBackend();
    this.opened = await this.compose(this.location, this.peers, (agent) =>
      agent.domain === DOMAIN ? this.lines.get(agent.ipphone)?.line : undefined,
    );
  }

  /**
   * Another gateway instance over the same shared store, events and voice tabs, with no line of
   * its own (closed with the world): where orphaned transfers are adopted.
   */
  async instance(instanceId: string): Promise<Composed & { location: FakeAgentLocation; peers: FakePeers }> {
    const location = new FakeAgentLocation(instanceId, ['gw-1', instanceId]);
    const peers = new FakePeers(instanceId);
    const composed = await this.compose(location, peers, () => undefined);
    this.others.push(composed);
    return { ...composed, location, peers };
  }

  private async compose(
    location: FakeAgentLocation,
    peers: FakePeers,
    line: (agent: AgentRef) => ServerLine | undefined,
  ): Promise<Composed> {
    const coordination = await createCoordination({
      instanceId: location.instanceId,
      memoryBackend: this.backend,
      leaseMs: LEASE_MS,
    });
    const browser = new BrowserCalls({
      location,
      voiceTabs: this.voiceTabs,
      events: this.calls.events,
      ledger: this.calls.ledger,
      logger: this.logger,
      ringTimeoutMs: RING_TIMEOUT_MS,
      setNoAnswer: (agent) => coordination.agents.setCallStatus(agent, 'noAnswer'),
    });
    const transfers = new Transfers({
      domains: this.domains,
      stores: coordination,
      events: this.calls.events,
      location,
      peers,
      lines: {
        line,
        status: (agent) => {
          const here = line(agent);
          return Promise.resolve(
            here ? { registered: here.registered, call: here.call?.model.snapshot() ?? null } : null,
          );
        },
      },
      browser,
      voiceTabs: this.voiceTabs,
      checkDial: (agent, purpose, number, command) => {
        this.dialChecks.push({ agent, purpose, number, command });
        return Promise.resolve();
      },
      ledger: this.calls.ledger,
      logger: this.logger,
      ringTimeoutMs: RING_TIMEOUT_MS,
      transferTimeoutMs: TRANSFER_TIMEOUT_MS,
    });
    return { coordination, browser, transfers };
  }

  async close(): Promise<void> {
    const all = [...(this.opened ? [this.opened] : []), ...this.others.splice(0)];
    this.opened = undefined;
    this.lines.clear();
    for (const { transfers, browser } of all) {
      transfers.close();
      browser.close();
    }
    await Promise.all(all.map(({ coordination }) => coordination.close()));
  }
}

/**
 * The world of a describe's transfer tests: a CallWorld (fake timers, checked for open legs after
 * each test) and the transfers over it, made anew before each test and closed after it.
 */
export function transferWorldEachTest(): TransferWorld {
  const world = new TransferWorld(worldEachTest());
  beforeEach(() => world.open());
  afterEach(() => world.close());
  return world;
}

/**
 * Lets `ms` of fake time pass in steps, every queued microtask running after each step, as a real
 * clock lets the lease keepers renew (one jump would let every lease lapse between two renewals).
 */
export async function pass(ms: number, stepMs = 250): Promise<void> {
  for (let left = ms; left > 0; left -= stepMs) {
    jest.advanceTimersByTime(Math.min(stepMs, left));
    await settle();
  }
}
