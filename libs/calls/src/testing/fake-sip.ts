// An in-memory SIP port for fast call-flow tests: user agents, legs, bridges, tones and direct
// media (links of two legs) with no network, no media and no timers. Remote parties are scripted (how they answer an INVITE, a
// re-INVITE, an INFO) or driven by the test through each leg's `peer`, so a test reads like a
// conversation: "the desk phone answers", "the customer hangs up". A call between two fake user
// agents is routed by the fake PBX: both ends are legs of this port, linked.
//
// What each leg does copies libs/sip over JsSIP (see libs/sip/src/call.ts), since the call logic
// depends on it: a local hangup or reject fires `failed`/`ended` synchronously (by `local`); a
// refused hold re-INVITE ends the call (JsSIP terminates it: `webrtcError`, by `local`); a remote
// CANCEL is `failed` by `remote` without a status; a request that times out is by `system`.
// Everything the far end does is delivered on a later microtask: `await settle()` lets it land.
import type * as port from '../ports.js';

/** Lets every queued microtask run (the fake's deliveries and the call logic's awaits). */
export async function settle(rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Audio a party sends: a label, and the media it was given to send when it is one of ours. */
export class FakeTrack {
  constructor(
    readonly label: string,
    readonly source?: port.AudioSource,
  ) {}
}

/** A media stream of the fake: only its label. */
export class FakeStream {
  constructor(readonly label: string) {}
}

/** What a scripted party answers an INVITE with, step by step: 180, 200, a final failure, or a timeout. */
export type InviteStep = 'ring' | 'answer' | 'timeout' | number;

/** How a remote party behaves. Unset fields: it rings and waits for the test, and accepts every request. */
export interface PartyScript {
  /** its answers to the INVITE, one per microtask (default `['ring']`: it rings until told otherwise) */
  invite?: readonly InviteStep[];
  /** its final status for a re-INVITE (hold, unhold); default 200 */
  reinvite?: number;
  /** its final status for an INFO (DTMF); default 200 */
  info?: number;
  /** false: its leg never gets audio (the call logic waits for a track in vain) */
  audio?: boolean;
}

/** Ready scripts of the parties a call meets. */
export const Party = {
  /** rings, then waits for the test (`leg.peer.answer()`, `.reject()`, `.bye()`) */
  rings: { invite: ['ring'] },
  /** rings and picks up */
  answers: { invite: ['ring', 'answer'] },
  /** picks up at once (an auto-answering phone, an IVR) */
  answersAtOnce: { invite: ['answer'] },
  /** 486 Busy Here */
  busy: { invite: [486] },
  /** rings, then 486 (the agent presses "reject" on the desk phone) */
  declines: { invite: ['ring', 486] },
  /** 404 Not Found */
  notFound: { invite: [404] },
  /** 480 Temporarily Unavailable */
  unavailable: { invite: [480] },
  /** 603 Decline */
  rejects: { invite: ['ring', 603] },
  /** no final answer: the INVITE transaction times out (no status code) */
  timesOut: { invite: ['timeout'] },
  /** says nothing at all: not even a 180 */
  silent: { invite: [] },
  /** rings and answers, but refuses re-INVITEs with 488 (hold and unhold fail) */
  refusesReinvite: { invite: ['ring', 'answer'], reinvite: 488 },
  /** rings and answers, but no audio ever arrives from it */
  answersWithoutAudio: { invite: ['ring', 'answer'], audio: false },
} as const satisfies Record<string, PartyScript>;

/** The JsSIP cause (libs/sip's name) of a final status received. */
function causeOf(status: number): string {
  if (status === 486 || status === 600) return 'busy';
  if (status === 403 || status === 603) return 'rejected';
  if (status === 404 || status === 604) return 'notFound';
  if (status === 408 || status === 410 || status === 430 || status === 480) return 'unavailable';
  if (status === 484) return 'addressIncomplete';
  if (status === 488 || status === 606) return 'incompatibleSdp';
  if (status === 401 || status === 407) return 'authenticationError';
  if (status >= 300 && status < 400) return 'redirected';
  return 'sipFailure';
}

/** The SIP user of a target (`sip:user@host`, `user`, with or without URI headers). */
export function userOf(target: string): string {
  return /^(?:sips?:)?([^@;?]+)/i.exec(target)?.[1] ?? target;
}

type Listener<T> = (payload: T) => void;

/** A minimal typed emitter; listeners run synchronously, in the order they were added. */
class Emitter<M extends object> {
  private entries: { event: keyof M; listener: Listener<never> }[] = [];

  on<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    const entry = { event, listener: listener as Listener<never> };
    this.entries.push(entry);
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
    };
  }

  once<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    const off = this.on(event, (payload: M[K]) => {
      off();
      listener(payload);
    });
    return off;
  }

  emit<K extends keyof M>(event: K, payload: M[K]): void {
    const due = this.entries.filter((e) => e.event === event);
    for (const { listener } of due) (listener as Listener<M[K]>)(payload);
  }
}

