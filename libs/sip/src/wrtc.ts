/**
 * A typed facade over @roamhq/wrtc (its bundled declarations reference types that do
 * not exist). The standard classes are typed as the DOM's; the nonstandard audio
 * source and sink as they behave in 0.10.
 */
import wrtcModule from '@roamhq/wrtc';
import { runInThisContext } from 'node:vm';

/** One frame of 16-bit PCM, as RTCAudioSource takes it and RTCAudioSink gives it. */
export interface WrtcAudioData {
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample?: number;
  channelCount?: number;
  numberOfFrames?: number;
}

export interface WrtcAudioSource {
  createTrack(): MediaStreamTrack;
  onData(data: WrtcAudioData): void;
}

export interface WrtcAudioSink {
  readonly stopped: boolean;
  ondata: ((data: WrtcAudioData) => void) | null;
  stop(): void;
}

export interface WrtcModule {
  readonly RTCPeerConnection: typeof RTCPeerConnection;
  readonly RTCSessionDescription: typeof RTCSessionDescription;
  readonly RTCIceCandidate: typeof RTCIceCandidate;
  readonly MediaStream: typeof MediaStream;
  readonly MediaStreamTrack: typeof MediaStreamTrack;
  readonly nonstandard: {
    readonly RTCAudioSource: new () => WrtcAudioSource;
    readonly RTCAudioSink: new (track: MediaStreamTrack) => WrtcAudioSink;
  };
}

export const wrtc = wrtcModule as unknown as WrtcModule;

const exitGuard = Symbol.for('callgate.sip.wrtc-exit-guard');

/**
 * wrtc 0.10 crashes Node when the process ends naturally (the event loop ran empty)
 * while wrtc objects are still reachable: their native finalizers run during the
 * environment teardown and abort ("Cannot create a handle without a HandleScope") or
 * segfault. `process.exit()` skips that teardown. So once the loop is empty, this guard
 * exits explicitly, with process.exitCode: 'exit' listeners still run. Installed once
 * per process, on import. (A live, unstopped wrtc track keeps the loop busy: stop them.)
 */
function installExitGuard(): void {
  const real = nodeProcess();
  const scope = real as unknown as Record<symbol, boolean>;
  if (scope[exitGuard]) return;
  scope[exitGuard] = true;
  real.once('beforeExit', () => real.exit());
}

/**
 * The process object of Node's main context. Test runners that sandbox modules (jest)
 * give them a copy of `process` whose events the real process never emits.
 */
function nodeProcess(): NodeJS.Process {
  const candidate: unknown = runInThisContext('process');
  return typeof candidate === 'object' && candidate !== null && 'once' in candidate && 'exit' in candidate
    ? (candidate as NodeJS.Process)
    : process;
}
installExitGuard();
