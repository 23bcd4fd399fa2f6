// The SIP port over libs/sip (JsSIP + wrtc): the one file to change to support another SIP stack.
// Media crosses the port as opaque objects; here they are what wrtc makes (MediaStream, track).
import type {
  AudioBridgePort,
  AudioSource,
  AudioTrack,
  LegEvents,
  LegMediaOptions,
  LegState,
  SipLeg,
  SipPort,
  SipUserAgentPort,
  TonePort,
  UserAgentEvents,
  UserAgentSpec,
} from '@callgate/calls';
import {
  AudioBridge,
  prefixedLogger,
  type SipCall,
  type SipLogger,
  type SipMediaOptions,
  SipUserAgent,
  ToneSource,
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
  constructor(private readonly call: SipCall) {}

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
  constructor(private readonly ua: SipUserAgent) {}

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

/**
 * The SIP port of the gateway: JsSIP user agents over WebSocket (TLS, ICE servers, REGISTER
 * back-off, reconnection 1-10 s), wrtc bridges and tones. SIP traffic goes to `logger` at debug,
 * each line prefixed with the agent (`<domain>/<ipphone>:`).
 */
export class JsSipPort implements SipPort {
  constructor(private readonly logger: SipLogger) {}

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
