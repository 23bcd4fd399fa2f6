// The three ports of libs/calls: what the call logic needs from the world, in its own terms.
// Adapters implement them (apps/gateway/src/calls/adapters: libs/sip, the event bus,
// libs/coordination); tests implement them with in-memory fakes. Nothing here names JsSIP, Nest,
// Redis or Socket.IO. Add to these interfaces; do not rename or remove (fakes build on them).
import type {
  CommandAck,
  CommandName,
  CommandPayload,
  EventDataMap,
  EventType,
  VoiceTransferAnswer,
  VoiceTransferRequest,
} from '@callgate/contracts';
import type { AgentConfig, PbxConfig } from '@callgate/auth';

/** An agent: its domain and its extension. */
export interface AgentRef {
  domain: string;
  ipphone: string;
}

// ---- logging ----

/**
 * A named logger of one subsystem (Nest's `Logger` fits as it is). One line per call state change
 * at `log` (info), with the agent (`<domain>/<ipphone>`) and the call id in the message.
 */
export interface CallsLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** Makes the named logger of a subsystem (`CallEngine`, `ServerLine`, `Transfers`, `SIP`...). */
export type LoggerFactory = (name: string) => CallsLogger;

// ---- SIP port: user agents, legs, media ----

/** Audio a leg sends (a MediaStream for WebRTC stacks): opaque to the call logic. */
export type AudioSource = object;
/** Audio a leg receives (a MediaStreamTrack for WebRTC stacks): opaque to the call logic. */
export type AudioTrack = object;

/** Who ended a leg: this side, the far end, or the stack itself (timeouts, transport). */
export type LegOriginator = 'local' | 'remote' | 'system';

/**
 * How a leg ended (`ended`: it had been answered) or failed (`failed`: it never was). `cause` uses
 * libs/sip's names; the call logic reads `rtpTimeout`, `connectionError`, `requestTimeout`,
 * `dialogError`, `noAck`, `webrtcError` (the party vanished) and otherwise only `by`/`statusCode`.
 */
export interface LegEnd {
  cause: string;
  by: LegOriginator;
  /** the final SIP status when there was one: received, or sent by a local reject */
  statusCode?: number;
}

/** The state of a leg, libs/sip's names. */
export type LegState = 'calling' | 'ringing' | 'answering' | 'established' | 'terminated';

/** What a leg tells. `progress`: a 1xx arrived (outgoing); `accepted`: a 2xx was received or sent. */
export interface LegEvents {
  progress: { statusCode: number };
  accepted: Record<string, never>;
  ended: LegEnd;
  failed: LegEnd;
  remoteTrack: { track: AudioTrack };
}

/** Media and headers of a leg placed or answered. */
export interface LegMediaOptions {
  /** the audio the leg sends */
  media: AudioSource;
  extraHeaders?: string[];
  /** outgoing only: the user part of the From URI (the customer's number on a transfer leg) */
  fromUser?: string;
}

/** One SIP dialog (a call leg) of a user agent. */
export interface SipLeg {
  /** the other party's SIP user (From of an incoming leg, To of an outgoing one) */
  readonly remoteUser: string;
  readonly state: LegState;
  readonly isTerminated: boolean;
  /** whether this side put the leg on hold */
  readonly heldLocally: boolean;
  /** the audio received from the peer, once there is some */
  readonly remoteAudioTrack: AudioTrack | undefined;
  /** a header of the INVITE that created an incoming leg */
  requestHeader(name: string): string | undefined;
  answer(options: LegMediaOptions): Promise<void>;
  reject(statusCode: number): void;
  /** ends the leg whatever its state; never rejects */
  hangup(): Promise<void>;
  hold(): Promise<void>;
  unhold(): Promise<void>;
  sendInfoDtmf(digits: string): Promise<void>;
  /** returns a function that removes the listener */
  once<K extends keyof LegEvents>(event: K, listener: (payload: LegEvents[K]) => void): () => void;
}

/** A user agent's registration or connection changed. */
export interface UserAgentEvents {
  incomingCall: { leg: SipLeg };
  registered: Record<string, never>;
  registrationFailed: { cause: string; statusCode?: number; retryInMs?: number };
  disconnected: { reason?: string; transportError?: string };
}

