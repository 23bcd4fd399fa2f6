/**
 * Pure SDP helpers for direct media (third-party call control, RFC 3725): what an SDP's audio
 * section offers (profile, codecs, address, direction), rewriting its direction and origin, and
 * the decision whether two legs can exchange RTP directly or need a bridge. No I/O, no JsSIP.
 */

import { TRANSFER_PLACEHOLDER_NAME } from './transfer-placeholder.js';

/** The media profile of an audio section: WebRTC (ICE + DTLS-SRTP) or plain RTP (RTP/AVP). */
export type MediaProfile = 'webrtc' | 'rtp' | 'srtp-sdes' | 'unknown';

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** What the first audio section of an SDP says. */
export interface AudioDescription {
  /** The m= line's transport, e.g. `RTP/AVP` or `UDP/TLS/RTP/SAVPF`. */
  proto: string;
  profile: MediaProfile;
  /** Codec names (upper case, e.g. `PCMU`, `OPUS`), telephone-event and comfort noise left out. */
  codecs: string[];
  /** The connection address (media level, else session level) and the m= port. */
  address: string;
  port: number;
  direction: MediaDirection;
  /** ICE credentials and DTLS fingerprint, when the section has them. */
  iceUfrag?: string;
  fingerprint?: string;
}

const STATIC_NAMES: Record<string, string> = { '0': 'PCMU', '8': 'PCMA', '9': 'G722', '18': 'G729' };
const NOT_CODECS = new Set(['TELEPHONE-EVENT', 'CN', 'RED', 'ULPFEC', 'RTX']);

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.length > 0);
}

function eol(sdp: string): string {
  return sdp.includes('\r\n') ? '\r\n' : '\n';
}

/** Splits an SDP into its session part and its media sections (each starting with its m= line). */
function sections(sdp: string): { session: string[]; media: string[][] } {
  const session: string[] = [];
  const media: string[][] = [];
  for (const line of lines(sdp)) {
    if (line.startsWith('m=')) media.push([line]);
    else if (media.length > 0) media[media.length - 1]?.push(line);
    else session.push(line);
  }
  return { session, media };
}

function join(parts: { session: string[]; media: string[][] }, newline: string): string {
  return [...parts.session, ...parts.media.flat()].join(newline) + newline;
}

function isDirection(value: string): value is MediaDirection {
  return value === 'sendrecv' || value === 'sendonly' || value === 'recvonly' || value === 'inactive';
}

function profileOf(proto: string, section: string[]): MediaProfile {
  const upper = proto.toUpperCase();
  if (upper.includes('TLS') || upper.includes('DTLS')) return 'webrtc';
  if (upper === 'RTP/AVP' || upper === 'RTP/AVPF') return 'rtp';
  if (upper === 'RTP/SAVP' || upper === 'RTP/SAVPF') {
    return section.some((l) => l.startsWith('a=fingerprint:')) ? 'webrtc' : 'srtp-sdes';
  }
  return 'unknown';
}

/**
 * Describes the first audio section of `sdp`; undefined when it has none (or the m= line is
 * malformed).
 */
