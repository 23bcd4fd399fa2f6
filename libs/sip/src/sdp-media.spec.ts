import {
  blackHoleOffer,
  transferPlaceholderOffer,
  decideMediaPath,
  describeAudio,
  dtlsSetup,
  iceAtBothEnds,
  mediaTargetChanged,
  rejectingAnswer,
  webRtcPlaceholderOffer,
  withAnswerSetup,
  withAudioDirection,
  withOrigin,
} from './sdp-media.js';
import { isUnrelayedTransferPlaceholder } from './transfer-placeholder.js';

const plainPhone = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=baresip',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0 8 101',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
  '',
].join('\r\n');

const g722Phone = plainPhone.replace('RTP/AVP 0 8 101', 'RTP/AVP 9 101');

const webrtc = [
  'v=0',
  'o=- 2 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'm=audio 50000 UDP/TLS/RTP/SAVPF 111 0 126',
  'c=IN IP4 10.0.0.5',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789abcdef012345',
  'a=fingerprint:sha-256 AA:BB',
  'a=setup:actpass',
  'a=rtpmap:111 opus/48000/2',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:126 telephone-event/8000',
  'a=sendrecv',
  '',
].join('\r\n');

describe('describeAudio()', () => {
  it('reads a plain RTP phone: profile rtp, static payload names, session-level address', () => {
    expect(describeAudio(plainPhone)).toEqual({
      proto: 'RTP/AVP',
      profile: 'rtp',
      codecs: ['PCMU', 'PCMA'],
      address: '127.0.0.1',
      port: 40000,
      direction: 'sendrecv',
    });
  });

  it('reads a WebRTC section: profile webrtc, ICE ufrag and fingerprint, media-level address', () => {
    expect(describeAudio(webrtc)).toMatchObject({
      profile: 'webrtc',
      codecs: ['OPUS', 'PCMU'],
      address: '10.0.0.5',
      iceUfrag: 'abcd',
      fingerprint: 'sha-256 AA:BB',
    });
  });

  it('returns undefined for an SDP without audio', () => {
    expect(describeAudio('v=0\r\ns=-\r\nm=video 9 RTP/AVP 96\r\n')).toBeUndefined();
    expect(describeAudio('')).toBeUndefined();
  });
});

describe('withAudioDirection()', () => {
  it('replaces the direction of the audio section and keeps CRLF', () => {
    const held = withAudioDirection(plainPhone, 'inactive');
    expect(describeAudio(held)?.direction).toBe('inactive');
    expect(held).not.toContain('a=sendrecv');
    expect(held.endsWith('\r\n')).toBe(true);
    expect(held.split('\r\n').filter((l) => l === 'a=inactive')).toHaveLength(1);
  });

  it('removes a session-level direction so that the media-level one counts', () => {
    const sessionLevel = plainPhone
      .replace('t=0 0\r\n', 't=0 0\r\na=sendonly\r\n')
      .replace('a=sendrecv\r\n', '');
    expect(describeAudio(sessionLevel)?.direction).toBe('sendonly');
    expect(describeAudio(withAudioDirection(sessionLevel, 'recvonly'))?.direction).toBe('recvonly');
  });
});

describe('withOrigin()', () => {
  it('puts our origin with the given version and the media address', () => {
    const out = withOrigin(webrtc, { sessionId: '42', version: 3 });
    expect(out).toContain('o=callgate 42 3 IN IP4 10.0.0.5');
    expect(out).not.toContain('o=- 2 2');
  });

  it('uses 127.0.0.1 for a black hole (0.0.0.0)', () => {
    expect(withOrigin(blackHoleOffer(), { sessionId: '1', version: 1 })).toContain(
      'o=callgate 1 1 IN IP4 127.0.0.1',
    );
  });
});