/** A request a leg's local side could not make, as libs/sip rejects it. */
export class FakeSipError extends Error {}

/**
 * The far end of a leg, as the test (or the leg's script, or the fake PBX) drives it. Each action
 * is what the far end sends; the leg reacts as libs/sip does.
 */
export class FakePeer {
  constructor(private readonly leg: FakeLeg) {}

  /** A leg the fake PBX routed has one of the fake's user agents at its far end: drive that one. */
  private scripted(what: string): FakeLeg {
    if (this.leg.twin) throw new Error(`${what}: the far end is a user agent of the fake; drive its leg`);
    return this.leg;
  }

  /** 1xx on an outgoing leg (default 180 Ringing) */
  ring(statusCode = 180): void {
    this.scripted('ring').remoteProgress(statusCode);
  }
  /** 200 OK on an outgoing leg */
  answer(): void {
    this.scripted('answer').remoteAnswer();
  }
  /** a final failure (3xx-6xx) on an outgoing leg */
  reject(statusCode: number): void {
    this.scripted('reject').remoteReject(statusCode);
  }
  /** the outgoing INVITE got no final answer in time */
  timeout(): void {
    this.scripted('timeout').remoteTimeout();
  }
  /** CANCEL of an incoming leg: the caller gave up before it was answered */
  cancel(): void {
    if (this.leg.twin) void this.leg.twin.hangup();
    else this.leg.remoteCancel();
  }
  /** BYE: the far end hangs up an answered leg */
  bye(): void {
    if (this.leg.twin) void this.leg.twin.hangup();
    else this.leg.remoteBye();
  }
  /** the far end vanishes without a BYE: the stack ends the leg (`rtpTimeout`, `connectionError`...) */
  vanish(cause = 'rtpTimeout'): void {
    this.leg.vanish(cause);
  }
  /** the DTMF digits the far end received by INFO */
  get digits(): string {
    return this.leg.infoDigits;
  }
}

/** One leg of the fake: implements the port's `port.SipLeg`, records what its local side sent. */
export class FakeLeg implements port.SipLeg {
  readonly peer = new FakePeer(this);
  /** what this side sent, in order: `INVITE`, `CANCEL`, `BYE`, `200`, `486`, `re-INVITE hold`, `INFO 5`... */
  readonly sent: string[] = [];
  /** the audio this side sends (given to `call()` or `answer()`) */
  media: port.AudioSource | undefined;
  /** the far end's leg when the fake PBX routed the call between two of its user agents */
  twin: FakeLeg | undefined;
  private current: port.LegState;
  private held = false;
  private track: port.AudioTrack | undefined;
  private answering: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private readonly events = new Emitter<port.LegEvents>();
  private end: port.LegEnd | undefined;
  private readonly terminatedSignal: Promise<void>;
  private signalTerminated!: () => void;
  /** the digits sent by INFO, as the far end got them */
  infoDigits = '';

  constructor(
    private readonly sip: FakeSip,
    readonly direction: 'outgoing' | 'incoming',
    /** an outgoing leg's target (request URI); an incoming leg's: the user agent's URI */
    readonly target: string,
    readonly remoteUser: string,
    /** the INVITE's extra headers: sent (outgoing) or received (incoming) */
    readonly headers: readonly string[],
    readonly script: PartyScript,
    /** outgoing: the From user asked for (a transfer presents the customer's number) */
    readonly fromUser?: string,
  ) {
    this.current = direction === 'outgoing' ? 'calling' : 'ringing';
    this.terminatedSignal = new Promise((resolve) => {
      this.signalTerminated = resolve;
    });
  }

  // ---- port.SipLeg ----

  get state(): port.LegState {
    return this.current;
  }
  get isTerminated(): boolean {
    return this.current === 'terminated';
  }
  get heldLocally(): boolean {
    return this.held;
  }
  get remoteAudioTrack(): port.AudioTrack | undefined {
    return this.track;
  }
  /** how the leg ended, once it has */
  get ending(): port.LegEnd | undefined {
    return this.end;
  }

  requestHeader(name: string): string | undefined {
    const prefix = `${name.toLowerCase()}:`;
    const line = this.headers.find((h) => h.toLowerCase().startsWith(prefix));
    return line?.slice(prefix.length).trim();
  }