export function describeAudio(sdp: string): AudioDescription | undefined {
  const { session, media } = sections(sdp);
  const audio = media.find((section) => section[0]?.startsWith('m=audio '));
  if (!audio) return undefined;
  const [mLine = '', ...rest] = audio;
  const parts = mLine.slice(2).split(' ');
  const port = Number(parts[1]);
  const proto = parts[2];
  if (!Number.isInteger(port) || proto === undefined) return undefined;
  const payloads = parts.slice(3);
  const rtpmap = new Map<string, string>();
  for (const line of rest) {
    const match = /^a=rtpmap:(\d+) ([^/\s]+)/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) rtpmap.set(match[1], match[2].toUpperCase());
  }
  const codecs: string[] = [];
  for (const payload of payloads) {
    const name = rtpmap.get(payload) ?? STATIC_NAMES[payload];
    if (name !== undefined && !NOT_CODECS.has(name) && !codecs.includes(name)) codecs.push(name);
  }
  const connection = (list: string[]): string | undefined =>
    list.find((l) => l.startsWith('c='))?.split(' ')[2];
  const attribute = (name: string): string | undefined => {
    const prefix = `a=${name}:`;
    const line = rest.find((l) => l.startsWith(prefix)) ?? session.find((l) => l.startsWith(prefix));
    return line?.slice(prefix.length).trim();
  };
  const directionLine = [...rest, ...session].find((l) => isDirection(l.slice(2)) && l.startsWith('a='));
  const direction = directionLine ? directionLine.slice(2) : 'sendrecv';
  const description: AudioDescription = {
    proto,
    profile: profileOf(proto, [...rest, ...session]),
    codecs,
    address: connection(rest) ?? connection(session) ?? '',
    port,
    direction: isDirection(direction) ? direction : 'sendrecv',
  };
  const ufrag = attribute('ice-ufrag');
  if (ufrag !== undefined) description.iceUfrag = ufrag;
  const fingerprint = attribute('fingerprint');
  if (fingerprint !== undefined) description.fingerprint = fingerprint;
  return description;
}

/** The direction seen from the other end: sendonly ⇄ recvonly. */
export function reverseDirection(direction: MediaDirection): MediaDirection {
  if (direction === 'sendonly') return 'recvonly';
  if (direction === 'recvonly') return 'sendonly';
  return direction;
}

/**
 * Sets the direction attribute of every audio section (and removes a session-level one), e.g.
 * `inactive` for a hold. Other lines are kept as they are.
 */
export function withAudioDirection(sdp: string, direction: MediaDirection): string {
  const parts = sections(sdp);
  parts.session = parts.session.filter((l) => !(l.startsWith('a=') && isDirection(l.slice(2))));
  parts.media = parts.media.map((section) => {
    if (!section[0]?.startsWith('m=audio ')) return section;
    const kept = section.filter((l) => !(l.startsWith('a=') && isDirection(l.slice(2))));
    return [...kept, `a=${direction}`];
  });
  return join(parts, eol(sdp));
}

/**
 * Replaces the o= line with our own origin (RFC 3725 §4: the controller keeps one origin per
 * leg and increments its version when the description changes, RFC 3264 §8).
 */
export function withOrigin(sdp: string, origin: { sessionId: string; version: number }): string {
  const parts = sections(sdp);
  const description = describeAudio(sdp);
  const address =
    description?.address && description.address !== '0.0.0.0' ? description.address : '127.0.0.1';
  const family = address.includes(':') ? 'IP6' : 'IP4';
  const line = `o=callgate ${origin.sessionId} ${origin.version} IN ${family} ${address}`;
  const index = parts.session.findIndex((l) => l.startsWith('o='));
  if (index === -1) parts.session.splice(1, 0, line);
  else parts.session[index] = line;
  return join(parts, eol(sdp));
}

/** The SDP without its o= line: two descriptions with the same body describe the same session. */
export function sdpBody(sdp: string): string {
  return lines(sdp)
    .filter((l) => !l.startsWith('o='))
    .join('\n');
}

/** True when the two SDPs point the peer at different media: address, port, ICE or DTLS identity. */
export function mediaTargetChanged(before: string | undefined, after: string): boolean {
  if (before === undefined) return true;
  const a = describeAudio(before);
  const b = describeAudio(after);
  if (!a || !b) return true;
  return (
    a.address !== b.address ||
    a.port !== b.port ||
    a.iceUfrag !== b.iceUfrag ||
    a.fingerprint !== b.fingerprint ||
    a.codecs.join(',') !== b.codecs.join(',')
  );
}