/** A registered SIP account of the gateway (one per server-side line). */
export interface SipUserAgentPort {
  /** the SIP user it registers */
  readonly user: string;
  /** its address of record, `sip:<user>@<sipDomain>` */
  readonly uri: string;
  readonly isConnected: boolean;
  readonly isRegistered: boolean;
  readonly registrationFailures: number;
  /** connects and registers; resolves when registered (it keeps retrying after a rejection) */
  start(): Promise<void>;
  /** sends a REGISTER now (after a fenced line may serve again) */
  refreshRegistration(): void;
  /** hangs every leg up, unregisters and disconnects; idempotent */
  close(reason: string): Promise<void>;
  /** places an outgoing leg (throws when the PBX cannot be reached right now) */
  call(target: string, options: LegMediaOptions): SipLeg;
  /** returns a function that removes the listener */
  on<K extends keyof UserAgentEvents>(event: K, listener: (payload: UserAgentEvents[K]) => void): () => void;
}

/** What a server-side line registers: the agent's account on its domain's PBX. */
export interface UserAgentSpec {
  agent: AgentRef;
  config: AgentConfig;
  pbx: PbxConfig;
  /** audio codecs, preferred first; unset: the stack's default */
  codecs?: string[];
  /** false while the line is fenced: the registration is not refreshed */
  mayRefreshRegistration: () => boolean;
  /** REGISTER retries after a failure (delays grow by `factor`, ± `jitter`); unset: the stack's default */
  registrationRetry?: { initialMs: number; maxMs: number; factor: number; jitter: number };
}

/** The two directions of a bridge: A is the agent's side (device, or transfer target), B the customer. */
export type BridgeDirection = 'aToB' | 'bToA';

/** Relays audio between two legs; `streamToA`/`streamToB` are what each leg is given to send. */
export interface AudioBridgePort {
  readonly streamToA: AudioSource;
  readonly streamToB: AudioSource;
  connect(fromA: AudioTrack, fromB: AudioTrack): void;
  setTrackFromA(track: AudioTrack): void;
  setTrackFromB(track: AudioTrack): void;
  mute(direction: BridgeDirection, muted: boolean): void;
  close(): void;
}

/** A generated tone (ringback). */
export interface TonePort {
  readonly track: AudioTrack;
  stop(): void;
}

/** The SIP stack as the call logic uses it. */
export interface SipPort {
  createUserAgent(spec: UserAgentSpec): SipUserAgentPort;
  createBridge(): AudioBridgePort;
  createTone(options: { frequency: number; amplitude: number }): TonePort;
  /** direct media between a device and a customer; a stack without it bridges every call */
  readonly direct?: DirectMediaPort;
}

// ---- direct media (RFC 3725 third-party call control) ----

/** The media profile a placeholder offer uses: plain RTP (desk phones, trunks) or WebRTC. */
export type MediaProfile = 'rtp' | 'webrtc';

/**
 * Two answered legs joined by direct media: each endpoint has the other's SDP, so RTP flows
 * between them and never through this process. Each method re-INVITEs the legs and resolves once
 * both agree; a leg's refusal rejects and leaves both legs up (a later call retries).
 */
export interface DirectLink {
  /** both endpoints `inactive`: the customer hears silence */
  hold(): Promise<void>;
  unhold(): Promise<void>;
  /** the customer stops hearing the agent: the device `recvonly`, the customer `sendonly` */
  mute(): Promise<void>;
  unmute(): Promise<void>;
  /** the customer talks to `target` (an answered direct leg) instead; the previous device leg is left up */
  retarget(target: SipLeg): Promise<void>;
  /** stops following the legs (their owner hangs them up) */
  close(): void;
}

/**
 * Direct media: legs whose SDP this process hands through instead of terminating media. Each
 * `call...` method places a leg as `SipUserAgentPort.call` does (and throws as it does).
 */
