/**
 * The call-progress tones the SDK ships: generated in code at first use (a few tens of KB of
 * 8 kHz PCM WAV, made into a `blob:` URL), never downloaded from anywhere.
 *
 * - `ringback`: what a caller hears while the other side rings, 425 Hz, 1 s on / 4 s off
 *   (ITU-T E.180, as in Vietnam and most of Europe and Asia).
 * - `ring`: the local ringer for an incoming call, the 440 + 480 Hz pair in a double ring
 *   (0.4 s on, 0.2 s off, 0.4 s on, 2 s off).
 */
export type ToneKind = 'ring' | 'ringback';

/** One part of a cadence: `freqs` mixed for `ms` milliseconds (none: silence). */
interface Segment {
  ms: number;
  freqs: readonly number[];
}

export const TONE_CADENCES: Readonly<Record<ToneKind, readonly Segment[]>> = {
  ringback: [
    { ms: 1000, freqs: [425] },
    { ms: 4000, freqs: [] },
  ],
  ring: [
    { ms: 400, freqs: [440, 480] },
    { ms: 200, freqs: [] },
    { ms: 400, freqs: [440, 480] },
    { ms: 2000, freqs: [] },
  ],
};

/** Sample rate of the generated WAVs (8-bit unsigned mono PCM: telephone quality is enough). */
export const TONE_SAMPLE_RATE = 8000;
const AMPLITUDE = 0.45;
/** Each burst fades in and out over this long, so it starts and stops without a click. */
const FADE_MS = 10;

/** One cadence of `kind` as a complete WAV file (it is played in a loop). */
export function toneWav(kind: ToneKind): Uint8Array {
  const segments = TONE_CADENCES[kind];
  const counts = segments.map((segment) => Math.round((segment.ms * TONE_SAMPLE_RATE) / 1000));
  const total = counts.reduce((sum, n) => sum + n, 0);
  const bytes = new Uint8Array(44 + total);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + total, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true); // size of the fmt chunk
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, TONE_SAMPLE_RATE, true);
  view.setUint32(28, TONE_SAMPLE_RATE, true); // bytes per second
  view.setUint16(32, 1, true); // bytes per frame
  view.setUint16(34, 8, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, total, true);

  const fade = (FADE_MS * TONE_SAMPLE_RATE) / 1000;
  let offset = 44;
  segments.forEach((segment, index) => {
    const count = counts[index] ?? 0;
    for (let i = 0; i < count; i++) {
      let sample = 0;
      for (const freq of segment.freqs) sample += Math.sin((2 * Math.PI * freq * i) / TONE_SAMPLE_RATE);
      if (segment.freqs.length > 0) {
        const envelope = Math.min(1, i / fade, (count - 1 - i) / fade);
        sample = (sample / segment.freqs.length) * AMPLITUDE * envelope;
      }
      bytes[offset++] = Math.round(128 + 127 * sample);
    }
  });
  return bytes;
}

const urls: Partial<Record<ToneKind, string>> = {};

/** A `blob:` URL of the tone's WAV, made once per page. */
export function toneUrl(kind: ToneKind): string {
  let url = urls[kind];
  if (url === undefined) {
    const wav = toneWav(kind);
    url = URL.createObjectURL(new Blob([wav.buffer as ArrayBuffer], { type: 'audio/wav' }));
    urls[kind] = url;
  }
  return url;
}

/** Something that plays a tone in a loop until stopped. */
export interface TonePlayer {
  /** Starts the tone (nothing happens when it is already playing). */
  play(): void;
  /** Stops the tone and rewinds it (nothing happens when it is not playing). */
  stop(): void;
  /** Whether `play()` was called since the last `stop()`. */
  readonly playing: boolean;
}

/** The part of an `<audio>` element a tone uses. */
export type ToneElement = Pick<
  HTMLMediaElement,
  'src' | 'loop' | 'paused' | 'currentTime' | 'play' | 'pause' | 'getAttribute' | 'querySelector'
>;

