// A small world for call-flow tests: one fake SIP stack and PBX, the fake ports, and server-side
// lines of agents of one domain, composed as the gateway composes them (minus Nest and Redis).
import { afterEach, beforeEach, jest } from '@jest/globals';
import type { AgentConfig, PbxConfig, PbxMediaPath } from '@callgate/auth';
import type { EndCause, EndedBy } from '@callgate/call-core';
import type { EventDataMap } from '@callgate/contracts';
import type { AgentState } from '@callgate/coordination';
import type { AgentRef } from '../ports.js';
import { ServerLine } from '../server-line.js';
import { TransferLedger } from '../transfer-ledger.js';
import { FakeCallEvents, RecordingLogger } from './fake-ports.js';
import { FakeSip, type FakeUserAgent, settle } from './fake-sip.js';

export const DOMAIN = 'acme';
/** The fake PBX; bridged media unless a world asks for direct (most flows pin the bridge's audio). */
export const PBX: PbxConfig = {
  wsUri: 'ws://pbx.test:8080',
  sipDomain: 'pbx.test',
  mobilePrefix: '9',
  media: 'bridge',
};
/** How long a line's device rings before the call gives up on it. */
export const RING_TIMEOUT_MS = 20_000;
/** What `call.accepted` and `call.customerAccepted` carry for a call of {@link PBX} (bridged media). */
export const BRIDGED = { media: { path: 'bridge', reason: 'pbx.media is bridge' } } as const;
/** What they carry for a call of a world with `pbx.media: 'direct'` whose device took direct media. */
export const DIRECT = {
  media: { path: 'direct', reason: 'direct media: the device and the customer exchange RTP themselves' },
} as const;

/** How a world is made: its domain's `pbx.media` (unset: {@link PBX}'s, bridge), a SIP stack without direct media. */
export interface WorldOptions {
  media?: PbxMediaPath;
  /** false: the fake SIP port has no `direct` (a stack that can only bridge) */
  direct?: boolean;
}

/** The devices of agent `ipphone`: desk phone `sip:desk<ipphone>@pbx.test`, softphone, mobile. */
export function agentConfig(ipphone: string, devices: Partial<AgentConfig['devices']> = {}): AgentConfig {
  return {
    ipphone,
    name: `Agent ${ipphone}`,
    sip: { user: ipphone, password: 'secret' },
    devices: {
      ipPhone: `sip:desk${ipphone}@pbx.test`,
      softphone: `sip:soft${ipphone}@pbx.test`,
      mobile: '0912345678',
      ...devices,
    },
    defaultDevice: 2,
    canCallOut: true,
    allowedDevices: [1, 2, 3, 4, 6],
  };
}

/** The data of a `call.ended`: why, by whom, after how many seconds of talk. */
export function ended(cause: EndCause, by: EndedBy, duration = 0): EventDataMap['call.ended'] {
  return { cause, by, duration };
}

/** One agent's line in the world, and the knobs a test turns. */
export interface AgentLine {
  agent: AgentRef;
  config: AgentConfig;
  line: ServerLine;
  ua: FakeUserAgent;
  /** the agent's device and call status, read by the line at each call */
  state: AgentState;
  /** false: the line is fenced (another instance holds the agent) */
  serving: boolean;
  /** how many times the line said it became idle */
  idle: number;
  /** how many failed registrations it counted */
  registrationFailures: number;
}

/** What a world is made of; a reset makes them anew. */
function freshParts(options: WorldOptions) {
  return {
    sip: new FakeSip({ direct: options.direct ?? true }),
    events: new FakeCallEvents(),
    ledger: new TransferLedger(),
    logger: new RecordingLogger(),
    lines: [] as AgentLine[],
  };
}

export class CallWorld {
  /** the PBX of the world's domain: {@link PBX}, with the `pbx.media` asked for */
  readonly pbx: PbxConfig;
  private parts: ReturnType<typeof freshParts>;