export interface DirectMediaPort {
  /**
   * Places a leg offered `offerer`'s media: a ringing inbound customer's INVITE offer (the device of
   * an inbound call), or an answered customer's SDP (a transfer's target: see {@link callTarget}).
   */
  callWithOfferOf(
    ua: SipUserAgentPort,
    target: string,
    offerer: SipLeg,
    options: { extraHeaders?: string[]; fromUser?: string },
  ): SipLeg;
  /**
   * A transfer's target leg, offered the answered customer's media (then {@link DirectLink.retarget}).
   * `placeholder`: a customer that is an ICE end (a WebRTC one, or any leg of a PBX whose relay
   * forces ICE on WebSocket legs) is offered a plain-RTP placeholder without ICE instead; the
   * result says whether it was.
   */
  callTarget(
    ua: SipUserAgentPort,
    target: string,
    customer: SipLeg,
    options: { extraHeaders: string[]; fromUser: string; placeholder: boolean },
  ): { leg: SipLeg; placeholder: boolean };
  /**
   * Whether a ringing caller's offer is another gateway's transfer placeholder that no media relay
   * rewrote: the placeholder then serves no purpose, and the caller is answered 488 at once so
   * that it offers the customer's own media instead (no call is announced).
   */
  isUnrelayedPlaceholder(caller: SipLeg): boolean;
  /** Whether an answered leg's media is an ICE end (its SDP carries ICE credentials). */
  isIceEnd(leg: SipLeg): boolean;
  /** Whether the gateway's bridge (WebRTC) could answer this ringing customer's offer: not a plain-RTP one. */
  bridgeable(customer: SipLeg): boolean;
  /** The device (placed offered the customer's INVITE) answered: the customer is answered with its SDP. */
  answerCustomer(device: SipLeg, customer: SipLeg): Promise<DirectLink>;
  /** A callout's device leg, offered a placeholder of `profile` (no media) until the customer answers. */
  callDevice(ua: SipUserAgentPort, target: string, profile: MediaProfile, extraHeaders: string[]): SipLeg;
  /**
   * A callout's customer, offered the answered device's SDP; while it rings, its early media (a 183
   * with SDP) goes to the device. Then {@link connectCustomer} once it answers, or
   * {@link abandonCustomer} when it fails.
   */
  callCustomer(ua: SipUserAgentPort, device: SipLeg, target: string, extraHeaders: string[]): SipLeg;
  /** The callout's customer answered: the legs are joined (re-INVITEs). */
  connectCustomer(customer: SipLeg): Promise<DirectLink>;
  /** The callout's customer failed: what its ringing started (early media) stops. */
  abandonCustomer(customer: SipLeg): Promise<void>;
}

// ---- call events port ----

/** The ids an event of a call carries, and where it goes. */
export interface CallEventMeta {
  callId?: string;
  transactionId?: string;
  /** also to the domain's CRM backends on /events (default true) */
  backends?: boolean;
  /**
   * the publisher's grant (epoch) of the agent's ownership lease: the event is stored only while no
   * later grant exists, else `publish` rejects with the store's stale-lease error
   */
  leaseEpoch?: number;
}

/** Publishes an event of an agent (to its tabs, and to the CRM backends unless told not to). */
export interface CallEventsPort {
  publish<T extends EventType>(
    agent: AgentRef,
    type: T,
    data: EventDataMap[T],
    meta?: CallEventMeta,
  ): Promise<void>;
}

// ---- agent location port ----

/** Where an agent's calls live: its server-side line's owner, else the instance of its voice tab. */
export type AgentPlace =
  | { kind: 'line'; instanceId: string; here: boolean }
  | { kind: 'voiceTab'; instanceId: string; tabId: string; here: boolean }
  | { kind: 'none' };

/** Where agents' lines and voice tabs live, across the gateway instances. */
export interface AgentLocationPort {
  /** this gateway instance */
  readonly instanceId: string;
  /** the gateway instances alive at the last heartbeat */
  liveInstances(): readonly string[];
  /** the instance whose line registers the agent, or null when none does */
  lineOwner(agent: AgentRef): Promise<string | null>;
  /** the agent's voice tab (browser mode), or null when none holds the voice lock */
  voiceTab(agent: AgentRef): Promise<{ instanceId: string; tabId: string } | null>;
  /** decided once: the line's owner, else the voice tab's instance, else none */
  locate(agent: AgentRef): Promise<AgentPlace>;
}

// ---- voice tab port (browser mode: the voice tab's in-page phone carries the call) ----

/** Commands to an agent's voice tab, wherever its socket is connected. */
export interface VoiceTabPort {
  /** runs a call command on the voice tab's phone and returns its answer */
  command<K extends CommandName>(
    tabId: string,
    name: K,
    payload: CommandPayload<K>,
    timeoutMs?: number,
  ): Promise<CommandAck<K>>;
  /** asks the voice tab's phone to REFER its customer to `request.target`; its outcome */
  transfer(tabId: string, request: VoiceTransferRequest, timeoutMs: number): Promise<VoiceTransferAnswer>;
}

// ---- peers port (several gateway instances) ----

/** Asks another gateway instance to run a request (`route`) and answer; rejects when it cannot. */
export interface TransferPeersPort {
  /** this gateway instance */
  readonly instanceId: string;
  ask<R>(instanceId: string, route: string, message: unknown): Promise<R>;
}
