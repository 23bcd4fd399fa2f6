import { readFileSync, writeFileSync } from 'node:fs';
import { estimateFrequency, rmsLevel } from '@callgate/sip';

/** 16-bit PCM samples of a WAV file and their format. */
export interface WavPcm {
  sampleRate: number;
  channels: number;
  /** Interleaved 16-bit samples. */
  samples: Int16Array;
}

/** What a stretch of a recording sounds like: RMS level (0..~0.707) and zero-crossing frequency. */
export interface WavWindow {
  level: number;
  frequency: number | null;
  durationMs: number;
}

/**
 * Reads a 16-bit PCM WAV file, also one still being written: the `data` chunk is read to the end
 * of the file whatever size its header declares (a recorder fixes the sizes only when it closes).
 * Throws for a file that is not 16-bit PCM WAV.
 */
export function readWav(file: string): WavPcm {
  const bytes = readFileSync(file);
  if (
    bytes.length < 12 ||
    bytes.toString('latin1', 0, 4) !== 'RIFF' ||
    bytes.toString('latin1', 8, 12) !== 'WAVE'
  )
    throw new Error(`${file}: not a WAV file`);
  let offset = 12;
  let sampleRate = 0;
  let channels = 0;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('latin1', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      const format = bytes.readUInt16LE(body);
      channels = bytes.readUInt16LE(body + 2);
      sampleRate = bytes.readUInt32LE(body + 4);
      const bits = bytes.readUInt16LE(body + 14);
      if (format !== 1 || bits !== 16)
        throw new Error(`${file}: not 16-bit PCM (format ${format}, ${bits} bits)`);
    } else if (id === 'data') {
      if (sampleRate === 0) throw new Error(`${file}: data before fmt`);
      const end = bytes.length - ((bytes.length - body) % (2 * channels));
      const data = bytes.subarray(body, end);
      const samples = new Int16Array(data.length / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
      return { sampleRate, channels, samples };
    }
    offset = body + size + (size % 2);
  }
  return { sampleRate: sampleRate || 8000, channels: channels || 1, samples: new Int16Array(0) };
}

/** Level and frequency of the last `ms` of a recording (the first channel). */
export function lastWindow(pcm: WavPcm, ms: number): WavWindow {
  const frames = Math.min(
    Math.floor((pcm.sampleRate * ms) / 1000),
    Math.floor(pcm.samples.length / pcm.channels),
  );
  const window = pcm.samples.subarray(pcm.samples.length - frames * pcm.channels);
  return {
    level: frames === 0 ? 0 : rmsLevel(window, pcm.channels),
    frequency: frames === 0 ? null : estimateFrequency(window, pcm.sampleRate, pcm.channels),
    durationMs: (frames * 1000) / pcm.sampleRate,
  };
}

/**
 * Writes a 16-bit mono PCM WAV file of a sine tone (e.g. Chromium's fake microphone,
 * `--use-file-for-fake-audio-capture`, which loops it). `amplitude` is 0..1 of full scale.
 */
export function writeSineWav(
  file: string,
  frequency: number,
  options: { seconds?: number; sampleRate?: number; amplitude?: number } = {},
): void {
  const sampleRate = options.sampleRate ?? 48_000;
  // a whole number of periods per file, so the loop has no click
  const periods = Math.max(1, Math.round((options.seconds ?? 2) * frequency));
  const frames = Math.round((periods * sampleRate) / frequency);
  const amplitude = Math.round(32767 * (options.amplitude ?? 0.3));
  const data = Buffer.alloc(frames * 2);
  for (let i = 0; i < frames; i++)
    data.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate)), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
}
