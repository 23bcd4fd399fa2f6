import { jest } from '@jest/globals';
import { AudioElementTone, TONE_SAMPLE_RATE, toneUrl, toneWav, type ToneElement } from './tones.js';

/** An `<audio>` element without a browser: play() resolves or rejects as told. */
class FakeAudio implements ToneElement {
  src = '';
  loop = false;
  paused = true;
  currentTime = 0;
  plays = 0;
  /** What the next play() does: resolve, or reject with an error of this name. */
  outcome: 'ok' | 'NotAllowedError' | 'NotSupportedError' | 'AbortError' = 'ok';

  constructor(private readonly attribute: string | null = null) {}

  getAttribute(name: string): string | null {
    if (name !== 'src') return null;
    return this.src !== '' ? this.src : this.attribute;
  }

  querySelector(): null {
    return null;
  }

  play(): Promise<void> {
    this.plays++;
    this.paused = false;
    const outcome = this.outcome;
    this.outcome = 'ok';
    if (outcome === 'ok') return Promise.resolve();
    this.paused = true;
    return Promise.reject(Object.assign(new Error(outcome), { name: outcome }));
  }

  pause(): void {
    this.paused = true;
  }
}

/** Lets the play() promises settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('tones', () => {
  it('toneWav makes a valid 8 kHz 8-bit mono WAV of one cadence: ringback 1 s on, 4 s off', () => {
    const wav = toneWav('ringback');
    const view = new DataView(wav.buffer);
    const text = (offset: number) => String.fromCharCode(...wav.slice(offset, offset + 4));
    expect([text(0), text(8), text(12), text(36)]).toEqual(['RIFF', 'WAVE', 'fmt ', 'data']);
    expect(view.getUint16(20, true)).toBe(1); // PCM
    expect(view.getUint16(22, true)).toBe(1); // mono
    expect(view.getUint32(24, true)).toBe(TONE_SAMPLE_RATE);
    expect(view.getUint16(34, true)).toBe(8);
    expect(view.getUint32(40, true)).toBe(5 * TONE_SAMPLE_RATE);
    expect(wav.length).toBe(44 + 5 * TONE_SAMPLE_RATE);

    // the first second carries 425 Hz (count the rising zero crossings), the rest is silence
    const samples = wav.slice(44);
    let crossings = 0;
    for (let i = 1; i < TONE_SAMPLE_RATE; i++) {
      if ((samples[i - 1] ?? 128) < 128 && (samples[i] ?? 128) >= 128) crossings++;
    }
    expect(crossings).toBeGreaterThanOrEqual(423);
    expect(crossings).toBeLessThanOrEqual(427);
    expect(samples.slice(TONE_SAMPLE_RATE + 100).every((s) => s === 128)).toBe(true);
  });

  it('the ring is a double burst of 440 + 480 Hz in a 3 s cadence', () => {
    const samples = toneWav('ring').slice(44);
    expect(samples.length).toBe(3 * TONE_SAMPLE_RATE);
    const loud = (from: number, to: number) => samples.slice(from, to).some((s) => Math.abs(s - 128) > 20);
    const ms = (n: number) => (n * TONE_SAMPLE_RATE) / 1000;
    expect(loud(ms(50), ms(350))).toBe(true);
    expect(loud(ms(410), ms(590))).toBe(false);
    expect(loud(ms(650), ms(950))).toBe(true);
    expect(loud(ms(1010), ms(3000))).toBe(false);
  });

  it('toneUrl makes one blob: URL per tone', () => {
    const url = toneUrl('ring');
    expect(url.startsWith('blob:')).toBe(true);
    expect(toneUrl('ring')).toBe(url);
    expect(toneUrl('ringback')).not.toBe(url);
  });

  describe('AudioElementTone', () => {
    const spyWarn = () => jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    let warn: ReturnType<typeof spyWarn>;
    beforeEach(() => {
      warn = spyWarn();
    });
    afterEach(() => warn.mockRestore());

    const url = (kind: string) => `generated:${kind}`;

    it('plays the page’s element with its own source in a loop, then pauses and rewinds it', () => {
      const element = new FakeAudio('sounds/ringtone.wav');
      const tone = new AudioElementTone({ kind: 'ring', find: () => element, url });
      tone.play();
      expect(element.src).toBe('');
      expect(element.loop).toBe(true);
      expect(element.paused).toBe(false);
      expect(tone.playing).toBe(true);
      tone.play(); // already playing: nothing more
      expect(element.plays).toBe(1);
      element.currentTime = 2;
      tone.stop();
      expect(element.paused).toBe(true);
      expect(element.currentTime).toBe(0);
      expect(tone.playing).toBe(false);
    });

    it('gives a page element without a source the generated tone', () => {
      const element = new FakeAudio();
      new AudioElementTone({ kind: 'ringback', find: () => element, url }).play();
      expect(element.src).toBe('generated:ringback');
    });

    it('without a page element, plays an element of its own', () => {
      const own = new FakeAudio();
      const create = jest.fn(() => own);
      const tone = new AudioElementTone({ kind: 'ring', find: () => null, create, url });
      tone.play();
      tone.stop();
      tone.play();
      expect(create).toHaveBeenCalledTimes(1);
      expect(own.src).toBe('generated:ring');
      expect(own.paused).toBe(false);
    });

    it('a source that cannot be played falls back to the generated tone', async () => {
      const element = new FakeAudio('sounds/missing.wav');
      element.outcome = 'NotSupportedError';
      const tone = new AudioElementTone({ kind: 'ring', find: () => element, url });
      tone.play();
      await settle();
      expect(element.src).toBe('generated:ring');
      expect(element.plays).toBe(2);
      expect(element.paused).toBe(false);
    });

    it('an autoplay refusal is reported once; an interrupted play() is not reported', async () => {
      const element = new FakeAudio();
      const tone = new AudioElementTone({ kind: 'ring', find: () => element, url });
      for (let i = 0; i < 2; i++) {
        element.outcome = 'NotAllowedError';
        tone.play();
        await settle();
      }
      expect(warn).toHaveBeenCalledTimes(1);
      element.outcome = 'AbortError';
      tone.stop();
      tone.play();
      await settle();
      expect(warn).toHaveBeenCalledTimes(1);
    });

    it('stop() also stops the page’s element when the page started it itself', () => {
      const element = new FakeAudio('sounds/ringtone.wav');
      const tone = new AudioElementTone({ kind: 'ring', find: () => element, url });
      void element.play();
      tone.stop();
      expect(element.paused).toBe(true);
    });
  });
});
