// The SIP port over libs/sip (JsSIP + wrtc): the one file to change to support another SIP stack.
// Media crosses the port as opaque objects; here they are what wrtc makes (MediaStream, track).
import type {
  AudioBridgePort,
  AudioSource,
  AudioTrack,
  DirectLink,
  DirectMediaPort,
  LegEvents,
  LegMediaOptions,
  LegState,
  MediaProfile,
  SipLeg,
  SipPort,
  SipUserAgentPort,
  TonePort,
  UserAgentEvents,
  UserAgentSpec,
} from '@callgate/calls';
import {
  AudioBridge,
  DirectCalloutCustomer,
  DirectMediaCall,
  DirectMediaState,
  describeAudio,
  hasIce,
  isUnrelayedTransferPlaceholder,
  prefixedLogger,
  type SipCall,
  type SipLogger,
  type SipMediaOptions,
  SipUserAgent,
  ToneSource,
  webRtcPlaceholderOffer,
} from '@callgate/sip';

const stream = (media: AudioSource): MediaStream => media as MediaStream;
const track = (audio: AudioTrack): MediaStreamTrack => audio as MediaStreamTrack;

function mediaOptions(options: LegMediaOptions): SipMediaOptions {
  return {
    mediaStream: stream(options.media),
    ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    ...(options.fromUser === undefined ? {} : { fromUser: options.fromUser }),
  };
}

/** A libs/sip call as a leg of the port. */
class JsSipLeg implements SipLeg {
  constructor(readonly call: SipCall) {}

  get remoteUser(): string {
    return this.call.remote.user;
  }
  get state(): LegState {
    return this.call.state;
  }
  get isTerminated(): boolean {
    return this.call.isTerminated;
  }
  get heldLocally(): boolean {
    return this.call.onHold.local;
  }
  get remoteAudioTrack(): AudioTrack | undefined {
    return this.call.remoteAudioTrack;
  }
  requestHeader(name: string): string | undefined {
    return this.call.requestHeader(name);
  }
  answer(options: LegMediaOptions): Promise<void> {
    return this.call.answer(mediaOptions(options));
  }
  reject(statusCode: number): void {
    this.call.reject(statusCode);
  }
  async hangup(): Promise<void> {
    await this.call.hangup();
  }
  hold(): Promise<void> {
    return this.call.hold();
  }
  unhold(): Promise<void> {
    return this.call.unhold();
  }
  sendInfoDtmf(digits: string): Promise<void> {
    return this.call.sendInfoDtmf(digits);
  }
  once<K extends keyof LegEvents>(event: K, listener: (payload: LegEvents[K]) => void): () => void {
    // libs/sip's payloads carry what the port names, and more.
    return this.call.once(event, listener);
  }
}

/** A libs/sip user agent as the port's. */
class JsSipUserAgent implements SipUserAgentPort {
  constructor(readonly ua: SipUserAgent) {}

  get user(): string {
    return this.ua.user;
  }
  get uri(): string {
    return this.ua.uri;
  }
  get isConnected(): boolean {
    return this.ua.isConnected;
  }
  get isRegistered(): boolean {
    return this.ua.isRegistered;
  }
  get registrationFailures(): number {
    return this.ua.registrationFailures;
  }
  start(): Promise<void> {
    return this.ua.start();
  }
  refreshRegistration(): void {
    this.ua.refreshRegistration();
  }
  close(reason: string): Promise<void> {
    return this.ua.close(reason);
  }
  call(target: string, options: LegMediaOptions): SipLeg {
    return new JsSipLeg(this.ua.call(target, mediaOptions(options)));
  }
  on<K extends keyof UserAgentEvents>(event: K, listener: (payload: UserAgentEvents[K]) => void): () => void {
    if (event === 'incomingCall') {
      const deliver = listener as (payload: UserAgentEvents['incomingCall']) => void;
      return this.ua.on('incomingCall', ({ call }) => deliver({ leg: new JsSipLeg(call) }));
    }
    return this.ua.on(event, listener as (payload: unknown) => void);
  }
}

