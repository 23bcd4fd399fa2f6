/**
 * A peer connection that does no media: it hands SDP through. JsSIP builds every call's
 * RTCPeerConnection with `new RTCPeerConnection(...)` on the global, synchronously inside
 * `ua.call()` and `session.answer()`; {@link withPeerConnection} puts one of these in its place
 * for exactly that call, so the choice is per leg and wrtc is never created for the leg.
 *
 * What JsSIP sends (the local offer or answer) comes from a {@link SdpSource} set by the
 * controller (the other leg's SDP, see DirectMediaCall); what JsSIP receives (the remote offer or
 * answer) is kept and reported to listeners. No ICE gathering (the state is 'complete' at once,
 * so JsSIP does not wait), no DTLS, no sockets, no tracks.
 */
import { sdpBody, withOrigin } from './sdp-media.js';

/** Gives the SDP JsSIP is to send; `remoteOffer` is set when it is an answer. Throw to refuse. */
export type SdpSource = (type: 'offer' | 'answer', remoteOffer: string | undefined) => string;

export interface PassThroughDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

type Listener = (event: Event) => void;

let instances = 0;

export class PassThroughPeerConnection {
  /** How many were created in this process (a test proves direct legs use these, not wrtc). */
  static get created(): number {
    return instances;
  }

  signalingState: RTCSignalingState = 'stable';
  readonly iceGatheringState: RTCIceGatheringState = 'complete';
  readonly iceConnectionState: RTCIceConnectionState = 'new';
  connectionState: RTCPeerConnectionState = 'new';
  localDescription: PassThroughDescription | null = null;
  remoteDescription: PassThroughDescription | null = null;
  /** Where the local SDP comes from; set by the controller before JsSIP needs it. */
  source: SdpSource | undefined;

  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly remoteListeners = new Set<(description: PassThroughDescription) => void>();
  private readonly origin = { sessionId: String(Date.now() * 1000 + (instances % 1000)), version: 0 };
  private lastBody: string | undefined;
  private closed = false;

  constructor(source?: SdpSource) {
    instances++;
    this.source = source;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The last SDP received from the peer (offer or answer). */
  get remoteSdp(): string | undefined {
    return this.remoteDescription?.sdp;
  }

  /** The last SDP sent to the peer. */
  get localSdp(): string | undefined {
    return this.localDescription?.sdp;
  }

  /** Called with every remote description JsSIP applies; returns the unsubscribe function. */
  onRemoteDescription(listener: (description: PassThroughDescription) => void): () => void {
    this.remoteListeners.add(listener);
    return () => this.remoteListeners.delete(listener);
  }

  createOffer(): Promise<PassThroughDescription> {
    return this.create('offer', undefined);
  }

  createAnswer(): Promise<PassThroughDescription> {
    if (this.remoteDescription?.type !== 'offer') {
      return Promise.reject(new Error('createAnswer() without a remote offer'));
    }
    return this.create('answer', this.remoteDescription.sdp);
  }

  setLocalDescription(description: PassThroughDescription): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the pass-through peer connection is closed'));
    this.localDescription = { type: description.type, sdp: description.sdp };
    this.signalingState = description.type === 'offer' ? 'have-local-offer' : 'stable';
    return Promise.resolve();
  }

  setRemoteDescription(description: { type: RTCSdpType; sdp?: string }): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the pass-through peer connection is closed'));
    const sdp = description.sdp ?? '';
    if (description.type !== 'offer' && description.type !== 'answer') {
      return Promise.reject(new Error(`unsupported description type '${description.type}'`));
    }
    if (!/^v=0/.test(sdp) || !/\r?\nm=/.test(sdp)) {
      return Promise.reject(new Error('not an SDP with a media section'));
    }
    const remote: PassThroughDescription = { type: description.type, sdp };
    this.remoteDescription = remote;
    this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
    for (const listener of [...this.remoteListeners]) listener(remote);
    return Promise.resolve();
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  addTrack(): never {
    throw new Error('a pass-through peer connection carries no media: give no mediaStream');
  }

  getSenders(): RTCRtpSender[] {
    return [];
  }

  getReceivers(): RTCRtpReceiver[] {
    return [];
  }

  getTransceivers(): RTCRtpTransceiver[] {
    return [];
  }

  getStats(): Promise<RTCStatsReport> {
    return Promise.resolve(new Map() as unknown as RTCStatsReport);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signalingState = 'closed';
    this.connectionState = 'closed';
    this.listeners.clear();
    this.remoteListeners.clear();
  }

  private create(type: 'offer' | 'answer', remoteOffer: string | undefined): Promise<PassThroughDescription> {
    if (this.closed) return Promise.reject(new Error('the pass-through peer connection is closed'));
    if (!this.source) return Promise.reject(new Error(`no SDP to ${type}: the leg has no source`));
    let sdp: string;
    try {
      sdp = this.source(type, remoteOffer);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const body = sdpBody(sdp);
    if (body !== this.lastBody) {
      this.origin.version++;
      this.lastBody = body;
    }
    return Promise.resolve({ type, sdp: withOrigin(sdp, this.origin) });
  }
}

/**
 * Runs `build` (a synchronous `ua.call()` or `session.answer()`) with the global
 * RTCPeerConnection replaced by a constructor that returns `pc`: JsSIP creates the leg's peer
 * connection inside that call. The global is restored before this returns, whatever happens.
 */
export function withPeerConnection<T>(pc: PassThroughPeerConnection, build: () => T): T {
  const scope = globalThis as unknown as Record<string, unknown>;
  const previous = scope.RTCPeerConnection;
  function PassThrough(): PassThroughPeerConnection {
    return pc;
  }
  scope.RTCPeerConnection = PassThrough;
  try {
    return build();
  } finally {
    scope.RTCPeerConnection = previous;
  }
}
