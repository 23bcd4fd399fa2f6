import { PassThroughPeerConnection, withPeerConnection } from './passthrough-pc.js';

const offer =
  'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

describe('PassThroughPeerConnection', () => {
  it('offers what its source gives, with its own origin, and is ready at once (no ICE gathering)', async () => {
    const pc = new PassThroughPeerConnection(() => offer);
    const description = await pc.createOffer();
    await pc.setLocalDescription(description);
    expect(pc.iceGatheringState).toBe('complete');
    expect(pc.signalingState).toBe('have-local-offer');
    expect(pc.localSdp).toContain('m=audio 4000 RTP/AVP 0');
    expect(pc.localSdp).toMatch(/^o=callgate \d+ 1 IN IP4 127\.0\.0\.1$/m);
  });

  it('keeps its origin version for the same body and increments it for a new one', async () => {
    let sdp = offer;
    const pc = new PassThroughPeerConnection(() => sdp);
    const version = async (): Promise<string | undefined> =>
      / (\d+) IN IP4/.exec((await pc.createOffer()).sdp)?.[1];
    expect(await version()).toBe('1');
    expect(await version()).toBe('1');
    sdp = offer.replace('4000', '4002');
    expect(await version()).toBe('2');
  });

  it('answers a remote offer through its source, which sees the offer', async () => {
    const seen: (string | undefined)[] = [];
    const pc = new PassThroughPeerConnection((type, remote) => {
      seen.push(remote);
      return type === 'answer' ? offer.replace('4000', '6000') : offer;
    });
    const remote: string[] = [];
    pc.onRemoteDescription((d) => remote.push(d.type));
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const answer = await pc.createAnswer();
    expect(answer.type).toBe('answer');
    expect(answer.sdp).toContain('m=audio 6000');
    expect(seen).toEqual([offer]);
    expect(remote).toEqual(['offer']);
  });

  it('refuses a remote description that is not an SDP with media, like a peer connection would', async () => {
    const pc = new PassThroughPeerConnection(() => offer);
    await expect(pc.setRemoteDescription({ type: 'offer', sdp: 'hello' })).rejects.toThrow('not an SDP');
    expect(pc.remoteSdp).toBeUndefined();
  });

  it('refuses to offer without a source and to carry tracks', async () => {
    const pc = new PassThroughPeerConnection();
    await expect(pc.createOffer()).rejects.toThrow('no SDP to offer');
    expect(() => pc.addTrack()).toThrow('carries no media');
    expect(pc.getSenders()).toEqual([]);
  });

  it('withPeerConnection() makes `new RTCPeerConnection()` return it only inside the callback', () => {
    const scope = globalThis as unknown as { RTCPeerConnection: unknown };
    const before = scope.RTCPeerConnection;
    const pc = new PassThroughPeerConnection(() => offer);
    const built = withPeerConnection(pc, () => {
      const Ctor = scope.RTCPeerConnection as new () => unknown;
      return new Ctor();
    });
    expect(built).toBe(pc);
    expect(scope.RTCPeerConnection).toBe(before);
    expect(() =>
      withPeerConnection(pc, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(scope.RTCPeerConnection).toBe(before);
  });

  it('close() is idempotent and refuses later descriptions', async () => {
    const pc = new PassThroughPeerConnection(() => offer);
    pc.close();
    pc.close();
    expect(pc.isClosed).toBe(true);
    await expect(pc.setRemoteDescription({ type: 'answer', sdp: offer })).rejects.toThrow('closed');
  });
});