class WrtcBridge implements AudioBridgePort {
  private readonly bridge: AudioBridge;
  constructor(logger: SipLogger) {
    this.bridge = new AudioBridge(logger);
  }
  get streamToA(): AudioSource {
    return this.bridge.streamToA;
  }
  get streamToB(): AudioSource {
    return this.bridge.streamToB;
  }
  connect(fromA: AudioTrack, fromB: AudioTrack): void {
    this.bridge.connect(track(fromA), track(fromB));
  }
  setTrackFromA(audio: AudioTrack): void {
    this.bridge.setTrackFromA(track(audio));
  }
  setTrackFromB(audio: AudioTrack): void {
    this.bridge.setTrackFromB(track(audio));
  }
  mute(direction: 'aToB' | 'bToA', muted: boolean): void {
    this.bridge.mute(direction, muted);
  }
  close(): void {
    this.bridge.close();
  }
}

/** The libs/sip call under a leg of this port (a leg of another port is a programming error). */
function sipCallOf(leg: SipLeg): SipCall {
  if (leg instanceof JsSipLeg) return leg.call;
  throw new TypeError('not a leg of the JsSIP port');
}

function sipUserAgentOf(ua: SipUserAgentPort): SipUserAgent {
  if (ua instanceof JsSipUserAgent) return ua.ua;
  throw new TypeError('not a user agent of the JsSIP port');
}

/** A DirectMediaCall as the port's link; a command after a failed update first reconnects the legs. */
class JsSipDirectLink implements DirectLink {
  constructor(private readonly call: DirectMediaCall) {}

  hold(): Promise<void> {
    return this.command(() => this.call.hold());
  }
  unhold(): Promise<void> {
    return this.command(() => this.call.unhold());
  }
  mute(): Promise<void> {
    return this.command(() => this.call.mute());
  }
  unmute(): Promise<void> {
    return this.command(() => this.call.unmute());
  }
  async retarget(target: SipLeg): Promise<void> {
    await this.command(() => this.call.retarget(sipCallOf(target)));
  }
  close(): void {
    void this.call.hangup();
  }

  private async command(run: () => Promise<unknown>): Promise<void> {
    if (this.call.state === DirectMediaState.MediaFailed) await this.call.reconnect();
    await run();
  }
}

/** Direct media over libs/sip: pass-through legs (no wrtc), DirectMediaCall joining them. */
class JsSipDirectMedia implements DirectMediaPort {
  private readonly callouts = new WeakMap<SipCall, DirectCalloutCustomer>();

  callWithOfferOf(
    ua: SipUserAgentPort,
    target: string,
    offerer: SipLeg,
    options: { extraHeaders?: string[]; fromUser?: string },
  ): SipLeg {
    const passThrough = DirectMediaCall.offerOf(sipCallOf(offerer));
    return new JsSipLeg(sipUserAgentOf(ua).call(target, { passThrough, ...options }));
  }

  callTarget(
    ua: SipUserAgentPort,
    target: string,
    customer: SipLeg,
    options: { extraHeaders: string[]; fromUser: string; placeholder: boolean },
  ): { leg: SipLeg; placeholder: boolean } {
    const { placeholder, ...headers } = options;
    const offer = DirectMediaCall.targetOffer(sipCallOf(customer), placeholder);
    const leg = new JsSipLeg(sipUserAgentOf(ua).call(target, { passThrough: offer.pc, ...headers }));
    return { leg, placeholder: offer.placeholder };
  }

  isUnrelayedPlaceholder(caller: SipLeg): boolean {
    const offer = sipCallOf(caller).requestSdp;
    return offer !== undefined && isUnrelayedTransferPlaceholder(offer);
  }

  isIceEnd(leg: SipLeg): boolean {
    return hasIce(sipCallOf(leg).passThrough?.remoteSdp);
  }