  answer(options: port.LegMediaOptions): Promise<void> {
    if (this.direction !== 'incoming' || this.current !== 'ringing') {
      return Promise.reject(new FakeSipError(`answer(): ${this.direction} ${this.current}`));
    }
    this.media = options.media;
    this.current = 'answering';
    this.sent.push('200');
    return new Promise<void>((resolve, reject) => {
      this.answering = { resolve, reject };
      this.sip.deliver(() => {
        if (this.current !== 'answering') return;
        this.establish();
        this.twin?.remoteAnswer();
      });
    });
  }

  reject(statusCode: number): void {
    if (this.direction !== 'incoming' || this.current !== 'ringing') {
      throw new FakeSipError(`reject(): ${this.direction} ${this.current}`);
    }
    this.sent.push(String(statusCode));
    this.terminate('failed', { cause: 'rejected', by: 'local', statusCode });
    this.twin?.remoteReject(statusCode);
  }

  hangup(): Promise<void> {
    switch (this.current) {
      case 'terminated':
        break;
      case 'calling':
      case 'ringing':
        if (this.direction === 'outgoing') {
          this.sent.push('CANCEL');
          this.terminate('failed', { cause: 'canceled', by: 'local' });
          this.twin?.remoteCancel();
        } else {
          this.sent.push('480');
          this.terminate('failed', { cause: 'rejected', by: 'local', statusCode: 480 });
          this.twin?.remoteReject(480);
        }
        break;
      case 'answering':
      case 'established':
        this.sent.push('BYE');
        this.terminate('ended', { cause: 'bye', by: 'local' });
        this.twin?.remoteBye();
        break;
    }
    return this.terminatedSignal;
  }

  hold(): Promise<void> {
    return this.reinvite(true);
  }

  unhold(): Promise<void> {
    return this.reinvite(false);
  }

  async sendInfoDtmf(digits: string): Promise<void> {
    for (const digit of digits) {
      if (this.current !== 'established') throw new FakeSipError(`sendInfoDtmf(): ${this.current}`);
      this.sent.push(`INFO ${digit}`);
      const status = await this.sip.answer(() => this.script.info ?? 200);
      if (this.isTerminated) throw new FakeSipError('sendInfoDtmf(): the call ended');
      if (status >= 300) throw new FakeSipError(`INFO DTMF failed (${status})`);
      this.infoDigits += digit;
      if (this.twin) this.twin.infoDigits += digit;
    }
  }

  once<K extends keyof port.LegEvents>(event: K, listener: (payload: port.LegEvents[K]) => void): () => void {
    return this.events.once(event, listener);
  }

  // ---- the far end ----

  /** Runs the leg's script for the INVITE (outgoing legs the PBX does not route). */
  play(): void {
    const steps = this.script.invite ?? ['ring'];
    const next = (i: number): void => {
      const step = steps[i];
      if (step === undefined || this.isTerminated) return;
      if (step === 'ring') this.remoteProgress(180);
      else if (step === 'answer') this.remoteAnswer();
      else if (step === 'timeout') this.remoteTimeout();
      else this.remoteReject(step);
      this.sip.deliver(() => next(i + 1));
    };
    this.sip.deliver(() => next(0));
  }

  remoteProgress(statusCode: number): void {
    if (this.direction !== 'outgoing' || (this.current !== 'calling' && this.current !== 'ringing')) return;
    this.current = 'ringing';
    this.events.emit('progress', { statusCode });
  }

  remoteAnswer(): void {
    if (this.direction !== 'outgoing' || (this.current !== 'calling' && this.current !== 'ringing')) return;
    this.establish();
  }

  remoteReject(statusCode: number): void {
    if (this.direction !== 'outgoing' || (this.current !== 'calling' && this.current !== 'ringing')) return;
    this.terminate('failed', { cause: causeOf(statusCode), by: 'remote', statusCode });
  }

  remoteTimeout(): void {
    if (this.direction !== 'outgoing' || (this.current !== 'calling' && this.current !== 'ringing')) return;
    this.terminate('failed', { cause: 'requestTimeout', by: 'system' });
  }

  remoteCancel(): void {
    if (this.direction !== 'incoming' || (this.current !== 'ringing' && this.current !== 'answering')) return;
    this.terminate('failed', { cause: 'canceled', by: 'remote' });
  }

  remoteBye(): void {
    if (this.current !== 'established') return;
    this.terminate('ended', { cause: 'bye', by: 'remote' });
  }

  vanish(cause: string): void {
    if (this.isTerminated) return;
    const by: port.LegOriginator = 'system';
    this.terminate(this.current === 'established' ? 'ended' : 'failed', { cause, by });
    this.twin?.vanish(cause);
  }

