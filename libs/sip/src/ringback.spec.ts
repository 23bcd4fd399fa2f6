import { ulawEncode, ringbackPayload, ringbackSdp, rtpPacket, RINGBACK_TONE } from './ringback.js';
import { describeAudio } from './sdp-media.js';
import { estimateFrequency } from './audio-math.js';

/** G.711 µ-law decoding, to check the encoder against. */
function ulawDecode(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

describe('ulawEncode()', () => {
  it('encodes silence, the extremes and the sign as G.711 does', () => {
    expect(ulawEncode(0)).toBe(0xff);
    expect(ulawEncode(32_767)).toBe(0x80);
    expect(ulawEncode(-32_768)).toBe(0x00);
    expect(ulawEncode(1_000) & 0x80).toBe(0x80);
    expect(ulawEncode(-1_000) & 0x80).toBe(0x00);
  });

  it('round-trips within the quantisation step of each segment', () => {
    for (const sample of [-20_000, -3_000, -100, 50, 800, 8_000, 30_000]) {
      const back = ulawDecode(ulawEncode(sample));
      expect(Math.abs(back - sample)).toBeLessThanOrEqual(Math.max(8, Math.abs(sample) / 16));
    }
  });
});

describe('ringbackPayload()', () => {
  it('is 20 ms of a 425 Hz tone in the on part of the cadence and silence in the off part', () => {
    const on = new Int16Array(800);
    for (let packet = 0; packet < 5; packet++) {
      ringbackPayload(packet * 160).forEach((code, i) => (on[packet * 160 + i] = ulawDecode(code)));
    }
    expect(estimateFrequency(on, 8_000)).toBeGreaterThan(RINGBACK_TONE.frequency - 20);
    expect(estimateFrequency(on, 8_000)).toBeLessThan(RINGBACK_TONE.frequency + 20);
    const off = ringbackPayload(8_000 * 2); // 2 s in: the 4 s pause
    expect(off).toHaveLength(160);
    expect([...off].every((code) => code === 0xff)).toBe(true);
    // the cadence repeats every 5 s (the same samples, up to the sign of a rounded zero)
    const again = [...ringbackPayload(8_000 * 5)].map(ulawDecode);
    [...ringbackPayload(0)].map(ulawDecode).forEach((v, i) => expect(Math.abs(v - (again[i] ?? 0))).toBe(0));
  });
});

describe('rtpPacket()', () => {
  it('writes an RTP version 2 header with PCMU, the marker, sequence, timestamp and SSRC', () => {
    const packet = rtpPacket(0x1_0005, 0x1234_5678, 0xdead_beef, new Uint8Array([1, 2, 3]), true);
    expect(packet).toHaveLength(15);
    expect(packet[0]).toBe(0x80);
    expect(packet[1]).toBe(0x80);
    expect(packet.readUInt16BE(2)).toBe(5);
    expect(packet.readUInt32BE(4)).toBe(0x1234_5678);
    expect(packet.readUInt32BE(8)).toBe(0xdead_beef);
    expect([...packet.subarray(12)]).toEqual([1, 2, 3]);
    expect(rtpPacket(1, 0, 0, new Uint8Array())[1]).toBe(0);
  });
});

describe('ringbackSdp()', () => {
  it('offers plain RTP PCMU from the socket, sendonly', () => {
    expect(describeAudio(ringbackSdp('127.0.0.1', 40_002))).toMatchObject({
      profile: 'rtp',
      codecs: ['PCMU'],
      address: '127.0.0.1',
      port: 40_002,
      direction: 'sendonly',
    });
  });
});
