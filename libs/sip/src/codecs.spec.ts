import { AUDIO_CODECS, audioCodecName, restrictAudioCodecs, sdpAudioCodecs } from './codecs.js';

/** An offer as @roamhq/wrtc 0.10 creates it (JsSIP's default order: Opus first). */
const WRTC_OFFER = [
  'v=0',
  'o=- 2622646883960130528 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS 5016b7e6',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 103 104 9 102 0 8 106 105 13 110 112 113 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:WYvd',
  'a=ice-pwd:k/5LYd+/RRnPeSWh3WkNI2IQ',
  'a=fingerprint:sha-256 27:9D:DE:F0:47:0D:E5:EF',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:103 ISAC/16000',
  'a=rtpmap:104 ISAC/32000',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:102 ILBC/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:106 CN/32000',
  'a=rtpmap:105 CN/16000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:112 telephone-event/32000',
  'a=rtpmap:113 telephone-event/16000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:592172521 cname:wXlhMtWU1e/lZ01S',
  '',
].join('\r\n');

const mLine = (sdp: string): string | undefined => sdp.split('\r\n').find((l) => l.startsWith('m=audio'));
const payloadLines = (sdp: string): string[] =>
  sdp.split('\r\n').filter((l) => /^a=(rtpmap|fmtp|rtcp-fb):/.test(l));

describe('restrictAudioCodecs()', () => {
  it('keeps only PCMU (and telephone-event at 8 kHz) with its lines, and nothing else', () => {
    const sdp = restrictAudioCodecs(WRTC_OFFER, ['PCMU']);
    expect(mLine(sdp)).toBe('m=audio 9 UDP/TLS/RTP/SAVPF 0 126');
    expect(payloadLines(sdp)).toEqual(['a=rtpmap:0 PCMU/8000', 'a=rtpmap:126 telephone-event/8000']);
    expect(sdpAudioCodecs(sdp)).toEqual(['PCMU', 'telephone-event']);
  });

  it('leaves every other line alone, in order, with the CRLF line endings', () => {
    const sdp = restrictAudioCodecs(WRTC_OFFER, ['PCMU']);
    const others = (s: string): string[] =>
      s.split('\r\n').filter((l) => !l.startsWith('m=audio') && !/^a=(rtpmap|fmtp|rtcp-fb):/.test(l));
    expect(others(sdp)).toEqual(others(WRTC_OFFER));
    expect(sdp.endsWith('\r\n')).toBe(true);
    expect(sdp.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('orders the kept codecs as asked: the first is the preferred one', () => {
    const sdp = restrictAudioCodecs(WRTC_OFFER, ['PCMA', 'opus']);
    expect(mLine(sdp)).toBe('m=audio 9 UDP/TLS/RTP/SAVPF 8 111 110 126');
    expect(payloadLines(sdp)).toEqual([
      'a=rtpmap:111 opus/48000/2',
      'a=rtcp-fb:111 transport-cc',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:110 telephone-event/48000',
      'a=rtpmap:126 telephone-event/8000',
    ]);
  });

  it('compares names case-insensitively and ignores repeated names', () => {
    expect(mLine(restrictAudioCodecs(WRTC_OFFER, ['pcmu', 'PCMU', 'OPUS']))).toBe(
      'm=audio 9 UDP/TLS/RTP/SAVPF 0 111 110 126',
    );
  });

  it('knows static payload types without an rtpmap line (RFC 3551)', () => {
    const plain = ['v=0', 'm=audio 4000 RTP/AVP 18 0 8 101', 'a=rtpmap:101 telephone-event/8000', ''].join(
      '\n',
    );
    expect(restrictAudioCodecs(plain, ['PCMA'])).toBe(
      ['v=0', 'm=audio 4000 RTP/AVP 8 101', 'a=rtpmap:101 telephone-event/8000', ''].join('\n'),
    );
    expect(sdpAudioCodecs(plain)).toEqual(['18', 'PCMU', 'PCMA', 'telephone-event']);
  });

  it('touches only audio sections', () => {
    const sdp = [
      'v=0',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
      'a=rtpmap:111 opus/48000/2',
      'a=rtpmap:0 PCMU/8000',
      'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
      'a=rtpmap:96 VP8/90000',
      'a=rtpmap:97 rtx/90000',
      'a=fmtp:97 apt=96',
      '',
    ].join('\r\n');
    expect(restrictAudioCodecs(sdp, ['PCMU'])).toBe(
      [
        'v=0',
        'm=audio 9 UDP/TLS/RTP/SAVPF 0',
        'a=rtpmap:0 PCMU/8000',
        'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
        'a=rtpmap:96 VP8/90000',
        'a=rtpmap:97 rtx/90000',
        'a=fmtp:97 apt=96',
        '',
      ].join('\r\n'),
    );
  });

  it('leaves a section that offers none of the codecs without a format', () => {
    const sdp = ['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', ''].join('\r\n');
    expect(restrictAudioCodecs(sdp, ['PCMU'])).toBe(['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF', ''].join('\r\n'));
  });

  it('is idempotent (JsSIP emits a re-INVITE offer twice)', () => {
    const once = restrictAudioCodecs(WRTC_OFFER, ['PCMU', 'opus']);
    expect(restrictAudioCodecs(once, ['PCMU', 'opus'])).toBe(once);
  });
});

describe('audioCodecName()', () => {
  it('gives the canonical spelling of a known codec, undefined otherwise', () => {
    expect(audioCodecName('pcmu')).toBe('PCMU');
    expect(audioCodecName(' Opus ')).toBe('opus');
    expect(AUDIO_CODECS.map(audioCodecName)).toEqual([...AUDIO_CODECS]);
    expect(audioCodecName('G729')).toBeUndefined();
    expect(audioCodecName('')).toBeUndefined();
  });
});
