import { combineStats, frameStats, sineFrame, type FrameStats } from './audio-math.js';
import { SipError } from './errors.js';
import { installNodeWebRtcGlobals } from './globals.js';
import { silentLogger, type SipLogger } from './logger.js';
import { wrtc, type WrtcAudioData, type WrtcAudioSink, type WrtcAudioSource } from './wrtc.js';

/** Sample rate of the frames we produce (wrtc's RTCAudioSource takes 10 ms frames). */
export const AUDIO_SAMPLE_RATE = 48_000;
/** Samples per 10 ms frame at 48 kHz. */
export const AUDIO_FRAME_SAMPLES = 480;
const FRAME_MS = 10;
/** Frames produced at most in one catch-up after the event loop stalled. */
const MAX_CATCH_UP_FRAMES = 10;

export interface ToneSourceOptions {
  /** Hz; null or 0 for silence. Default null. */
  frequency?: number | null;
  /** Peak amplitude, 0..1 of full scale. Default 0.3. */
  amplitude?: number;
}

/**
 * A local audio track playing a sine tone (or silence): a wrtc RTCAudioSource fed every
 * 10 ms with 480 samples of 16-bit mono PCM at 48 kHz, each frame its own buffer.
 * Pass {@link stream} as the mediaStream of a call. `stop()` ends the timer and the track.
 */
export class ToneSource {
  readonly track: MediaStreamTrack;
  readonly stream: MediaStream;

  private readonly source: WrtcAudioSource;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private currentFrequency: number | null;
  private amplitude: number;
  private phase = 0;
  private framesSent = 0;
  private stopped = false;

  constructor(options: ToneSourceOptions = {}) {
    installNodeWebRtcGlobals();
    this.currentFrequency = normaliseFrequency(options.frequency);
    this.amplitude = options.amplitude ?? 0.3;
    this.source = new wrtc.nonstandard.RTCAudioSource();
    this.track = this.source.createTrack();
    this.stream = new wrtc.MediaStream([this.track]);
    this.timer = setInterval(() => this.pump(), FRAME_MS);
  }