  private establish(): void {
    this.current = 'established';
    this.events.emit('accepted', {});
    if (this.script.audio !== false) {
      this.track = new FakeTrack(`from ${this.remoteUser}`, this.twin?.media);
      this.events.emit('remoteTrack', { track: this.track });
    }
    this.answering?.resolve();
    this.answering = undefined;
  }

  private reinvite(hold: boolean): Promise<void> {
    if (this.current !== 'established') {
      return Promise.reject(new FakeSipError(`${hold ? 'hold' : 'unhold'}(): ${this.current}`));
    }
    if (this.held === hold) return Promise.resolve();
    this.sent.push(`re-INVITE ${hold ? 'hold' : 'unhold'}`);
    return this.sip
      .answer(() => this.script.reinvite ?? 200)
      .then((status) => {
        if (this.isTerminated) throw new FakeSipError(`${hold ? 'hold' : 'unhold'}(): the call ended`);
        // As libs/sip's call driver: held only once the peer answered 2xx; a refusal leaves the
        // call up as it was and rejects.
        if (status >= 300)
          throw new FakeSipError(`${hold ? 'hold' : 'unhold'}(): re-INVITE ${status} refused`);
        this.held = hold;
      });
  }

  private terminate(kind: 'ended' | 'failed', end: port.LegEnd): void {
    if (this.isTerminated) return;
    this.current = 'terminated';
    this.end = end;
    this.answering?.reject(new FakeSipError('answer(): the call ended first'));
    this.answering = undefined;
    this.events.emit(kind, end);
    this.signalTerminated();
  }
}

/** What a fake user agent's registrar does. */
export interface RegistrarScript {
  /** a REGISTER's final status: 200 registers, anything else fails (and the user agent waits) */
  status?: number;
  /** the retry delay it reports after a failure */
  retryInMs?: number;
}

/** The user agent's far end: the registrar and the connection, as the test drives them. */
export class FakeRegistrar {
  constructor(private readonly ua: FakeUserAgent) {}

  /** a REGISTER succeeds */
  accept(): void {
    this.ua.registeredNow();
  }
  /** a REGISTER is refused with `statusCode` (undefined: no answer) */
  refuse(statusCode: number | undefined, retryInMs?: number): void {
    this.ua.refusedNow(statusCode, retryInMs);
  }
  /** the WebSocket to the PBX drops */
  disconnect(reason?: string, transportError?: string): void {
    this.ua.disconnectedNow(reason, transportError);
  }
}

/** A fake registered account: places legs (scripted or routed) and receives them. */
export class FakeUserAgent implements port.SipUserAgentPort {
  readonly registrar = new FakeRegistrar(this);
  readonly user: string;
  readonly uri: string;
  /** legs placed and received, in order */
  readonly legs: FakeLeg[] = [];
  /** the reasons `close()` was called with */
  readonly closes: string[] = [];
  /** REGISTER refreshes asked for */
  refreshes = 0;
  /** false: `call()` throws, as when the PBX cannot be reached right now */
  reachable = true;
  private connected = false;
  private registeredFlag = false;
  private failures = 0;
  private readonly events = new Emitter<port.UserAgentEvents>();
  private waiting: (() => void) | undefined;

  constructor(
    private readonly sip: FakeSip,
    readonly spec: port.UserAgentSpec,
  ) {
    this.user = spec.config.sip.user;
    this.uri = `sip:${this.user}@${spec.pbx.sipDomain}`;
  }

  get isConnected(): boolean {
    return this.connected;
  }
  get isRegistered(): boolean {
    return this.registeredFlag;
  }
  get registrationFailures(): number {
    return this.failures;
  }
  get closed(): boolean {
    return this.closes.length > 0;
  }

  start(): Promise<void> {
    this.connected = true;
    const done = new Promise<void>((resolve) => {
      this.waiting = resolve;
    });
    const script = this.sip.registrarScript(this.user);
    this.sip.deliver(() => {
      const status = script.status ?? 200;
      if (status < 300) this.registeredNow();
      else this.refusedNow(status, script.retryInMs);
    });
    return done;
  }

  refreshRegistration(): void {
    this.refreshes++;
  }

  async close(reason: string): Promise<void> {
    this.closes.push(reason);
    await Promise.all(this.legs.map((leg) => leg.hangup()));
    this.connected = false;
    this.registeredFlag = false;
  }

  call(target: string, options: port.LegMediaOptions): FakeLeg {
    return this.place(target, options, this.sip.scriptOf(target));
  }