/**
 * A hold placeholder for a leg called before its peer is known (RFC 3725 §5's "black hole"):
 * plain RTP, PCMU/PCMA/telephone-event, connection address 0.0.0.0, inactive.
 */
export function blackHoleOffer(): string {
  return [
    'v=0',
    'o=callgate 0 0 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'm=audio 9 RTP/AVP 0 8 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=inactive',
    '',
  ].join('\r\n');
}

/**
 * The first offer of a transfer's target leg when the customer is an ICE end: plain RTP, no ICE
 * credentials, `sendrecv` towards the discard port of the loopback address. A media relay that
 * anchors WebSocket legs (rtpengine forcing ICE towards them) then learns the customer's ICE
 * credentials as the first of that session once the legs are joined, where a change of them in
 * an answer would be an ICE restart it refuses. Not {@link blackHoleOffer}: a relay takes
 * `0.0.0.0` for hold and passes the hold on to the target.
 */
export function transferPlaceholderOffer(): string {
  return withAudioDirection(
    blackHoleOffer()
      .replace('s=-', `s=${TRANSFER_PLACEHOLDER_NAME}`)
      .replace('c=IN IP4 0.0.0.0', 'c=IN IP4 127.0.0.1'),
    'sendrecv',
  );
}

/** `count` random bytes as lower-case hex (Web Crypto: a global in Node and browsers). */
function randomHex(count: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(count));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A placeholder for a WebRTC device called before its peer is known: what a WebRTC end accepts
 * (UDP/TLS/RTP/SAVPF, fresh random ICE credentials, a well-formed SHA-256 fingerprint,
 * `setup:actpass`, one bundled audio m-line with rtcp-mux), but nothing to connect to (0.0.0.0,
 * port 9, no candidates), so the device answers with its own ICE credentials and fingerprint and
 * sends nothing anywhere. `recvonly`, not `inactive`: a WebRTC end attaches its microphone track
 * only to an m-line it may send on (JSEP), and a later re-INVITE only changes the direction.
 */
