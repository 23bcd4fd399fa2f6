import {
  AudioAnalyser,
  SipCallState,
  SipError,
  SipUserAgent,
  ToneSource,
  TypedEmitter,
  prefixedLogger,
  silentLogger,
  waitForEvent,
  type AudioSnapshot,
  type HearOptions,
  type SilenceOptions,
  type SipCall,
  type SipCallTermination,
  type SipLogger,
  type SipUserAgentOptions,
  type WaitForEventOptions,
} from '@callgate/sip';

/** The simulated endpoints of the lab. */
export type BotKind = 'customer' | 'ipPhone' | 'mobile' | 'queue' | 'softphone' | 'survey';

/** The SIP codes a bot can reject a call with (those the 3C callout errors distinguish). */
export const BOT_REJECT_CODES = [404, 486, 480, 408, 403, 487, 603] as const;
export type BotRejectCode = (typeof BOT_REJECT_CODES)[number];

/** What a bot does with an incoming call. */
export type IncomingBehaviour =
  | { action: 'answer'; afterMs?: number }
  | { action: 'reject'; statusCode: BotRejectCode; afterMs?: number }
  /** Never answers: it rings until the caller gives up (or JsSIP's 60 s no-answer timer). */
  | { action: 'ignore' };

export interface BotBehaviour {
  incoming: IncomingBehaviour;
  /** Tone played into every call (Hz); null plays silence. */
  tone: number | null;
  /** An incoming REFER: follow it (call the target and report by NOTIFY) or refuse it. */
  refer: 'follow' | 'reject';
  /**
   * Answer at once an INVITE that asks for it (`Answer-Mode: Auto`, or `Call-Info: …;answer-after=0`),
   * whatever `incoming` says, as IP phones with auto-answer do. Default: desk phones only.
   */
  autoAnswer: boolean;
  /** Hang up an established call after this long (ms). Unset: never. */
  hangupAfterMs?: number;
  /** DTMF digits sent by SIP INFO as soon as a call is established. */
  dtmfOnAnswer?: string;
}

/** Where bots register: a running lab Kamailio fits. */
export interface BotPbx {
  wsUri: string;
  sipDomain: string;
}

export interface BotOptions {
  pbx: BotPbx;
  user: string;
  kind: BotKind;
  /** Shortcut for behaviour.tone. */
  tone?: number | null;
  behaviour?: Partial<BotBehaviour>;
  displayName?: string;
  /** Register the user (default true). A caller-only bot may skip it. */
  register?: boolean;
  logger?: SipLogger;
  /** JsSIP reconnection back-off (s). Default min 1, max 5: the lab restarts Kamailio. */
  reconnect?: SipUserAgentOptions['reconnect'];
  /** Digest password (the field lab authenticates; the plain lab does not). */
  password?: string;
}

/** A call of a bot that has ended, for assertions. */
export interface BotCallRecord {
  call: SipCall;
  direction: 'incoming' | 'outgoing';
  remoteUser: string;
  end: SipCallTermination;
}

export interface BotEvents {
  /** An incoming call arrived (before the behaviour acts on it). */
  incoming: { call: SipCall };
  /** A call of this bot is established (answered by us or by the peer). */
  answered: { call: SipCall };
  /** A call of this bot is over. */
  ended: BotCallRecord;
  /** A DTMF digit received by INFO. */
  dtmf: { call: SipCall; digit: string };
  /** An incoming REFER was followed (newCall) or refused. */
  referred: { call: SipCall; target: string; newCall: SipCall | undefined };
}

/** Refer-To URI headers a bot copies onto the call it places for a REFER. */
const REFER_COPIED_HEADERS = ['X-Callgate-Transfer'] as const;

const DEFAULT_TONES: Record<BotKind, number> = {
  customer: 440,
  ipPhone: 880,
  mobile: 1200,
  queue: 660,
  softphone: 1000,
  survey: 1400,
};

/** The behaviour of a bot nobody configured: answers at once, plays its kind's tone, follows REFERs. */
export function defaultBehaviour(kind: BotKind): BotBehaviour {
  return {
    incoming: { action: 'answer', afterMs: 0 },
    tone: DEFAULT_TONES[kind],
    refer: 'follow',
    autoAnswer: kind === 'ipPhone',
  };
}

/** Per-call resources of a bot. */
interface Leg {
  call: SipCall;
  tone: ToneSource | undefined;
  analyser: AudioAnalyser | undefined;
  timers: Set<NodeJS.Timeout>;
}

/**
 * A simulated endpoint: a JsSIP + wrtc user agent registered on the lab PBX, scripted
 * by its {@link BotBehaviour} (changeable at any time with {@link setBehaviour}). It
 * plays a tone into its calls, reports what it hears, sends and receives DTMF by SIP
 * INFO, follows REFERs, and keeps a record of its calls.
 */
export class Bot extends TypedEmitter<BotEvents> {
  readonly user: string;
  readonly kind: BotKind;
  /** sip:<user>@<domain> */
  readonly uri: string;
  readonly ua: SipUserAgent;
  /** Every DTMF digit received, in order. */
  receivedDtmf = '';
  /** Calls that have ended, oldest first. */
  readonly history: BotCallRecord[] = [];

