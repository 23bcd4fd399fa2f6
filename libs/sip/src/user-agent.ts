import { SipCall, invalidMediaOptions, toSipError, type SipEmpty, type SipMediaOptions } from './call.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { translateCause, type SipEndCause } from './causes.js';
import { audioCodecName, restrictAudioCodecs, type AudioCodec } from './codecs.js';
import { TypedEmitter, waitForEvent } from './emitter.js';
import { SipError } from './errors.js';
import { installNodeWebRtcGlobals } from './globals.js';
import {
  JsSip,
  type JsSipIncomingRequest,
  type JsSipSession,
  type JsSipUa,
  type JsSipUaEvents,
} from './jssip.js';
import { prefixedLogger, silentLogger, type SipLogger } from './logger.js';
import { withPeerConnection, type PassThroughPeerConnection } from './passthrough-pc.js';
import { NodeWsSocket, type WsTlsOptions } from './ws-socket.js';

export interface SipUserAgentOptions {
  /** SIP over WebSocket URI of the PBX, e.g. ws://127.0.0.1:5066. */
  wsUri: string;
  /** Domain of the SIP URIs (the user's AOR is sip:<user>@<sipDomain>). */
  sipDomain: string;
  user: string;
  /** Digest password; omit where the PBX does not authenticate (the lab). */
  password?: string;
  displayName?: string;
  /** Register the user (true), or only connect and place calls (false). */
  register: boolean;
  logger?: SipLogger;
  /** start() rejects when not registered (or connected) by then. Default 10 000 ms. */
  startTimeoutMs?: number;
  /** Expires of the REGISTER (s). Default 600; JsSIP refreshes it before it runs out. */
  registerExpiresSec?: number;
  /** Bounds of JsSIP's reconnection back-off (s). Defaults 2 and 30 (JsSIP's). */
  reconnect?: { minIntervalSec?: number; maxIntervalSec?: number };
  /**
   * After a failed REGISTER while connected, try again after this long (ms), or after an
   * exponential back-off with jitter (a PBX with flood protection bans a client that hammers it).
   * Default 5000 ms.
   */
  registrationRetryMs?: number | BackoffOptions;
  /** ICE configuration of the calls' peer connections. Default: no ICE servers. */
  pcConfig?: RTCConfiguration;
  /** An incoming call not answered by then is answered 408 by JsSIP. Default 60 s. */
  noAnswerTimeoutSec?: number;
  /** The User-Agent header. Default "callgate (JsSIP <version>)". */
  userAgent?: string;
  /**
   * The audio codecs calls may use, preferred first (names of `AUDIO_CODECS`, any case), e.g.
   * `['PCMU']`: every offer and answer this agent sends, and every offer it receives, keeps only
   * these (see `restrictAudioCodecs`). Default: wrtc's own list and order (Opus first).
   */
  codecs?: readonly string[];
  /**
   * Asked before each refresh of the registration: false leaves it to run out (the agent is
   * fenced: another user agent now holds the extension). Default: always refresh.
   */
  mayRefreshRegistration?: () => boolean;
  /** The digest user name when it is not `user` (many PBXs give phones an auth ID of their own). */
  authUser?: string;
  /** The digest realm to answer; default: whatever the PBX's challenge names. */
  realm?: string;
  /** TLS of a wss:// connection: a private CA to trust, the name the certificate carries. */
  tls?: WsTlsOptions;
}

export interface SipUserAgentEvents {
  connecting: { attempt: number };
  connected: SipEmpty;
  /** `transportError`: why the last connection attempt failed (e.g. the certificate was refused). */
  disconnected: { error: boolean; code?: number; reason?: string; transportError?: string };
  registered: SipEmpty;
  unregistered: { cause?: SipEndCause };
  /** `retryInMs`: when the user agent sends the next REGISTER by itself. */
  registrationFailed: { cause: SipEndCause; statusCode?: number; retryInMs?: number };
  incomingCall: { call: SipCall };
  closed: { reason: string };
}

/**
 * A SIP user agent (JsSIP UA over WebSocket, WebRTC from wrtc) in libs/sip's terms.
 *
 * - `start()` connects and, with `register: true`, registers; it resolves when that is
 *   done and rejects with a {@link SipError} (`REGISTRATION_FAILED`,
 *   `REGISTRATION_TIMEOUT`, `CONNECT_TIMEOUT`) otherwise. The agent keeps trying after
 *   a rejection until it is closed.
 * - When the WebSocket or the PBX goes away, JsSIP reconnects with back-off and the
 *   agent registers again on reconnection; a REGISTER that fails while connected is
 *   retried after `registrationRetryMs`.
 * - `close(reason)` is idempotent: it hangs up every call, unregisters, closes the
 *   WebSocket and resolves once the socket is closed; then `closed` is emitted.
 */