  /**
   * Places an outgoing leg as {@link call} does; `script` set: the party at `target` behaves so
   * (and the fake PBX does not route it to a user agent), as a device refusing a direct offer.
   */
  place(target: string, options: port.LegMediaOptions, script: PartyScript | undefined): FakeLeg {
    if (!this.reachable || this.closed) throw new FakeSipError(`cannot reach the PBX to call ${target}`);
    const leg = new FakeLeg(
      this.sip,
      'outgoing',
      target,
      userOf(target),
      options.extraHeaders ?? [],
      script ?? {},
      options.fromUser,
    );
    leg.media = options.media;
    leg.sent.push('INVITE');
    this.legs.push(leg);
    this.sip.route(this, leg, script !== undefined);
    return leg;
  }

  on<K extends keyof port.UserAgentEvents>(
    event: K,
    listener: (payload: port.UserAgentEvents[K]) => void,
  ): () => void {
    return this.events.on(event, listener);
  }

  /**
   * An INVITE reaches this account from `from` (a customer's number, a colleague's line), with
   * the given extra headers. The returned leg's `peer` is the caller.
   */
  receive(from: string, options: { headers?: string[]; script?: PartyScript } = {}): FakeLeg {
    const leg = new FakeLeg(
      this.sip,
      'incoming',
      this.uri,
      from,
      options.headers ?? [],
      options.script ?? {},
    );
    this.legs.push(leg);
    this.events.emit('incomingCall', { leg });
    return leg;
  }

  registeredNow(): void {
    this.failures = 0;
    this.registeredFlag = true;
    this.events.emit('registered', {});
    this.waiting?.();
    this.waiting = undefined;
  }

  refusedNow(statusCode: number | undefined, retryInMs?: number): void {
    this.failures++;
    this.registeredFlag = false;
    this.events.emit('registrationFailed', {
      cause: statusCode === undefined ? 'requestTimeout' : causeOf(statusCode),
      ...(statusCode === undefined ? {} : { statusCode }),
      ...(retryInMs === undefined ? {} : { retryInMs }),
    });
  }

  disconnectedNow(reason?: string, transportError?: string): void {
    this.connected = false;
    this.registeredFlag = false;
    this.events.emit('disconnected', {
      ...(reason === undefined ? {} : { reason }),
      ...(transportError === undefined ? {} : { transportError }),
    });
  }
}

/** Records what the call logic does to a bridge; `heardByA`/`heardByB` tell who hears whom. */
export class FakeBridge implements port.AudioBridgePort {
  readonly streamToA: FakeStream;
  readonly streamToB: FakeStream;
  trackFromA: port.AudioTrack | undefined;
  trackFromB: port.AudioTrack | undefined;
  readonly muted: Record<port.BridgeDirection, boolean> = { aToB: false, bToA: false };
  closed = false;

  constructor(id: number) {
    this.streamToA = new FakeStream(`bridge ${id} to A`);
    this.streamToB = new FakeStream(`bridge ${id} to B`);
  }

  connect(fromA: port.AudioTrack, fromB: port.AudioTrack): void {
    this.trackFromA = fromA;
    this.trackFromB = fromB;
  }
  setTrackFromA(track: port.AudioTrack): void {
    this.trackFromA = track;
  }
  setTrackFromB(track: port.AudioTrack): void {
    this.trackFromB = track;
  }
  mute(direction: port.BridgeDirection, muted: boolean): void {
    this.muted[direction] = muted;
  }
  close(): void {
    this.closed = true;
  }

  /** what side A (the agent's device, or a transfer's target) hears */
  get heardByA(): port.AudioTrack | undefined {
    return this.closed || this.muted.bToA ? undefined : this.trackFromB;
  }
  /** what side B (the customer) hears */
  get heardByB(): port.AudioTrack | undefined {
    return this.closed || this.muted.aToB ? undefined : this.trackFromA;
  }
}

/** A generated tone: its track, and whether it was stopped. */
export class FakeTone implements port.TonePort {
  stopped = false;
  readonly track: FakeTrack;
  constructor(readonly frequency: number) {
    this.track = new FakeTrack(`tone ${frequency} Hz`);
  }
  stop(): void {
    this.stopped = true;
  }
}

/** What a device leg placed by the direct-media port was offered: the customer's SDP, or a placeholder. */
export type DirectOffer = 'customer' | port.MediaProfile;

/** A leg the fake direct-media port placed, and what it was offered. */
export type DirectPlacement =
  | { how: 'offerOf'; target: string; leg: FakeLeg; offerer: port.SipLeg }
  | { how: 'target'; target: string; leg: FakeLeg; customer: port.SipLeg; placeholder: boolean }
  | { how: 'device'; target: string; leg: FakeLeg; profile: port.MediaProfile }
  | { how: 'customer'; target: string; leg: FakeLeg; device: port.SipLeg };

