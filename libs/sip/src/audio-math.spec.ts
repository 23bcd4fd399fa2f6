import { combineStats, estimateFrequency, frameStats, rmsLevel, sineFrame } from './audio-math.js';

const RATE = 48_000;

/** 10 ms frames of a continuous tone, as ToneSource produces them. */
function toneFrames(frequency: number, frames: number, amplitude = 0.3): Int16Array[] {
  const result: Int16Array[] = [];
  let phase = 0;
  for (let i = 0; i < frames; i++) {
    const frame = sineFrame(frequency, RATE, 480, amplitude, phase);
    phase = frame.phase;
    result.push(frame.samples);
  }
  return result;
}

describe('sineFrame()', () => {
  it('gives each frame its own 960-byte buffer', () => {
    const [a, b] = toneFrames(440, 2);
    expect(a?.buffer.byteLength).toBe(960);
    expect(b?.buffer).not.toBe(a?.buffer);
  });

  it('continues the phase from one frame to the next', () => {
    const joined = Int16Array.from(toneFrames(1000, 2).flatMap((f) => [...f]));
    // A 1 kHz sine at 48 kHz has 48 samples per period: no jump at the frame boundary.
    const jump = Math.abs((joined[480] ?? 0) - (joined[479] ?? 0));
    const typicalStep = Math.abs((joined[1] ?? 0) - (joined[0] ?? 0));
    expect(jump).toBeLessThanOrEqual(typicalStep + 1);
  });

  it('with frequency 0 gives silence', () => {
    const { samples } = sineFrame(0, RATE, 480, 0.3, 0);
    expect(samples.every((v) => v === 0)).toBe(true);
  });
});

describe('frequency estimate by zero crossings', () => {
  it.each([300, 440, 880, 1200, 2000])('tells a %i Hz tone within 1 %% over 200 ms', (hz) => {
    const frames = toneFrames(hz, 20).map((f) => frameStats(f, RATE));
    const estimate = combineStats(frames);
    expect(estimate.frequency).not.toBeNull();
    expect(Math.abs((estimate.frequency ?? 0) - hz)).toBeLessThan(hz * 0.01 + 5);
    expect(estimate.durationMs).toBeCloseTo(200);
  });

  it('tells 440 Hz from 880 Hz on a single buffer', () => {
    const a = Int16Array.from(toneFrames(440, 10).flatMap((f) => [...f]));
    const b = Int16Array.from(toneFrames(880, 10).flatMap((f) => [...f]));
    // 100 ms: one crossing more or less is 5 Hz.
    expect(Math.abs((estimateFrequency(a, RATE) ?? 0) - 440)).toBeLessThanOrEqual(5);
    expect(Math.abs((estimateFrequency(b, RATE) ?? 0) - 880)).toBeLessThanOrEqual(5);
  });

  it('ignores low noise around zero (hysteresis)', () => {
    const noisy = new Int16Array(4800).map((_, i) => (i % 2 === 0 ? 50 : -50));
    expect(estimateFrequency(noisy, RATE)).toBeNull();
    const stats = frameStats(noisy, RATE);
    expect(stats.crossings).toBe(0);
  });

  it('reads the first channel of interleaved stereo', () => {
    const mono = toneFrames(500, 10).flatMap((f) => [...f]);
    const stereo = new Int16Array(mono.length * 2);
    mono.forEach((v, i) => {
      stereo[2 * i] = v;
      stereo[2 * i + 1] = 0;
    });
    expect(Math.abs((estimateFrequency(stereo, RATE, 2) ?? 0) - 500)).toBeLessThanOrEqual(5);
  });
});

describe('rmsLevel()', () => {
  it('is amplitude / sqrt(2) for a sine and 0 for silence', () => {
    const tone = Int16Array.from(toneFrames(440, 10, 0.5).flatMap((f) => [...f]));
    expect(rmsLevel(tone)).toBeCloseTo(0.5 / Math.SQRT2, 2);
    expect(rmsLevel(new Int16Array(480))).toBe(0);
  });

  it('of an empty window is 0 with no frequency', () => {
    expect(combineStats([])).toEqual({ level: 0, frequency: null, durationMs: 0 });
  });
});
