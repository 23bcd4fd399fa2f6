/**
 * Ringback anchored in the gateway for the seconds a callout's customer rings without early
 * media (#14: "otherwise the gateway may anchor media for those seconds only, then hand off"):
 * a plain-RTP device is re-INVITEd towards one UDP socket of this process, which sends it a
 * ringback tone as PCMU RTP until the customer's early media or answer takes over. Plain RTP only
 * (a WebRTC device would need ICE and DTLS-SRTP). The pure parts (G.711 µ-law, the cadence, the
 * RTP header, the SDP) are exported for the spec.
 */
import { createSocket, type Socket } from 'node:dgram';
import { silentLogger, type SipLogger } from './logger.js';

/** ITU-T E.180 ringing tone as most of Europe plays it: 425 Hz, 1 s on, 4 s off. */
export const RINGBACK_TONE = { frequency: 425, onMs: 1_000, offMs: 4_000 } as const;

const SAMPLE_RATE = 8_000;
const PACKET_MS = 20;
const SAMPLES_PER_PACKET = (SAMPLE_RATE * PACKET_MS) / 1_000;
const AMPLITUDE = 8_000;

/** G.711 µ-law of one 16-bit linear sample (bias 0x84, segment, 4 mantissa bits, inverted). */
export function ulawEncode(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(Math.round(sample)), 32_635) + 0x84;
  let exponent = 7;
  while (exponent > 0 && (magnitude & (0x4000 >> (7 - exponent))) === 0) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** The µ-law payload of the 20 ms packet starting at `sample` (silence in the cadence's off part). */
export function ringbackPayload(sample: number, tone = RINGBACK_TONE): Uint8Array {
  const period = ((tone.onMs + tone.offMs) * SAMPLE_RATE) / 1_000;
  const on = (tone.onMs * SAMPLE_RATE) / 1_000;
  const payload = new Uint8Array(SAMPLES_PER_PACKET);
  for (let i = 0; i < SAMPLES_PER_PACKET; i++) {
    const n = sample + i;
    const value =
      n % period < on ? AMPLITUDE * Math.sin((2 * Math.PI * tone.frequency * n) / SAMPLE_RATE) : 0;
    payload[i] = ulawEncode(value);
  }
  return payload;
}

/** An RTP packet (RFC 3550): version 2, no padding/extension/CSRC, payload type 0 (PCMU). */
export function rtpPacket(
  sequence: number,
  timestamp: number,
  ssrc: number,
  payload: Uint8Array,
  marker = false,
): Buffer {
  const packet = Buffer.alloc(12 + payload.length);
  packet[0] = 0x80;
  packet[1] = marker ? 0x80 : 0x00;
  packet.writeUInt16BE(sequence & 0xffff, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(ssrc >>> 0, 8);
  packet.set(payload, 12);
  return packet;
}

/** The offer that points a device at the ringback socket: PCMU, `sendonly` (we only send). */
export function ringbackSdp(address: string, port: number): string {
  const family = address.includes(':') ? 'IP6' : 'IP4';
  return [
    'v=0',
    `o=callgate 0 0 IN ${family} ${address}`,
    's=-',
    `c=IN ${family} ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendonly',
    '',
  ].join('\r\n');
}

/** One ringback stream: a UDP socket that sends the tone to the device once told where. */
export class RingbackPlayer {
  private timer: ReturnType<typeof setInterval> | undefined;
  private destination: { address: string; port: number } | undefined;
  private sequence = Math.floor(Math.random() * 0x10000);
  private readonly ssrc = Math.floor(Math.random() * 0x1_0000_0000);
  private sample = 0;
  private closed: Promise<void> | undefined;
  /** Packets sent so far (for tests). */
  sent = 0;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {}

  /** Binds a UDP socket on `address` (a free port). */
  static async start(address: string, logger: SipLogger = silentLogger): Promise<RingbackPlayer> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // incoming RTP/RTCP from the device is not read; a send error is logged, the ringback goes on
    socket.on('error', (error) => logger.warn('ringback socket error', { error: String(error) }));
    return new RingbackPlayer(socket, address, socket.address().port);
  }

  /** What to offer the device. */
  get sdp(): string {
    return ringbackSdp(this.address, this.port);
  }

  get isStopped(): boolean {
    return this.closed !== undefined;
  }

  /** Starts (or moves) the stream towards the device's RTP address. */
  play(address: string, port: number): void {
    if (this.closed) return;
    this.destination = { address, port };
    this.timer ??= setInterval(() => this.tick(), PACKET_MS);
  }

  /** Stops sending and closes the socket. Idempotent. */
  stop(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      this.socket.close(() => resolve());
    });
    return this.closed;
  }

  private tick(): void {
    const destination = this.destination;
    if (!destination || this.closed) return;
    const packet = rtpPacket(
      this.sequence++,
      this.sample,
      this.ssrc,
      ringbackPayload(this.sample),
      this.sent === 0,
    );
    this.sample += SAMPLES_PER_PACKET;
    this.sent++;
    this.socket.send(packet, destination.port, destination.address);
  }
}