export class SipUserAgent extends TypedEmitter<SipUserAgentEvents> {
  /** The address of record, sip:<user>@<sipDomain>. */
  readonly uri: string;
  readonly user: string;

  private readonly options: SipUserAgentOptions;
  private readonly logger: SipLogger;
  private readonly socket: NodeWsSocket;
  private readonly ua: JsSipUa;
  private readonly calls = new Set<SipCall>();
  private readonly wrapped = new WeakMap<JsSipSession, SipCall>();
  private readonly pcConfig: RTCConfiguration;
  private readonly codecs: readonly AudioCodec[] | undefined;
  private pendingMedia: MediaStream | undefined;
  private pendingPassThrough: PassThroughPeerConnection | undefined;
  private startPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private closing = false;
  private closedFlag = false;
  private wantRegistered: boolean;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(options: SipUserAgentOptions) {
    super();
    installNodeWebRtcGlobals();
    if (!options.user) throw SipError.invalidArgument('user is required');
    if (!options.sipDomain) throw SipError.invalidArgument('sipDomain is required');
    this.options = options;
    this.user = options.user;
    this.uri = `sip:${options.user}@${options.sipDomain}`;
    this.logger = prefixedLogger(options.logger ?? silentLogger, `[${options.user}]`);
    this.wantRegistered = options.register;
    this.pcConfig = options.pcConfig ?? { iceServers: [] };
    this.codecs = options.codecs === undefined ? undefined : validCodecs(options.codecs);
    try {
      this.socket = new NodeWsSocket(options.wsUri, this.logger, options.tls);
      this.ua = new JsSip.UA({
        sockets: [this.socket],
        uri: this.uri,
        password: options.password,
        ...(options.authUser === undefined ? {} : { authorization_user: options.authUser }),
        ...(options.realm === undefined ? {} : { realm: options.realm }),
        display_name: options.displayName,
        register: options.register,
        register_expires: options.registerExpiresSec ?? 600,
        session_timers: false,
        user_agent: options.userAgent ?? `callgate (JsSIP ${JsSip.version})`,
        connection_recovery_min_interval: options.reconnect?.minIntervalSec ?? 2,
        connection_recovery_max_interval: options.reconnect?.maxIntervalSec ?? 30,
        no_answer_timeout: options.noAnswerTimeoutSec ?? 60,
      });
    } catch (error) {
      throw SipError.invalidArgument(`invalid user agent options: ${String(error)}`);
    }
    this.bindUa();
  }

  get isRegistered(): boolean {
    return !this.closedFlag && this.ua.isRegistered();
  }