/** An operation of a direct link. */
export type DirectLinkOp = 'hold' | 'unhold' | 'mute' | 'unmute' | 'retarget';

/** The steps of the direct-media port (besides placing legs) a test can make fail. */
export type DirectStep = 'answerCustomer' | 'connectCustomer' | 'abandonCustomer';

/**
 * Two legs joined by direct media, in memory: records each operation asked, and answers it on a
 * later microtask (200, or the refusal the test scripted with {@link refuse}, which rejects and
 * changes nothing, as the real link leaves both legs as they were).
 */
export class FakeDirectLink implements port.DirectLink {
  /** the operations asked, in order (`hold`, `mute`, `retarget <user>`...), refused ones too */
  readonly ops: string[] = [];
  /** what the customer and the agent's side do now: talk, `held` (both inactive), `muted` (the agent recvonly) */
  state: 'talking' | 'held' | 'muted' = 'talking';
  closed = false;
  private readonly refusals = new Map<DirectLinkOp, number>();

  constructor(
    private readonly sip: FakeSip,
    readonly customer: port.SipLeg,
    /** the customer's media peer: the device, then a transfer's target after `retarget` */
    public peer: port.SipLeg,
  ) {}

  /** From now on `op` is refused with `status` (a leg answering its re-INVITE so). */
  refuse(op: DirectLinkOp, status = 488): this {
    this.refusals.set(op, status);
    return this;
  }

  hold(): Promise<void> {
    return this.run('hold', 'hold', () => (this.state = 'held'));
  }
  unhold(): Promise<void> {
    return this.run('unhold', 'unhold', () => (this.state = 'talking'));
  }
  mute(): Promise<void> {
    return this.run('mute', 'mute', () => (this.state = 'muted'));
  }
  unmute(): Promise<void> {
    return this.run('unmute', 'unmute', () => (this.state = 'talking'));
  }
  retarget(target: port.SipLeg): Promise<void> {
    return this.run('retarget', `retarget ${target.remoteUser}`, () => (this.peer = target));
  }

  close(): void {
    this.closed = true;
  }

  private async run(op: DirectLinkOp, label: string, apply: () => void): Promise<void> {
    this.ops.push(label);
    if (this.closed) throw new FakeSipError(`${label}: the link is closed`);
    const status = await this.sip.answer(() => this.refusals.get(op) ?? 200);
    if (this.customer.isTerminated) throw new FakeSipError(`${label}: the customer's call ended`);
    if (status >= 300) throw new FakeSipError(`${label}: re-INVITE ${status} refused`);
    apply();
  }
}

/**
 * The direct-media port of the fake: places legs as the fake user agents do (their `media` a
 * {@link FakeStream} naming the offer), records what each was offered, answers and joins legs
 * into {@link FakeDirectLink}s. A test scripts refusals: a device answering a direct offer with a
 * status ({@link refuse}), a step failing ({@link fail}), a link's operation refused.
 */
export class FakeDirectMedia implements port.DirectMediaPort {
  /** the legs placed, in order, with what each was offered */
  readonly placed: DirectPlacement[] = [];
  /** the links made, in order */
  readonly links: FakeDirectLink[] = [];
  /** the other steps asked, in order: `answerCustomer <user>`, `connectCustomer <user>`, `abandonCustomer <user>` */
  readonly steps: string[] = [];
  private readonly refusals = new Map<string, { status: number; offers: readonly DirectOffer[] }>();
  private readonly failures = new Map<DirectStep, string>();
  /** a callout's customer leg → its device leg */
  private readonly devices = new Map<port.SipLeg, port.SipLeg>();
  /** the media profile of remote users' SDP, where a test set it (unset: bridgeable, not an ICE end) */
  private readonly profiles = new Map<string, port.MediaProfile>();

  constructor(private readonly sip: FakeSip) {}

  /** The device at `target` (or its SIP user) answers `status` to a direct offer of these kinds. */
  refuse(
    target: string,
    status: number,
    offers: readonly DirectOffer[] = ['customer', 'rtp', 'webrtc'],
  ): this {
    this.refusals.set(target, { status, offers });
    return this;
  }

  /**
   * The media of legs whose remote user is `user`: `webrtc` (an ICE end: a transfer offers a
   * placeholder for it) or `rtp` (plain: the gateway's bridge cannot answer its offer).
   */
  profile(user: string, profile: port.MediaProfile): this {
    this.profiles.set(user, profile);
    return this;
  }

  /** A routed caller offered the transfer placeholder (no relay rewrites SDP in the fake PBX). */
  isUnrelayedPlaceholder(caller: port.SipLeg): boolean {
    const offer = caller instanceof FakeLeg ? caller.twin?.media : undefined;
    return offer instanceof FakeStream && offer.label === 'direct: transfer placeholder';
  }