  /** The tone now playing (Hz), or null for silence. */
  get frequency(): number | null {
    return this.currentFrequency;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Switches to another tone; null or 0 plays silence. */
  setFrequency(frequency: number | null): void {
    this.currentFrequency = normaliseFrequency(frequency);
  }

  setAmplitude(amplitude: number): void {
    this.amplitude = amplitude;
  }

  /** Stops feeding and ends the track. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.track.stop();
  }

  private pump(): void {
    if (this.stopped) return;
    const due = Math.floor((performance.now() - this.startedAt) / FRAME_MS);
    if (due - this.framesSent > MAX_CATCH_UP_FRAMES) this.framesSent = due - MAX_CATCH_UP_FRAMES;
    while (this.framesSent < due) {
      const frame = sineFrame(
        this.currentFrequency ?? 0,
        AUDIO_SAMPLE_RATE,
        AUDIO_FRAME_SAMPLES,
        this.amplitude,
        this.phase,
      );
      this.phase = frame.phase;
      this.source.onData({
        samples: frame.samples,
        sampleRate: AUDIO_SAMPLE_RATE,
        bitsPerSample: 16,
        channelCount: 1,
        numberOfFrames: AUDIO_FRAME_SAMPLES,
      });
      this.framesSent++;
    }
  }
}

function normaliseFrequency(frequency: number | null | undefined): number | null {
  return frequency && frequency > 0 ? frequency : null;
}

export interface AudioAnalyserOptions {
  /** Length of the sliding window (ms). Default 200. */
  windowMs?: number;
}

/** What an analyser hears over its window. */
export interface AudioSnapshot {
  /** RMS level, 0..~0.7 (a full-scale sine). */
  level: number;
  /** Zero-crossing estimate (Hz); null for (near) silence. */
  frequency: number | null;
  /** Audio the window holds (ms). */
  windowMs: number;
  /** Frames received since the analyser started. */
  framesReceived: number;
}

export interface HearOptions {
  frequency: number;
  /** Accepted deviation (Hz). Default max(15, 5 % of frequency). */
  toleranceHz?: number;
  /** Minimum RMS level. Default 0.02. */
  minLevel?: number;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

export interface SilenceOptions {
  /** Maximum RMS level. Default 0.005. */
  maxLevel?: number;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

interface Waiter {
  check(snapshot: AudioSnapshot): boolean;
  resolve(snapshot: AudioSnapshot): void;
  reject(error: SipError): void;
  timer: NodeJS.Timeout;
}

/**
 * Listens to a (remote) audio track through a wrtc RTCAudioSink and estimates, over a
 * sliding window, its RMS level and its frequency by zero crossings: enough to tell a
 * 440 Hz tone from an 880 Hz one, or a tone from silence.
 */
export class AudioAnalyser {
  private readonly sink: WrtcAudioSink;
  private readonly windowMs: number;
  private readonly frames: { at: number; stats: FrameStats }[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly startedAt = performance.now();
  private poll: NodeJS.Timeout | undefined;
  private received = 0;
  private stopped = false;

  constructor(track: MediaStreamTrack, options: AudioAnalyserOptions = {}) {
    installNodeWebRtcGlobals();
    this.windowMs = options.windowMs ?? 200;
    this.sink = new wrtc.nonstandard.RTCAudioSink(track);
    this.sink.ondata = (data: WrtcAudioData) => this.onFrame(data);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Level and frequency over the last window. */
  snapshot(): AudioSnapshot {
    this.prune(performance.now());
    const estimate = combineStats(this.frames.map((f) => f.stats));
    return {
      level: estimate.level,
      frequency: estimate.frequency,
      windowMs: estimate.durationMs,
      framesReceived: this.received,
    };
  }

  /** Resolves when a tone of `frequency` (within tolerance, above minLevel) fills the window. */
  waitFor(options: HearOptions): Promise<AudioSnapshot> {
    const tolerance = options.toleranceHz ?? Math.max(15, options.frequency * 0.05);
    const minLevel = options.minLevel ?? 0.02;
    return this.wait(
      (s) =>
        s.level >= minLevel &&
        s.frequency !== null &&
        Math.abs(s.frequency - options.frequency) <= tolerance &&
        s.windowMs >= this.windowMs * 0.9,
      options.timeoutMs ?? 5_000,
      `hearing ${options.frequency} Hz`,
    );
  }

  /** Resolves when the window (at least one window after start) is below maxLevel, or no audio arrives. */
  waitForSilence(options: SilenceOptions = {}): Promise<AudioSnapshot> {
    const maxLevel = options.maxLevel ?? 0.005;
    return this.wait(
      (s) => s.level <= maxLevel && performance.now() - this.startedAt >= this.windowMs,
      options.timeoutMs ?? 5_000,
      'hearing silence',
    );
  }

  /** Stops the sink and rejects pending waits. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sink.ondata = null;
    this.sink.stop();
    this.stopPoll();
    for (const waiter of [...this.waiters]) {
      clearTimeout(waiter.timer);
      waiter.reject(new SipError('AUDIO_STOPPED', 'the audio analyser was stopped'));
    }
    this.waiters.clear();
  }

  private wait(
    check: (s: AudioSnapshot) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<AudioSnapshot> {
    if (this.stopped) return Promise.reject(new SipError('AUDIO_STOPPED', 'the audio analyser is stopped'));
    const now = this.snapshot();
    if (check(now)) return Promise.resolve(now);
    return new Promise<AudioSnapshot>((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          if (this.waiters.size === 0) this.stopPoll();
          const s = this.snapshot();
          const heard = s.frequency === null ? 'no tone' : `${Math.round(s.frequency)} Hz`;
          reject(SipError.timeout(what, timeoutMs, `heard ${heard} at level ${s.level.toFixed(4)}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      // Frames drive the checks; the poll covers a track that stopped delivering frames.
      this.poll ??= setInterval(() => this.evaluate(), 50);
    });
  }

  private onFrame(data: WrtcAudioData): void {
    if (this.stopped) return;
    const now = performance.now();
    const stats = frameStats(data.samples, data.sampleRate, data.channelCount ?? 1);
    const last = this.frames[this.frames.length - 1];
    if (last && last.stats.sampleRate !== stats.sampleRate) this.frames.length = 0;
    this.frames.push({ at: now, stats });
    this.received++;
    this.prune(now);
    if (this.waiters.size > 0) this.evaluate();
  }

  private evaluate(): void {
    if (this.waiters.size === 0) return;
    const snapshot = this.snapshot();
    for (const waiter of [...this.waiters]) {
      if (!waiter.check(snapshot)) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(snapshot);
    }
    if (this.waiters.size === 0) this.stopPoll();
  }

  private prune(now: number): void {
    const oldest = now - this.windowMs;
    let drop = 0;
    while (drop < this.frames.length && (this.frames[drop]?.at ?? 0) < oldest) drop++;
    if (drop > 0) this.frames.splice(0, drop);
  }

  private stopPoll(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }
}

export type AudioBridgeDirection = 'aToB' | 'bToA';

/** One direction of a bridge: a sink on the track from one leg feeding the source sent to the other. */
class BridgePipe {
  readonly source: WrtcAudioSource;
  readonly track: MediaStreamTrack;
  readonly stream: MediaStream;
  muted = false;
  forwarded = 0;
  private sink: WrtcAudioSink | undefined;

  constructor() {
    this.source = new wrtc.nonstandard.RTCAudioSource();
    this.track = this.source.createTrack();
    this.stream = new wrtc.MediaStream([this.track]);
  }

  attach(track: MediaStreamTrack | undefined): void {
    this.detach();
    if (!track) return;
    const sink = new wrtc.nonstandard.RTCAudioSink(track);
    sink.ondata = (data: WrtcAudioData) => this.forward(data);
    this.sink = sink;
  }

  detach(): void {
    if (!this.sink) return;
    this.sink.ondata = null;
    this.sink.stop();
    this.sink = undefined;
  }

  close(): void {
    this.detach();
    this.track.stop();
  }

  private forward(data: WrtcAudioData): void {
    // Each frame needs its own buffer: the sink may reuse its own.
    const samples = this.muted ? new Int16Array(data.samples.length) : new Int16Array(data.samples);
    const channelCount = data.channelCount ?? 1;
    this.source.onData({
      samples,
      sampleRate: data.sampleRate,
      bitsPerSample: 16,
      channelCount,
      numberOfFrames: data.numberOfFrames ?? samples.length / channelCount,
    });
    this.forwarded++;
  }
}

/**
 * Bridges the audio of two call legs A and B in this process. Send {@link streamToA} to
 * leg A and {@link streamToB} to leg B (answer/call with them), then give the bridge the
 * tracks received from each leg: what A says is forwarded to B and the other way round.
 * A direction can be muted (silence is sent instead). `close()` stops sinks and tracks.
 */
export class AudioBridge {
  private readonly aToB: BridgePipe;
  private readonly bToA: BridgePipe;
  private closed = false;

  constructor(private readonly logger: SipLogger = silentLogger) {
    installNodeWebRtcGlobals();
    this.aToB = new BridgePipe();
    this.bToA = new BridgePipe();
  }

  /** The stream to send to leg A: it carries what leg B says. */
  get streamToA(): MediaStream {
    return this.bToA.stream;
  }

  /** The stream to send to leg B: it carries what leg A says. */
  get streamToB(): MediaStream {
    return this.aToB.stream;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Frames forwarded so far in each direction. */
  get framesForwarded(): Record<AudioBridgeDirection, number> {
    return { aToB: this.aToB.forwarded, bToA: this.bToA.forwarded };
  }

  /** The track received from leg A (its remote track); replaces any previous one. */
  setTrackFromA(track: MediaStreamTrack | undefined): void {
    this.assertOpen('setTrackFromA()');
    this.aToB.attach(track);
  }

  /** The track received from leg B (its remote track); replaces any previous one. */
  setTrackFromB(track: MediaStreamTrack | undefined): void {
    this.assertOpen('setTrackFromB()');
    this.bToA.attach(track);
  }

  /** Both remote tracks at once. */
  connect(trackFromA: MediaStreamTrack, trackFromB: MediaStreamTrack): void {
    this.setTrackFromA(trackFromA);
    this.setTrackFromB(trackFromB);
    this.logger.debug('audio bridge connected');
  }

  /** Sends silence instead of the audio in one direction (or stops doing so). */
  mute(direction: AudioBridgeDirection, muted = true): void {
    this.pipe(direction).muted = muted;
  }

  isMuted(direction: AudioBridgeDirection): boolean {
    return this.pipe(direction).muted;
  }

  /** Stops both sinks and both tracks. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.aToB.close();
    this.bToA.close();
    this.logger.debug('audio bridge closed');
  }

  private pipe(direction: AudioBridgeDirection): BridgePipe {
    switch (direction) {
      case 'aToB':
        return this.aToB;
      case 'bToA':
        return this.bToA;
    }
  }

  private assertOpen(what: string): void {
    if (this.closed) throw SipError.invalidState(what, 'closed');
  }
}
