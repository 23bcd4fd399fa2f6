/**
 * Pure PCM helpers for tone generation and for telling tones apart: RMS level and a
 * zero-crossing frequency estimate, computed per frame and combined over a window.
 */

/** Full scale of 16-bit PCM. */
export const PCM16_FULL_SCALE = 32768;

/**
 * Fills a new Int16Array of `length` samples with a sine of `frequency` Hz, starting
 * at `phase` (radians); returns the samples and the phase where the next frame starts.
 * A frequency of 0 (or less) gives silence.
 */
export function sineFrame(
  frequency: number,
  sampleRate: number,
  length: number,
  amplitude: number,
  phase: number,
): { samples: Int16Array; phase: number } {
  const samples = new Int16Array(length);
  if (frequency <= 0 || amplitude <= 0) return { samples, phase: 0 };
  const step = (2 * Math.PI * frequency) / sampleRate;
  const peak = Math.min(1, amplitude) * (PCM16_FULL_SCALE - 1);
  let p = phase;
  for (let i = 0; i < length; i++) {
    samples[i] = Math.round(Math.sin(p) * peak);
    p += step;
  }
  return { samples, phase: p % (2 * Math.PI) };
}

/** Sign state of the signal for zero counting: +1, -1, or 0 when not known yet. */
export type SignState = -1 | 0 | 1;

/** What a frame contributes to a window's level and frequency estimate. */
export interface FrameStats {
  /** Number of samples of the channel analysed. */
  count: number;
  /** Sum of squared samples, normalised to full scale (each sample in -1..1). */
  sumSquares: number;
  /** Sign changes inside the frame (with hysteresis). */
  crossings: number;
  /** First and last sign state reached in the frame (0 when the frame stays inside the dead band). */
  firstState: SignState;
  lastState: SignState;
  sampleRate: number;
}

/** Dead band of the zero-crossing counter: 1 % of full scale, so low noise does not count. */
export const ZERO_CROSSING_HYSTERESIS = 0.01;

/**
 * Statistics of one frame; with several channels, only the first one is read. A sign
 * change counts only when the signal leaves the dead band (±hysteresis) on the other side.
 */
export function frameStats(
  samples: Int16Array,
  sampleRate: number,
  channelCount = 1,
  hysteresis = ZERO_CROSSING_HYSTERESIS,
): FrameStats {
  const step = Math.max(1, channelCount);
  const band = hysteresis * PCM16_FULL_SCALE;
  let count = 0;
  let sumSquares = 0;
  let crossings = 0;
  let firstState: SignState = 0;
  let state: SignState = 0;
  for (let i = 0; i < samples.length; i += step) {
    const value = samples[i] ?? 0;
    const normalised = value / PCM16_FULL_SCALE;
    sumSquares += normalised * normalised;
    const next: SignState = value > band ? 1 : value < -band ? -1 : 0;
    if (next !== 0) {
      if (state === 0) firstState = next;
      else if (next !== state) crossings++;
      state = next;
    }
    count++;
  }
  return { count, sumSquares, crossings, firstState, lastState: state, sampleRate };
}

/** Level and frequency of a window of consecutive frames. */
export interface WindowEstimate {
  /** RMS level, 0 (silence) .. ~0.707 (full-scale sine). */
  level: number;
  /** Estimated frequency in Hz; null when the window is empty, below `minLevel`, or never crosses zero. */
  frequency: number | null;
  /** Duration covered by the frames (ms). */
  durationMs: number;
}

/**
 * Combines consecutive frames: RMS over all samples, and frequency = crossings / 2 /
 * duration (a sine crosses zero twice per period). Frames must share one sample rate.
 */
export function combineStats(frames: readonly FrameStats[], minLevel = 0.001): WindowEstimate {
  let count = 0;
  let sumSquares = 0;
  let crossings = 0;
  let last: FrameStats | undefined;
  let state: SignState = 0;
  for (const frame of frames) {
    count += frame.count;
    sumSquares += frame.sumSquares;
    crossings += frame.crossings;
    if (state !== 0 && frame.firstState !== 0 && frame.firstState !== state) crossings++;
    if (frame.lastState !== 0) state = frame.lastState;
    last = frame;
  }
  if (count === 0 || !last) return { level: 0, frequency: null, durationMs: 0 };
  const seconds = count / last.sampleRate;
  const level = Math.sqrt(sumSquares / count);
  const frequency = level >= minLevel && crossings > 0 ? crossings / 2 / seconds : null;
  return { level, frequency, durationMs: seconds * 1000 };
}

/** RMS level of a buffer (0..~0.707 for a sine). */
export function rmsLevel(samples: Int16Array, channelCount = 1): number {
  return combineStats([frameStats(samples, 1, channelCount)], Infinity).level;
}

/** Zero-crossing frequency estimate of a buffer; null for silence. */
export function estimateFrequency(samples: Int16Array, sampleRate: number, channelCount = 1): number | null {
  return combineStats([frameStats(samples, sampleRate, channelCount)]).frequency;
}