  bridgeable(customer: SipLeg): boolean {
    const offer = sipCallOf(customer).requestSdp;
    return offer === undefined || describeAudio(offer)?.profile === 'webrtc';
  }

  async answerCustomer(device: SipLeg, customer: SipLeg): Promise<DirectLink> {
    return new JsSipDirectLink(await DirectMediaCall.answerCustomer(sipCallOf(device), sipCallOf(customer)));
  }

  callDevice(ua: SipUserAgentPort, target: string, profile: MediaProfile, extraHeaders: string[]): SipLeg {
    const passThrough = DirectMediaCall.placeholder(
      profile === 'webrtc' ? { placeholderOffer: webRtcPlaceholderOffer() } : {},
    );
    return new JsSipLeg(sipUserAgentOf(ua).call(target, { passThrough, extraHeaders }));
  }

  callCustomer(ua: SipUserAgentPort, device: SipLeg, target: string, extraHeaders: string[]): SipLeg {
    const customer = DirectCalloutCustomer.place(sipUserAgentOf(ua), sipCallOf(device), target, {
      extraHeaders,
    });
    this.callouts.set(customer.call, customer);
    return new JsSipLeg(customer.call);
  }

  async connectCustomer(customer: SipLeg): Promise<DirectLink> {
    return new JsSipDirectLink(await this.callout(customer).connect());
  }

  abandonCustomer(customer: SipLeg): Promise<void> {
    return this.callout(customer).abandon();
  }

  private callout(customer: SipLeg): DirectCalloutCustomer {
    const callout = this.callouts.get(sipCallOf(customer));
    if (!callout) throw new TypeError('not a customer leg placed by callCustomer()');
    return callout;
  }
}

/**
 * The SIP port of the gateway: JsSIP user agents over WebSocket (TLS, ICE servers, REGISTER
 * back-off, reconnection 1-10 s), wrtc bridges and tones, and direct media (pass-through legs, their
 * lines logged by the agent's user agent). SIP traffic goes to `logger` at debug, each line
 * prefixed with the agent (`<domain>/<ipphone>:`).
 */
export class JsSipPort implements SipPort {
  readonly direct: DirectMediaPort;

  constructor(private readonly logger: SipLogger) {
    this.direct = new JsSipDirectMedia();
  }

  createUserAgent(spec: UserAgentSpec): SipUserAgentPort {
    const { config, pbx } = spec;
    const ua = new SipUserAgent({
      wsUri: pbx.wsUri,
      sipDomain: pbx.sipDomain,
      user: config.sip.user,
      password: config.sip.password,
      ...(config.sip.authUser === undefined ? {} : { authUser: config.sip.authUser }),
      ...(config.sip.realm === undefined ? {} : { realm: config.sip.realm }),
      ...(pbx.tls === undefined
        ? {}
        : {
            tls: {
              ...(pbx.tls.ca === undefined ? {} : { ca: pbx.tls.ca }),
              ...(pbx.tls.serverName === undefined ? {} : { servername: pbx.tls.serverName }),
            },
          }),
      pcConfig: {
        iceServers: (pbx.iceServers ?? []).map((server) => ({ ...server, urls: [...server.urls] })),
        ...(pbx.iceTransportPolicy === undefined ? {} : { iceTransportPolicy: pbx.iceTransportPolicy }),
      },
      displayName: config.name,
      register: true,
      reconnect: { minIntervalSec: 1, maxIntervalSec: 10 },
      ...(spec.registrationRetry ? { registrationRetryMs: spec.registrationRetry } : {}),
      ...(spec.codecs ? { codecs: spec.codecs } : {}),
      mayRefreshRegistration: spec.mayRefreshRegistration,
      logger: prefixedLogger(this.logger, `${spec.agent.domain}/${spec.agent.ipphone}:`),
    });
    return new JsSipUserAgent(ua);
  }

  createBridge(): AudioBridgePort {
    return new WrtcBridge(this.logger);
  }

  createTone(options: { frequency: number; amplitude: number }): TonePort {
    return new ToneSource(options);
  }
}