export function webRtcPlaceholderOffer(): string {
  const fingerprint = (randomHex(32).toUpperCase().match(/../g) ?? []).join(':');
  return [
    'v=0',
    'o=callgate 0 0 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 101',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${randomHex(4)}`,
    `a=ice-pwd:${randomHex(12)}`,
    `a=fingerprint:sha-256 ${fingerprint}`,
    'a=setup:actpass',
    'a=mid:0',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=recvonly',
    '',
  ].join('\r\n');
}

export type MediaPath = 'direct' | 'bridge';

export interface MediaPathDecision {
  path: MediaPath;
  /** Codecs both sides have (upper case), in the first SDP's order. */
  commonCodecs: string[];
  /** Why, in a sentence for a log line and for `call.accepted`. */
  reason: string;
}

/**
 * Whether two legs can exchange RTP directly: they need the same media profile (WebRTC's ICE +
 * DTLS-SRTP does not talk to plain RTP without a relay that converts) and at least one common
 * codec. `relayConverts`: the PBX's media relay converts profiles (rtpengine), so only a codec
 * must be common. Otherwise the answer is `bridge`, with the reason.
 */
export function decideMediaPath(
  a: string,
  b: string,
  options: { relayConverts?: boolean } = {},
): MediaPathDecision {
  const left = describeAudio(a);
  const right = describeAudio(b);
  if (!left || !right) {
    return {
      path: 'bridge',
      commonCodecs: [],
      reason: `no audio section in the ${left ? 'second' : 'first'} SDP`,
    };
  }
  const commonCodecs = left.codecs.filter((codec) => right.codecs.includes(codec));
  if (commonCodecs.length === 0) {
    return {
      path: 'bridge',
      commonCodecs,
      reason: `no common codec (${left.codecs.join(',') || 'none'} vs ${right.codecs.join(',') || 'none'})`,
    };
  }
  if (left.profile !== right.profile && !options.relayConverts) {
    return {
      path: 'bridge',
      commonCodecs,
      reason: `media profiles differ (${left.profile} ${left.proto} vs ${right.profile} ${right.proto}) and no relay converts them`,
    };
  }
  if (left.profile === 'unknown' || right.profile === 'unknown') {
    return {
      path: 'bridge',
      commonCodecs,
      reason: `unknown media transport (${left.proto} vs ${right.proto})`,
    };
  }
  const via = left.profile === right.profile ? `both ${left.profile}` : 'the relay converts the profiles';
  return { path: 'direct', commonCodecs, reason: `${via}, common codecs ${commonCodecs.join(',')}` };
}

/** Whether `sdp`'s audio carries ICE credentials (an ICE end: WebRTC, or a relay forcing ICE). */
export function hasIce(sdp: string | undefined): boolean {
  return sdp !== undefined && describeAudio(sdp)?.iceUfrag !== undefined;
}

/**
 * Whether two legs' SDPs are both ICE ends (WebRTC): re-INVITEing such legs in turn with each
 * other's SDP never converges (an offer carrying new peer ICE credentials restarts ICE, RFC 8839
 * §4.4.1.1, and the answer then carries new ones too), so they are joined by an offerless
 * re-INVITE instead (RFC 3725 flow I).
 */
export function iceAtBothEnds(a: string | undefined, b: string | undefined): boolean {
  const left = a === undefined ? undefined : describeAudio(a);
  const right = b === undefined ? undefined : describeAudio(b);
  return left?.profile === 'webrtc' && right?.profile === 'webrtc';
}

/**
 * An answer that rejects every media section of `offer` (port 0, RFC 3264 §6): what the ACK of an
 * offerless re-INVITE carries when no real answer could be built (the 2xx's offer must be
 * answered, RFC 3261 §14.1). Each m= line keeps its media type, transport and formats.
 */
export function rejectingAnswer(offer: string): string {
  const { media } = sections(offer);
  const rejected = media.flatMap((section) => {
    const parts = (section[0] ?? '').slice(2).split(' ');
    if (parts.length < 4) return [];
    return [`m=${parts[0]} 0 ${parts.slice(2).join(' ')}`, 'c=IN IP4 0.0.0.0', 'a=inactive'];
  });
  return ['v=0', 'o=callgate 0 0 IN IP4 127.0.0.1', 's=-', 't=0 0', ...rejected, ''].join('\r\n');
}

export type DtlsRole = 'active' | 'passive';

/** The DTLS role an SDP's audio section (else its session part) states (`a=setup:`, RFC 4145). */
export function dtlsSetup(sdp: string): 'actpass' | 'active' | 'passive' | 'holdconn' | undefined {
  const { session, media } = sections(sdp);
  const audio = media.find((section) => section[0]?.startsWith('m=audio ')) ?? [];
  const line = [...audio, ...session].find((l) => l.startsWith('a=setup:'));
  const value = line?.slice('a=setup:'.length).trim();
  return value === 'actpass' || value === 'active' || value === 'passive' || value === 'holdconn'
    ? value
    : undefined;
}

/**
 * `sdp` fit to be sent as an answer: an offerer's `a=setup:actpass` becomes a definite role (an
 * answer says active or passive, RFC 5763 §5). Handing one endpoint's offer to the other as an
 * answer (direct media, after an offerless re-INVITE) keeps the DTLS association they already
 * have: the role opposite to `peerRole`, the one the receiving endpoint took when it last
 * answered; `active` when it never did (the usual answerer's choice, RFC 8842 §5.3).
 */
export function withAnswerSetup(sdp: string, peerRole: DtlsRole | undefined): string {
  if (!/^a=setup:actpass\s*$/m.test(sdp)) return sdp;
  const role: DtlsRole = peerRole === 'active' ? 'passive' : 'active';
  return sdp.replace(/^a=setup:actpass(\s*)$/gm, `a=setup:${role}$1`);
}