describe('mediaTargetChanged()', () => {
  it('is false when only the direction or the origin differ', () => {
    expect(
      mediaTargetChanged(
        plainPhone,
        withOrigin(withAudioDirection(plainPhone, 'inactive'), { sessionId: '1', version: 9 }),
      ),
    ).toBe(false);
  });

  it('is true for another port, another ICE ufrag, or no previous SDP', () => {
    expect(mediaTargetChanged(plainPhone, plainPhone.replace('40000', '40002'))).toBe(true);
    expect(mediaTargetChanged(webrtc, webrtc.replace('ice-ufrag:abcd', 'ice-ufrag:wxyz'))).toBe(true);
    expect(mediaTargetChanged(undefined, plainPhone)).toBe(true);
  });
});

describe('decideMediaPath()', () => {
  it('goes direct between two plain RTP phones with a common codec', () => {
    expect(decideMediaPath(plainPhone, plainPhone)).toEqual({
      path: 'direct',
      commonCodecs: ['PCMU', 'PCMA'],
      reason: 'both rtp, common codecs PCMU,PCMA',
    });
  });

  it('goes direct between two WebRTC ends', () => {
    expect(decideMediaPath(webrtc, webrtc).path).toBe('direct');
  });

  it('bridges WebRTC and plain RTP when no relay converts, and says why', () => {
    const decision = decideMediaPath(webrtc, plainPhone);
    expect(decision.path).toBe('bridge');
    expect(decision.commonCodecs).toEqual(['PCMU']);
    expect(decision.reason).toBe(
      'media profiles differ (webrtc UDP/TLS/RTP/SAVPF vs rtp RTP/AVP) and no relay converts them',
    );
  });

  it('goes direct between WebRTC and plain RTP when the relay converts', () => {
    expect(decideMediaPath(webrtc, plainPhone, { relayConverts: true })).toMatchObject({
      path: 'direct',
      reason: 'the relay converts the profiles, common codecs PCMU',
    });
  });

  it('bridges when no codec is common, even with a converting relay', () => {
    expect(decideMediaPath(g722Phone, plainPhone, { relayConverts: true })).toEqual({
      path: 'bridge',
      commonCodecs: [],
      reason: 'no common codec (G722 vs PCMU,PCMA)',
    });
  });

  it('bridges when an SDP has no audio section', () => {
    expect(decideMediaPath(plainPhone, 'v=0\r\n').reason).toBe('no audio section in the second SDP');
  });
});