  constructor(private readonly options: WorldOptions = {}) {
    this.pbx = options.media === undefined ? PBX : { ...PBX, media: options.media };
    this.parts = freshParts(options);
  }

  get sip(): FakeSip {
    return this.parts.sip;
  }
  get events(): FakeCallEvents {
    return this.parts.events;
  }
  get ledger(): TransferLedger {
    return this.parts.ledger;
  }
  get logger(): RecordingLogger {
    return this.parts.logger;
  }
  private get lines(): AgentLine[] {
    return this.parts.lines;
  }

  /** Starts over: a new fake SIP stack and PBX, new ports, no lines. */
  reset(): void {
    this.parts = freshParts(this.options);
  }

  /** A server-side line of agent `ipphone` (device 2, call status On unless told), not started. */
  line(
    ipphone: string,
    options: {
      state?: Partial<AgentState>;
      devices?: Partial<AgentConfig['devices']>;
      codecs?: string[];
    } = {},
  ): AgentLine {
    const agent: AgentRef = { domain: DOMAIN, ipphone };
    const events = this.events;
    const config = agentConfig(ipphone, options.devices);
    const state: AgentState = { deviceType: 2, callStatus: 'on', ...options.state };
    const knobs = {
      state,
      serving: true,
      idle: 0,
      registrationFailures: 0,
    };
    const line = new ServerLine({
      agent,
      config,
      pbx: this.pbx,
      publish: (type, data, call) => events.publish(agent, type, data, call),
      state: () => Promise.resolve({ ...knobs.state }),
      logger: this.logger,
      sip: this.sip,
      ledger: this.ledger,
      ringTimeoutMs: RING_TIMEOUT_MS,
      ...(options.codecs ? { codecs: options.codecs } : {}),
      mayServe: () => knobs.serving,
      onRegistrationFailed: () => {
        knobs.registrationFailures++;
      },
      publishSip: (view) => events.publish(agent, 'agent.sip', view, { backends: true }),
      onIdle: () => {
        knobs.idle++;
      },
    });
    const ua = this.sip.userAgents.at(-1);
    if (!ua) throw new Error('the line made no user agent');
    const entry: AgentLine = Object.assign(knobs, { agent, config, line, ua });
    this.lines.push(entry);
    return entry;
  }

  /** A line, started and registered, with the events of its registration cleared. */
  async registeredLine(ipphone: string, options: Parameters<CallWorld['line']>[1] = {}): Promise<AgentLine> {
    const entry = this.line(ipphone, options);
    const started = entry.line.start();
    await settle();
    await started;
    this.events.clear();
    return entry;
  }

  /**
   * Closes every line, then checks that no leg is left up, every bridge and direct link closed,
   * every tone stopped.
   */
  async close(): Promise<void> {
    await Promise.all(this.lines.map((entry) => entry.line.close('test over')));
    await settle();
    const left = [
      ...this.sip.liveLegs.map((leg) => `a leg to ${leg.target} (${leg.state})`),
      ...this.sip.bridges.filter((bridge) => !bridge.closed).map(() => 'a bridge'),
      ...this.sip.tones.filter((tone) => !tone.stopped).map(() => 'a tone'),
      ...(this.sip.direct?.links ?? []).filter((link) => !link.closed).map(() => 'a direct link'),
    ];
    if (left.length > 0) throw new Error(`left open after the test: ${left.join(', ')}`);
  }
}

/**
 * The world of a describe's tests: made anew before each test, on jest's fake timers (now =
 * 1 000 000 ms); closed and checked after it (see {@link CallWorld.close}).
 */
export function worldEachTest(options: WorldOptions = {}): CallWorld {
  const world = new CallWorld(options);
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    world.reset();
  });
  afterEach(async () => {
    try {
      await world.close();
    } finally {
      jest.useRealTimers();
    }
  });
  return world;
}