  private current: BotBehaviour;
  private readonly legs = new Map<SipCall, Leg>();
  private readonly logger: SipLogger;
  private latest: SipCall | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: BotOptions) {
    super();
    this.user = options.user;
    this.kind = options.kind;
    this.logger = prefixedLogger(options.logger ?? silentLogger, `[bot ${options.user}]`);
    this.current = { ...defaultBehaviour(options.kind), ...options.behaviour };
    if (options.tone !== undefined) this.current.tone = options.tone;
    this.ua = new SipUserAgent({
      wsUri: options.pbx.wsUri,
      sipDomain: options.pbx.sipDomain,
      user: options.user,
      ...(options.password === undefined ? {} : { password: options.password }),
      displayName: options.displayName,
      register: options.register ?? true,
      logger: options.logger,
      reconnect: options.reconnect ?? { minIntervalSec: 1, maxIntervalSec: 5 },
      registrationRetryMs: 1_000,
    });
    this.uri = this.ua.uri;
    this.ua.on('incomingCall', ({ call }) => this.onIncoming(call));
  }

  get behaviour(): Readonly<BotBehaviour> {
    return this.current;
  }

  /** Changes the behaviour from now on; a new tone applies to the calls in progress too. */
  setBehaviour(patch: Partial<BotBehaviour>): void {
    this.current = { ...this.current, ...patch };
    if ('tone' in patch) {
      for (const leg of this.legs.values()) leg.tone?.setFrequency(this.current.tone);
    }
  }

  /** Shortcut for setBehaviour({ tone }). */
  setTone(tone: number | null): void {
    this.setBehaviour({ tone });
  }

  /** Calls in progress. */
  get calls(): readonly SipCall[] {
    return [...this.legs.keys()];
  }

  /** The most recent call (in progress or not). */
  get lastCall(): SipCall | undefined {
    return this.latest;
  }

  get isRegistered(): boolean {
    return this.ua.isRegistered;
  }

  /** Connects and registers. */
  start(): Promise<void> {
    return this.ua.start();
  }

  /** Calls `target` (a user of the lab domain, or a SIP URI), playing the bot's tone. */
  call(target: string, options: { extraHeaders?: string[] } = {}): SipCall {
    const tone = new ToneSource({ frequency: this.current.tone });
    let call: SipCall;
    try {
      call = this.ua.call(target, { mediaStream: tone.stream, extraHeaders: options.extraHeaders });
    } catch (error) {
      tone.stop();
      throw error;
    }
    this.track(call, tone);
    return call;
  }

  /** Resolves when the bot hears a tone of `frequency` on `call` (default: its last call). */
  async hears(options: HearOptions & { call?: SipCall }): Promise<AudioSnapshot> {
    const analyser = await this.analyserOf(options.call, options.timeoutMs ?? 5_000);
    return analyser.waitFor(options);
  }

  /** Resolves when the bot hears silence on `call` (default: its last call). */
  async hearsSilence(options: SilenceOptions & { call?: SipCall } = {}): Promise<AudioSnapshot> {
    const analyser = await this.analyserOf(options.call, options.timeoutMs ?? 5_000);
    return analyser.waitForSilence(options);
  }

  /** What the bot hears now on `call` (default: its last call); undefined before media flows. */
  audio(call?: SipCall): AudioSnapshot | undefined {
    const target = call ?? this.latest;
    return target ? this.legs.get(target)?.analyser?.snapshot() : undefined;
  }

  /** Sends DTMF digits by SIP INFO on `call` (default: its last call). */
  sendDtmf(digits: string, call?: SipCall): Promise<void> {
    const target = call ?? this.latest;
    if (!target) return Promise.reject(SipError.invalidState('sendDtmf()', 'no call'));
    return target.sendInfoDtmf(digits);
  }

  /** Hangs up `call`, or every call in progress. */
  async hangup(call?: SipCall): Promise<void> {
    const calls = call ? [call] : [...this.legs.keys()];
    await Promise.all(calls.map((c) => c.hangup()));
  }

  /** Waits for a bot event (default timeout 10 s). */
  waitFor<K extends keyof BotEvents>(
    event: K,
    options?: WaitForEventOptions<BotEvents[K]>,
  ): Promise<BotEvents[K]> {
    return waitForEvent(this, event, options);
  }

  /** Hangs up, unregisters, closes the socket, stops every tone and analyser. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ua.close(`bot ${this.user} closed`);
      for (const leg of [...this.legs.values()]) this.release(leg);
    })();
    return this.closing;
  }

  override toString(): string {
    return `Bot(${this.kind} ${this.user})`;
  }

  protected override onListenerError(event: keyof BotEvents, error: unknown): void {
    this.logger.error(`a '${String(event)}' listener threw`, { error: String(error) });
  }

  private onIncoming(call: SipCall): void {
    const leg = this.track(call, undefined);
    this.safeEmit('incoming', { call });
    const incoming: IncomingBehaviour =
      this.current.autoAnswer && asksToAutoAnswer(call) ? { action: 'answer' } : this.current.incoming;
    switch (incoming.action) {
      case 'answer':
        this.later(leg, incoming.afterMs ?? 0, () => {
          if (call.state !== SipCallState.Ringing) return;
          leg.tone = new ToneSource({ frequency: this.current.tone });
          call.answer({ mediaStream: leg.tone.stream }).catch((error: unknown) => {
            this.logger.warn('answer failed', { error: String(error) });
          });
        });
        break;
      case 'reject':
        this.later(leg, incoming.afterMs ?? 0, () => {
          if (call.state === SipCallState.Ringing) call.reject(incoming.statusCode);
        });
        break;
      case 'ignore':
        break;
    }
  }

  private track(call: SipCall, tone: ToneSource | undefined): Leg {
    const leg: Leg = { call, tone, analyser: undefined, timers: new Set() };
    this.legs.set(call, leg);
    this.latest = call;
    const established = (): void => {
      if (leg.analyser || call.isTerminated) return;
      const track = call.remoteAudioTrack;
      if (track) leg.analyser = new AudioAnalyser(track);
      this.safeEmit('answered', { call });
      const { hangupAfterMs, dtmfOnAnswer } = this.current;
      if (hangupAfterMs !== undefined) this.later(leg, hangupAfterMs, () => void call.hangup());
      if (dtmfOnAnswer) {
        call.sendInfoDtmf(dtmfOnAnswer).catch((error: unknown) => {
          this.logger.warn('sending DTMF failed', { error: String(error) });
        });
      }
    };
    call.on('accepted', established);
    call.on('confirmed', established);
    call.on('dtmf', ({ digit }) => {
      this.receivedDtmf += digit;
      this.safeEmit('dtmf', { call, digit });
    });
    call.on('refer', ({ refer }) => {
      if (this.current.refer === 'reject') {
        refer.reject();
        this.safeEmit('referred', { call, target: refer.target, newCall: undefined });
        return;
      }
      const tone = new ToneSource({ frequency: this.current.tone });
      try {
        // RFC 3515: headers of the Refer-To URI go on the new INVITE (the callgate transfer id).
        const extraHeaders = REFER_COPIED_HEADERS.flatMap((name) => {
          const value = refer.uriHeader(name);
          return value === undefined ? [] : [`${name}: ${value}`];
        });
        const newCall = refer.accept({ mediaStream: tone.stream, extraHeaders });
        this.track(newCall, tone);
        // Once the new call is up, the old one is over (the referrer may also hang it up first).
        newCall.once('accepted', () => void call.hangup());
        this.safeEmit('referred', { call, target: refer.target, newCall });
      } catch (error) {
        tone.stop();
        this.logger.warn('following REFER failed', { error: String(error) });
      }
    });
    void call.terminated.then((end) => {
      this.release(leg);
      const record: BotCallRecord = { call, direction: call.direction, remoteUser: call.remote.user, end };
      this.history.push(record);
      this.safeEmit('ended', record);
    });
    return leg;
  }

  private later(leg: Leg, ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      leg.timers.delete(timer);
      try {
        action();
      } catch (error) {
        this.logger.warn('scripted action failed', { error: String(error) });
      }
    }, ms);
    leg.timers.add(timer);
  }

  private release(leg: Leg): void {
    for (const timer of leg.timers) clearTimeout(timer);
    leg.timers.clear();
    leg.analyser?.stop();
    leg.tone?.stop();
    this.legs.delete(leg.call);
  }

  private async analyserOf(call: SipCall | undefined, timeoutMs: number): Promise<AudioAnalyser> {
    const target = call ?? this.latest;
    if (!target) throw SipError.invalidState('hears()', 'no call');
    const leg = this.legs.get(target);
    if (!leg) throw SipError.invalidState('hears()', 'call ended');
    if (!leg.analyser && target.state !== SipCallState.Established) {
      await this.waitFor('answered', { filter: (e) => e.call === target, timeoutMs });
    }
    if (!leg.analyser) {
      const track = target.remoteAudioTrack;
      if (!track) throw SipError.invalidState('hears()', 'no remote audio track');
      leg.analyser = new AudioAnalyser(track);
    }
    return leg.analyser;
  }
}

/** Creates a bot and waits until it is registered (closing it again if that fails). */
export async function startBot(options: BotOptions): Promise<Bot> {
  const bot = new Bot(options);
  try {
    await bot.start();
  } catch (error) {
    await bot.close();
    throw error;
  }
  return bot;
}

/** Whether an incoming INVITE asks the callee to answer by itself (RFC 5373, or the Call-Info form). */
function asksToAutoAnswer(call: SipCall): boolean {
  return (
    /^\s*auto\b/i.test(call.requestHeader('Answer-Mode') ?? '') ||
    /answer-after\s*=\s*0\b/i.test(call.requestHeader('Call-Info') ?? '')
  );
}