export interface AudioElementToneOptions {
  kind: ToneKind;
  /** The page's element for this tone (`#ringtone`, `#ringbacktone`), looked up at each `play()`. */
  find: () => ToneElement | null | undefined;
  /** Makes the SDK's own element when the page has none; `new Audio()` by default. */
  create?: () => ToneElement;
  /** The generated tone's URL; `toneUrl` by default. */
  url?: (kind: ToneKind) => string;
}

const LOG = '[callgate]';

/**
 * A tone played by an `<audio>` element: the page's own (`<audio id="ringtone">`) when it has
 * one, else one the SDK makes (not attached to the document). An element without a source gets
 * the generated tone; so does one whose source fails to load (the JS-PHONE markup points at
 * `sounds/ringtone.wav`, which a page may not serve). The element loops until `stop()`.
 *
 * A browser may refuse to play before the user interacted with the page (autoplay policy): that
 * is reported once with `console.warn`, never thrown.
 */
export class AudioElementTone implements TonePlayer {
  private current: ToneElement | undefined;
  private own: ToneElement | undefined;
  private blockedReported = false;
  private readonly url: (kind: ToneKind) => string;

  constructor(private readonly options: AudioElementToneOptions) {
    this.url = options.url ?? toneUrl;
  }

  get playing(): boolean {
    return this.current !== undefined;
  }

  /** The element the tone plays on (or played on last), if any. */
  get element(): ToneElement | undefined {
    return this.current ?? this.options.find() ?? this.own;
  }

  play(): void {
    const found = this.options.find();
    const element = found ?? (this.own ??= (this.options.create ?? (() => new Audio()))());
    if (this.current === element && !element.paused) return;
    if (this.current !== undefined && this.current !== element) this.pause(this.current);
    this.current = element;
    if (!hasSource(element)) element.src = this.url(this.options.kind);
    element.loop = true;
    this.start(element, true);
  }

  stop(): void {
    const element = this.current;
    this.current = undefined;
    if (element) this.pause(element);
    const found = this.options.find();
    // the page may have started its own element directly: stopRingTone() stops it as well
    if (found && found !== element && !found.paused) this.pause(found);
  }

  private start(element: ToneElement, mayFallBack: boolean): void {
    let started: Promise<void> | undefined;
    try {
      started = element.play();
    } catch (error) {
      this.failed(element, error, mayFallBack);
      return;
    }
    // play() returns undefined on old browsers
    if (started !== undefined && typeof started.catch === 'function') {
      started.catch((error: unknown) => this.failed(element, error, mayFallBack));
    }
  }

  private failed(element: ToneElement, error: unknown, mayFallBack: boolean): void {
    if (this.current !== element) return; // stopped (or replaced) meanwhile: nothing to report
    const name = isNamed(error) ? error.name : '';
    if (name === 'AbortError') return; // a pause() or a new source interrupted play(): expected
    const generated = this.url(this.options.kind);
    if (name === 'NotSupportedError' && mayFallBack && element.src !== generated) {
      console.warn(LOG, `the ${this.options.kind} tone's source cannot be played; using the built-in tone`);
      element.src = generated;
      this.start(element, false);
      return;
    }
    if (name === 'NotAllowedError') {
      if (!this.blockedReported) {
        this.blockedReported = true;
        console.warn(
          LOG,
          `the browser blocked the ${this.options.kind} tone until the user interacts with the page`,
        );
      }
      return;
    }
    console.warn(LOG, `the ${this.options.kind} tone could not be played`, error);
  }

  private pause(element: ToneElement): void {
    try {
      element.pause();
      element.currentTime = 0;
    } catch (error) {
      console.warn(LOG, `the ${this.options.kind} tone could not be stopped`, error);
    }
  }
}

function hasSource(element: ToneElement): boolean {
  const src = element.getAttribute('src');
  return (src !== null && src.trim() !== '') || element.querySelector('source[src]') !== null;
}

/** An Error or a DOMException (not an Error subclass in every browser). */
function isNamed(value: unknown): value is { name: string } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string'
  );
}