  get isConnected(): boolean {
    return !this.closedFlag && this.ua.isConnected();
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** REGISTERs that failed in a row (0 once registered). */
  get registrationFailures(): number {
    return this.failures;
  }

  /** Calls that have not terminated yet. */
  get activeCalls(): readonly SipCall[] {
    return [...this.calls];
  }

  /** Connects (and registers when `register` is set). Only the first call starts; later calls share its result. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(SipError.closed('start()'));
    this.startPromise ??= new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.startTimeoutMs ?? 10_000;
      const offs: (() => void)[] = [];
      const settle = (error?: SipError): void => {
        clearTimeout(timer);
        for (const off of offs) off();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(
          this.options.register
            ? SipError.registrationTimeout(this.user, timeoutMs)
            : SipError.connectTimeout(this.options.wsUri, timeoutMs),
        );
      }, timeoutMs);
      offs.push(this.once(this.options.register ? 'registered' : 'connected', () => settle()));
      if (this.options.register) {
        offs.push(
          this.once('registrationFailed', (e) =>
            settle(SipError.registrationFailed(this.user, e.cause, e.statusCode)),
          ),
        );
      }
      offs.push(this.once('closed', () => settle(SipError.closed('start()'))));
      this.logger.debug(`starting, ${this.options.wsUri}`);
      this.ua.start();
    });
    return this.startPromise;
  }

  /** Registers again after {@link unregister}; resolves when registered. */
  async register(timeoutMs = 10_000): Promise<void> {
    if (this.closing) throw SipError.closed('register()');
    this.wantRegistered = true;
    if (this.ua.isRegistered()) return;
    const done = this.registrationOutcome(timeoutMs);
    this.ua.register();
    await done;
  }

  /** Sends a REGISTER now (a refresh), unless closing or unregistered on purpose. */
  refreshRegistration(): void {
    if (this.closing || !this.wantRegistered || !this.ua.isConnected()) return;
    this.ua.register();
  }

  /** Unregisters and stays unregistered (also across reconnections) until {@link register}. */
  async unregister(timeoutMs = 5_000): Promise<void> {
    this.wantRegistered = false;
    this.clearRetry();
    if (!this.ua.isRegistered()) {
      this.ua.unregister();
      return;
    }
    const done = waitForEvent(this, 'unregistered', { timeoutMs });
    this.ua.unregister();
    await done;
  }

  /**
   * Places a call to `target`: a user of our domain ("0901000001"), "user@host", or a
   * SIP URI. Throws a SipError when the agent is closed or not connected.
   */
  call(target: string, options: SipMediaOptions): SipCall {
    if (this.closing) throw SipError.closed('call()');
    if (!this.ua.isConnected()) throw SipError.invalidState('call()', 'disconnected');
    const invalid = invalidMediaOptions(options);
    if (invalid) throw SipError.invalidArgument(`call(): ${invalid}`);
    const uri = this.targetUri(target);
    this.pendingMedia = options.mediaStream;
    this.pendingPassThrough = options.passThrough;
    let session: JsSipSession;
    try {
      const place = (): JsSipSession =>
        this.ua.call(uri, {
          ...(options.mediaStream === undefined ? {} : { mediaStream: options.mediaStream }),
          mediaConstraints: { audio: options.passThrough === undefined, video: false },
          pcConfig: this.pcConfig,
          extraHeaders: options.extraHeaders,
          ...(options.fromUser === undefined ? {} : { fromUserName: options.fromUser }),
        });
      session = options.passThrough ? withPeerConnection(options.passThrough, place) : place();
    } catch (error) {
      throw toSipError(error, `call(${target})`);
    } finally {
      this.pendingMedia = undefined;
      this.pendingPassThrough = undefined;
    }
    this.logger.info(`calling ${uri}${options.passThrough ? ' (direct media)' : ''}`);
    return this.wrap(session, options.mediaStream, undefined, options.passThrough);
  }

  /** Closes the agent (idempotent); resolves when its WebSocket is closed. */
  close(reason = 'closed'): Promise<void> {
    this.closePromise ??= this.shutdown(reason);
    return this.closePromise;
  }

  override toString(): string {
    return `SipUserAgent(${this.uri})`;
  }

  protected override onListenerError(event: keyof SipUserAgentEvents, error: unknown): void {
    this.logger.error(`a '${String(event)}' listener threw`, { error: String(error) });
  }

  private async shutdown(reason: string): Promise<void> {
    this.closing = true;
    this.clearRetry();
    this.logger.debug(`closing (${reason})`);
    const calls = [...this.calls];
    await Promise.all(calls.map((call) => boundedWait(call.hangup(), 3_000)));
    if (this.ua.isRegistered() && this.ua.isConnected()) {
      try {
        await this.unregister(2_000);
      } catch (error) {
        this.logger.warn('unregister on close failed', { error: String(error) });
      }
    }
    // Dropping the socket first makes JsSIP fail its leftover transactions at once, so
    // that stop() disconnects right away instead of after its 2 s grace timer.
    if (this.socket.isConnected() || this.socket.isConnecting()) await this.socket.drop();
    this.ua.stop();
    await this.socket.whenClosed();
    this.closedFlag = true;
    this.logger.info(`closed (${reason})`);
    this.safeEmit('closed', { reason });
  }

  private registrationOutcome(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        offOk();
        offFail();
        reject(SipError.registrationTimeout(this.user, timeoutMs));
      }, timeoutMs);
      const offOk = this.once('registered', () => {
        clearTimeout(timer);
        offFail();
        resolve();
      });
      const offFail = this.once('registrationFailed', (e) => {
        clearTimeout(timer);
        offOk();
        reject(SipError.registrationFailed(this.user, e.cause, e.statusCode));
      });
    });
  }

  private targetUri(target: string): string {
    if (/^sips?:/i.test(target)) return target;
    if (target.includes('@')) return `sip:${target}`;
    return `sip:${target}@${this.options.sipDomain}`;
  }

  private wrap(
    session: JsSipSession,
    mediaStream?: MediaStream,
    request?: JsSipIncomingRequest,
    passThrough?: PassThroughPeerConnection,
  ): SipCall {
    const existing = this.wrapped.get(session);
    if (existing) return existing;
    const call = new SipCall(
      session,
      { logger: this.logger, pcConfig: this.pcConfig, wrap: (s) => this.wrap(s) },
      mediaStream,
      request,
      passThrough,
    );
    this.wrapped.set(session, call);
    this.calls.add(call);
    void call.terminated.then(() => this.calls.delete(call));
    return call;
  }

  private bindUa(): void {
    const on = <K extends keyof JsSipUaEvents>(event: K, handler: (e: JsSipUaEvents[K]) => void): void => {
      this.ua.on(event, (e: JsSipUaEvents[K]) => {
        try {
          handler(e);
        } catch (error) {
          this.logger.error(`handling JsSIP '${event}' failed`, { error: String(error) });
        }
      });
    };
    on('connecting', (e) => {
      if (!this.closing) this.safeEmit('connecting', { attempt: e.attempts });
    });
    on('connected', () => {
      if (this.closing) return;
      this.logger.info('connected');
      this.safeEmit('connected', {});
    });
    on('disconnected', (e) => {
      this.clearRetry();
      if (this.closing) return;
      this.logger.info('disconnected', { code: e.code, reason: e.reason });
      const payload: SipUserAgentEvents['disconnected'] = { error: e.error };
      if (e.code !== undefined) payload.code = e.code;
      if (e.reason) payload.reason = e.reason;
      const transportError = this.socket.lastError;
      if (transportError) payload.transportError = transportError;
      this.safeEmit('disconnected', payload);
    });
    on('registered', () => {
      this.clearRetry();
      this.failures = 0;
      this.logger.info('registered');
      this.safeEmit('registered', {});
    });
    on('unregistered', (e) => {
      this.logger.info('unregistered');
      this.safeEmit('unregistered', e.cause ? { cause: translateCause(e.cause) } : {});
    });
    const mayRefresh = this.options.mayRefreshRegistration;
    if (mayRefresh) {
      on('registrationExpiring', () => {
        if (this.closing) return;
        if (mayRefresh()) this.ua.register();
        else this.logger.warn('registration left to expire (refresh refused)');
      });
    }
    on('registrationFailed', (e) => {
      const payload: SipUserAgentEvents['registrationFailed'] = { cause: translateCause(e.cause) };
      if (e.response) payload.statusCode = e.response.status_code;
      this.failures++;
      const retryInMs = this.scheduleRetry();
      if (retryInMs !== undefined) payload.retryInMs = retryInMs;
      this.logger.warn('registration failed', { ...payload });
      this.safeEmit('registrationFailed', payload);
    });
    on('newRTCSession', (e) => {
      this.restrictCodecs(e.session);
      if (e.originator === 'local') {
        this.wrap(e.session, this.pendingMedia, undefined, this.pendingPassThrough);
        return;
      }
      if (this.closing) {
        e.session.terminate({ status_code: 480 });
        return;
      }
      const call = this.wrap(e.session, undefined, e.request);
      this.logger.info(`incoming call from ${call.remote.uri}`);
      this.safeEmit('incomingCall', { call });
    });
  }

  /**
   * With the `codecs` option: rewrites the SDP of the session's local offers and answers (what
   * is sent; JsSIP emits them just before sending) and of the remote offers (before they are
   * applied, so that the local answer can only pick one of `codecs`). Remote answers stay as
   * they are: they answer an offer that was already restricted.
   */
  private restrictCodecs(session: JsSipSession): void {
    const codecs = this.codecs;
    if (!codecs) return;
    (session as unknown as JsSipSdpEmitter).on('sdp', (e) => {
      if (e.originator === 'local' || e.type === 'offer') e.sdp = restrictAudioCodecs(e.sdp, codecs);
    });
  }

  /** Schedules the next REGISTER after a failure; returns its delay, or undefined when none is due. */
  private scheduleRetry(): number | undefined {
    if (this.closing || !this.wantRegistered || this.retryTimer) return undefined;
    const retry = this.options.registrationRetryMs ?? 5_000;
    const delayMs = typeof retry === 'number' ? retry : backoffDelay(this.failures, retry);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closing && this.wantRegistered && this.ua.isConnected() && !this.ua.isRegistered()) {
        this.logger.debug('retrying REGISTER');
        this.ua.register();
      }
    }, delayMs);
    return delayMs;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

/** JsSIP's `sdp` event of a session: a listener may rewrite `sdp` before it is sent or applied. */
interface JsSipSdpEmitter {
  on(
    event: 'sdp',
    listener: (e: {
      originator: 'local' | 'remote';
      type: 'offer' | 'answer' | 'pranswer';
      sdp: string;
    }) => void,
  ): void;
}

/** The canonical names of the `codecs` option; throws INVALID_ARGUMENT for an empty list or an unknown name. */
function validCodecs(names: readonly string[]): AudioCodec[] {
  if (names.length === 0) throw SipError.invalidArgument('codecs: name at least one codec');
  return names.map((name) => {
    const codec = audioCodecName(name);
    if (!codec) throw SipError.invalidArgument(`codecs: unknown codec '${name}'`);
    return codec;
  });
}

/** Waits for `promise` at most `ms`; never rejects. */
async function boundedWait(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