describe('webRtcPlaceholderOffer()', () => {
  it('is a WebRTC offer with ICE credentials and a SHA-256 fingerprint, pointing nowhere, recvonly', () => {
    const offer = webRtcPlaceholderOffer();
    const audio = describeAudio(offer);
    expect(audio).toMatchObject({
      profile: 'webrtc',
      proto: 'UDP/TLS/RTP/SAVPF',
      address: '0.0.0.0',
      port: 9,
      direction: 'recvonly',
      codecs: ['OPUS', 'PCMU', 'PCMA'],
    });
    expect(audio?.fingerprint).toMatch(/^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    // RFC 8839: ufrag at least 4 characters, pwd at least 22
    expect(/a=ice-ufrag:(\S+)/.exec(offer)?.[1]?.length).toBeGreaterThanOrEqual(4);
    expect(/a=ice-pwd:(\S+)/.exec(offer)?.[1]?.length).toBeGreaterThanOrEqual(22);
    for (const line of ['a=setup:actpass', 'a=mid:0', 'a=group:BUNDLE 0', 'a=rtcp-mux']) {
      expect(offer.split('\r\n')).toContain(line);
    }
    expect(offer).not.toContain('a=candidate');
  });

  it('has fresh credentials every time', () => {
    const a = describeAudio(webRtcPlaceholderOffer());
    const b = describeAudio(webRtcPlaceholderOffer());
    expect(a?.iceUfrag).not.toBe(b?.iceUfrag);
    expect(a?.fingerprint).not.toBe(b?.fingerprint);
  });

  it('needs a bridge with a plain-RTP peer and no converting relay', () => {
    expect(decideMediaPath(webRtcPlaceholderOffer(), plainPhone).path).toBe('bridge');
  });
});

describe('transferPlaceholderOffer() and isUnrelayedTransferPlaceholder()', () => {
  it('offers plain RTP, sendrecv, towards the discard port of the loopback address, with no ICE', () => {
    expect(describeAudio(transferPlaceholderOffer())).toMatchObject({
      profile: 'rtp',
      address: '127.0.0.1',
      port: 9,
      direction: 'sendrecv',
    });
    expect(describeAudio(transferPlaceholderOffer())?.iceUfrag).toBeUndefined();
  });

  it('is recognised as sent, also with the origin a pass-through leg gives it', () => {
    expect(isUnrelayedTransferPlaceholder(transferPlaceholderOffer())).toBe(true);
    expect(
      isUnrelayedTransferPlaceholder(withOrigin(transferPlaceholderOffer(), { sessionId: '7', version: 2 })),
    ).toBe(true);
  });

  it('is not recognised once a relay gave it its own address or port, nor in any other offer', () => {
    const offer = transferPlaceholderOffer();
    expect(isUnrelayedTransferPlaceholder(offer.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 10.0.0.5'))).toBe(
      false,
    );
    expect(isUnrelayedTransferPlaceholder(offer.replace('m=audio 9 ', 'm=audio 30000 '))).toBe(false);
    expect(isUnrelayedTransferPlaceholder(blackHoleOffer())).toBe(false);
    expect(isUnrelayedTransferPlaceholder(webRtcPlaceholderOffer())).toBe(false);
  });
});

describe('iceAtBothEnds()', () => {
  it('is true only when both SDPs are WebRTC (ICE + DTLS) audio', () => {
    expect(iceAtBothEnds(webrtc, webRtcPlaceholderOffer())).toBe(true);
    expect(iceAtBothEnds(webrtc, plainPhone)).toBe(false);
    expect(iceAtBothEnds(plainPhone, plainPhone)).toBe(false);
    expect(iceAtBothEnds(webrtc, undefined)).toBe(false);
    expect(iceAtBothEnds(undefined, webrtc)).toBe(false);
  });
});

describe('rejectingAnswer()', () => {
  it('rejects every m= line of the offer (port 0, same media, transport and formats), inactive', () => {
    const offer = webrtc + 'm=video 50002 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n';
    const answer = rejectingAnswer(offer);
    const mLines = answer.split('\r\n').filter((l) => l.startsWith('m='));
    expect(mLines).toEqual(['m=audio 0 UDP/TLS/RTP/SAVPF 111 0 126', 'm=video 0 UDP/TLS/RTP/SAVPF 96']);
    expect(describeAudio(answer)).toMatchObject({ port: 0, direction: 'inactive', address: '0.0.0.0' });
    expect(answer).toMatch(/^v=0\r\no=callgate 0 0 IN IP4 127\.0\.0\.1\r\ns=-\r\nt=0 0\r\n/);
    expect(answer.endsWith('\r\n')).toBe(true);
    expect(answer).not.toContain('ice-ufrag');
  });
});

describe('withAnswerSetup()', () => {
  it("gives an offerer's actpass a definite role: the opposite of the role the receiver last answered with", () => {
    expect(dtlsSetup(webrtc)).toBe('actpass');
    expect(dtlsSetup(withAnswerSetup(webrtc, 'passive'))).toBe('active');
    expect(dtlsSetup(withAnswerSetup(webrtc, 'active'))).toBe('passive');
    // the receiver never answered: active, as answerers usually choose
    expect(dtlsSetup(withAnswerSetup(webrtc, undefined))).toBe('active');
    expect(withAnswerSetup(webrtc, 'passive').split('\r\n').length).toBe(webrtc.split('\r\n').length);
  });

  it('leaves an SDP that already states a role, or has none, as it is', () => {
    const answered = webrtc.replace('a=setup:actpass', 'a=setup:passive');
    expect(withAnswerSetup(answered, 'passive')).toBe(answered);
    expect(withAnswerSetup(plainPhone, undefined)).toBe(plainPhone);
    expect(dtlsSetup(plainPhone)).toBeUndefined();
  });
});
