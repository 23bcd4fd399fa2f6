/**
 * Restricting the audio codecs of a call by rewriting its SDP (pure functions, no JsSIP or wrtc).
 * {@link SipUserAgent} applies {@link restrictAudioCodecs} to the offers and answers of its calls
 * when its `codecs` option is set.
 */

/** The audio codecs a user agent can be restricted to, spelled as in SDP `a=rtpmap` lines. */
export const AUDIO_CODECS = ['opus', 'PCMU', 'PCMA', 'G722'] as const;
export type AudioCodec = (typeof AUDIO_CODECS)[number];

/** The canonical spelling of a codec name (case-insensitive), or undefined for an unknown one. */
export function audioCodecName(name: string): AudioCodec | undefined {
  const lower = name.trim().toLowerCase();
  return AUDIO_CODECS.find((codec) => codec.toLowerCase() === lower);
}

/** Static RTP payload types (RFC 3551) an SDP may use without an `a=rtpmap` line. */
const STATIC_PAYLOADS: Record<string, { name: string; clockRate: number }> = {
  '0': { name: 'PCMU', clockRate: 8000 },
  '8': { name: 'PCMA', clockRate: 8000 },
  '9': { name: 'G722', clockRate: 8000 },
  '13': { name: 'CN', clockRate: 8000 },
};

interface PayloadFormat {
  payload: string;
  name: string;
  clockRate: number | undefined;
}

/**
 * Keeps, in every `m=audio` section of `sdp`, only the payload formats of `codecs` (compared
 * case-insensitively), in the order of `codecs`: the first is the preferred one. Also kept:
 * `telephone-event` at the clock rate of a kept codec (RFC 4733 needs a matching rate). Every
 * other format (red, CN, ISAC, ILBC, ...) is removed with its `a=rtpmap`, `a=fmtp` and
 * `a=rtcp-fb` lines. Other sections and lines are left as they are, line endings included.
 *
 * A section that offers none of `codecs` is left without a format: a peer connection refuses such
 * a description, so an incoming offer of other codecs only is answered 488 by JsSIP.
 */
export function restrictAudioCodecs(sdp: string, codecs: readonly string[]): string {
  const wanted = [...new Set(codecs.map((c) => c.toLowerCase()))];
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol);
  const out: string[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] ?? '';
    if (!line.startsWith('m=')) {
      out.push(line);
      index++;
      continue;
    }
    let end = index + 1;
    while (end < lines.length && !(lines[end] ?? '').startsWith('m=')) end++;
    const section = lines.slice(index, end);
    out.push(...(line.startsWith('m=audio ') ? restrictSection(section, wanted) : section));
    index = end;
  }
  return out.join(eol);
}

/** The codec names of the first `m=audio` section, in the section's order (e.g. ['PCMU', 'telephone-event']). */
export function sdpAudioCodecs(sdp: string): string[] {
  const lines = sdp.split(/\r?\n/);
  const start = lines.findIndex((l) => l.startsWith('m=audio '));
  if (start < 0) return [];
  let end = start + 1;
  while (end < lines.length && !(lines[end] ?? '').startsWith('m=')) end++;
  const section = lines.slice(start, end);
  return payloadFormats(section).map((f) => f.name);
}

function restrictSection(section: readonly string[], wanted: readonly string[]): string[] {
  const [mLine = '', ...rest] = section;
  const formats = payloadFormats(section);
  const kept: PayloadFormat[] = [];
  for (const codec of wanted) kept.push(...formats.filter((f) => f.name.toLowerCase() === codec));
  const rates = new Set(kept.map((f) => f.clockRate));
  kept.push(...formats.filter((f) => f.name.toLowerCase() === 'telephone-event' && rates.has(f.clockRate)));
  const keep = new Set(kept.map((f) => f.payload));
  const [media = 'm=audio', port = '9', proto = 'UDP/TLS/RTP/SAVPF'] = mLine.split(' ');
  const attributeOf = /^a=(?:rtpmap|fmtp|rtcp-fb):(\S+)/;
  return [
    [media, port, proto, ...kept.map((f) => f.payload)].join(' '),
    ...rest.filter((l) => {
      const payload = attributeOf.exec(l)?.[1];
      return payload === undefined || payload === '*' || keep.has(payload);
    }),
  ];
}

/** The payload formats listed on a section's m= line, named by `a=rtpmap` or the static table. */
function payloadFormats(section: readonly string[]): PayloadFormat[] {
  const payloads = (section[0] ?? '').split(' ').slice(3).filter(Boolean);
  const rtpmap = new Map<string, { name: string; clockRate: number | undefined }>();
  for (const line of section) {
    const match = /^a=rtpmap:(\S+) ([^/\s]+)(?:\/(\d+))?/.exec(line);
    if (match?.[1] && match[2]) {
      rtpmap.set(match[1], { name: match[2], clockRate: match[3] ? Number(match[3]) : undefined });
    }
  }
  return payloads.map((payload) => {
    const known = rtpmap.get(payload) ?? STATIC_PAYLOADS[payload];
    return { payload, name: known?.name ?? payload, clockRate: known?.clockRate };
  });
}