  isIceEnd(leg: port.SipLeg): boolean {
    return this.profiles.get(leg.remoteUser) === 'webrtc';
  }

  bridgeable(customer: port.SipLeg): boolean {
    return this.profiles.get(customer.remoteUser) !== 'rtp';
  }

  /** From now on `step` rejects with `message` (on a later microtask). */
  fail(step: DirectStep, message = `${step} failed`): this {
    this.failures.set(step, message);
    return this;
  }

  /** The placements of legs to `target` (or to its SIP user), oldest first. */
  placedTo(target: string): DirectPlacement[] {
    return this.placed.filter((p) => p.target === target || p.leg.remoteUser === userOf(target));
  }

  callWithOfferOf(
    ua: port.SipUserAgentPort,
    target: string,
    offerer: port.SipLeg,
    options: { extraHeaders?: string[]; fromUser?: string },
  ): FakeLeg {
    const leg = this.place(ua, target, 'customer', `offer of ${offerer.remoteUser}`, options);
    this.placed.push({ how: 'offerOf', target, leg, offerer });
    return leg;
  }

  callTarget(
    ua: port.SipUserAgentPort,
    target: string,
    customer: port.SipLeg,
    options: { extraHeaders: string[]; fromUser: string; placeholder: boolean },
  ): { leg: FakeLeg; placeholder: boolean } {
    const { placeholder: allowed, ...headers } = options;
    const placeholder = allowed && this.profiles.get(customer.remoteUser) === 'webrtc';
    const leg = placeholder
      ? this.place(ua, target, 'rtp', 'transfer placeholder', headers)
      : this.place(ua, target, 'customer', `offer of ${customer.remoteUser}`, headers);
    this.placed.push({ how: 'target', target, leg, customer, placeholder });
    return { leg, placeholder };
  }

  async answerCustomer(device: port.SipLeg, customer: port.SipLeg): Promise<FakeDirectLink> {
    this.steps.push(`answerCustomer ${customer.remoteUser}`);
    await this.step('answerCustomer');
    await customer.answer({ media: new FakeStream(`direct: SDP of ${device.remoteUser}`) });
    return this.link(customer, device);
  }

  callDevice(
    ua: port.SipUserAgentPort,
    target: string,
    profile: port.MediaProfile,
    extraHeaders: string[],
  ): FakeLeg {
    const leg = this.place(ua, target, profile, `${profile} placeholder`, { extraHeaders });
    this.placed.push({ how: 'device', target, leg, profile });
    return leg;
  }

  callCustomer(
    ua: port.SipUserAgentPort,
    device: port.SipLeg,
    target: string,
    extraHeaders: string[],
  ): FakeLeg {
    const leg = this.place(ua, target, 'customer', `SDP of ${device.remoteUser}`, { extraHeaders });
    this.placed.push({ how: 'customer', target, leg, device });
    this.devices.set(leg, device);
    return leg;
  }

  async connectCustomer(customer: port.SipLeg): Promise<FakeDirectLink> {
    this.steps.push(`connectCustomer ${customer.remoteUser}`);
    const device = this.devices.get(customer);
    if (!device) throw new FakeSipError('connectCustomer(): not a customer this port called');
    await this.step('connectCustomer');
    return this.link(customer, device);
  }

  async abandonCustomer(customer: port.SipLeg): Promise<void> {
    this.steps.push(`abandonCustomer ${customer.remoteUser}`);
    await this.step('abandonCustomer');
  }

  private place(
    ua: port.SipUserAgentPort,
    target: string,
    offer: DirectOffer,
    label: string,
    options: { extraHeaders?: string[]; fromUser?: string },
  ): FakeLeg {
    if (!(ua instanceof FakeUserAgent)) throw new Error('the fake direct-media port needs a fake user agent');
    const refusal = this.refusals.get(target) ?? this.refusals.get(userOf(target));
    const script: PartyScript | undefined =
      refusal?.offers.includes(offer) === true ? { invite: [refusal.status] } : this.sip.scriptOf(target);
    return ua.place(target, { media: new FakeStream(`direct: ${label}`), ...options }, script);
  }

  private async step(step: DirectStep): Promise<void> {
    await this.sip.answer(() => 0);
    const message = this.failures.get(step);
    if (message !== undefined) throw new FakeSipError(message);
  }

  private link(customer: port.SipLeg, peer: port.SipLeg): FakeDirectLink {
    const link = new FakeDirectLink(this.sip, customer, peer);
    this.links.push(link);
    return link;
  }
}

/**
 * The fake SIP port, and the fake PBX behind it. An outgoing leg to the user of one of its
 * registered user agents is routed there (the callee gets an incoming leg, linked to the caller's);
 * to any other target it meets the party scripted for it (`script()`), or one that just rings.
 */
export class FakeSip implements port.SipPort {
  /** direct media (RFC 3725), unless made with `{ direct: false }`: a stack that only bridges */
  readonly direct: FakeDirectMedia | undefined;
  readonly userAgents: FakeUserAgent[] = [];
  readonly bridges: FakeBridge[] = [];
  readonly tones: FakeTone[] = [];
  private readonly parties = new Map<string, PartyScript>();
  private readonly registrars = new Map<string, RegistrarScript>();
  /** deliveries not yet made */
  private pending = 0;

  constructor(options: { direct?: boolean } = {}) {
    this.direct = options.direct === false ? undefined : new FakeDirectMedia(this);
  }

  createUserAgent(spec: port.UserAgentSpec): FakeUserAgent {
    const ua = new FakeUserAgent(this, spec);
    this.userAgents.push(ua);
    return ua;
  }

  createBridge(): FakeBridge {
    const bridge = new FakeBridge(this.bridges.length + 1);
    this.bridges.push(bridge);
    return bridge;
  }

  createTone(options: { frequency: number; amplitude: number }): FakeTone {
    const tone = new FakeTone(options.frequency);
    this.tones.push(tone);
    return tone;
  }

  /** How the party at `target` (a full target, or its SIP user) behaves from now on. */
  script(target: string, script: PartyScript): this {
    this.parties.set(target, script);
    return this;
  }

  /** How the registrar answers `user`'s REGISTER (default: 200). */
  registrar(user: string, script: RegistrarScript): this {
    this.registrars.set(user, script);
    return this;
  }

  scriptOf(target: string): PartyScript | undefined {
    return this.parties.get(target) ?? this.parties.get(userOf(target));
  }

  registrarScript(user: string): RegistrarScript {
    return this.registrars.get(user) ?? {};
  }

  /** The user agent registered as `user`. */
  userAgent(user: string): FakeUserAgent | undefined {
    return this.userAgents.find((ua) => ua.user === user && !ua.closed);
  }

  /** Every leg placed or received by any user agent, in order. */
  get legs(): FakeLeg[] {
    return this.userAgents.flatMap((ua) => ua.legs);
  }

  /** The legs placed to `target` (or to its SIP user), oldest first. */
  legsTo(target: string): FakeLeg[] {
    return this.legs.filter(
      (leg) => leg.direction === 'outgoing' && (leg.target === target || leg.remoteUser === userOf(target)),
    );
  }

  /** The last leg placed to `target`; throws when there is none. */
  legTo(target: string): FakeLeg {
    const leg = this.legsTo(target).at(-1);
    if (!leg) throw new Error(`no leg was placed to ${target}`);
    return leg;
  }

  /** Legs not terminated yet. */
  get liveLegs(): FakeLeg[] {
    return this.legs.filter((leg) => !leg.isTerminated);
  }

  /** Whether deliveries are still queued. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Runs `action` on a later microtask: what the far end sends arrives after the caller's code ran. */
  deliver(action: () => void): void {
    this.pending++;
    void Promise.resolve().then(() => {
      this.pending--;
      action();
    });
  }

  /** A request's final status, on a later microtask. */
  answer(status: () => number): Promise<number> {
    return new Promise((resolve) => this.deliver(() => resolve(status())));
  }

  /** Sends an outgoing leg to its script, or to the fake user agent registered as its user. */
  route(from: FakeUserAgent, leg: FakeLeg, scripted = this.scriptOf(leg.target) !== undefined): void {
    const callee = scripted ? undefined : this.userAgent(userOf(leg.target));
    if (!callee) {
      leg.play();
      return;
    }
    this.deliver(() => {
      if (leg.isTerminated) return;
      if (!callee.isRegistered) {
        // Kamailio's answer for a user with no registration.
        leg.remoteReject(404);
        return;
      }
      const headers = [...leg.headers, ...uriHeaders(leg.target)];
      const incoming = callee.receive(leg.fromUser ?? from.user, { headers });
      incoming.twin = leg;
      leg.twin = incoming;
      if (!incoming.isTerminated) leg.remoteProgress(180);
    });
  }
}

/** The headers a target URI carries (`sip:u@h?X-A=1&X-B=2`), as the INVITE's headers. */
function uriHeaders(target: string): string[] {
  const query = target.split('?')[1];
  if (!query) return [];
  return query.split('&').map((pair) => {
    const [name, value = ''] = pair.split('=');
    return `${decodeURIComponent(name ?? '')}: ${decodeURIComponent(value)}`;
  });
}
