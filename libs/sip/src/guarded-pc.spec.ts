import { GuardedPeerConnection, setWebRtcFaultLogger } from './guarded-pc.js';
import { consoleLogger, type SipLogger } from './logger.js';
import { wrtc } from './wrtc.js';

/**
 * Listens on `pc` without the guard (wrtc's own addEventListener): resolves once wrtc dispatched
 * `type` (when `until` holds at that moment).
 */
function unguarded(pc: GuardedPeerConnection, type: string, until = (): boolean => true): Promise<void> {
  return new Promise((resolve) => {
    wrtc.RTCPeerConnection.prototype.addEventListener.call(pc, type, () => {
      if (until()) resolve();
    });
  });
}

describe('GuardedPeerConnection (wrtc, for JsSIP in Node)', () => {
  const reported: { message: string; fields?: Record<string, unknown> }[] = [];
  const capture: SipLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (message, fields) => reported.push({ message, ...(fields ? { fields } : {}) }),
  };
  beforeEach(() => {
    reported.length = 0;
    setWebRtcFaultLogger(capture);
  });
  afterAll(() => setWebRtcFaultLogger(consoleLogger('sip.webrtc', 'warn')));

  it("drops the 'icegatheringstatechange' wrtc still fires after close(), which JsSIP read as localDescription.sdp of null", async () => {
    const pc = new GuardedPeerConnection();
    pc.addTransceiver('audio');
    const seenByJsSip: string[] = [];
    // What JsSIP's _createLocalDescription does once gathering completes.
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') seenByJsSip.push(`sdp: ${String(pc.localDescription?.sdp)}`);
    });
    // An unguarded listener on the same connection tells when wrtc fired the event.
    let closed = false;
    const fired = unguarded(
      pc,
      'icegatheringstatechange',
      () => closed && pc.iceGatheringState === 'complete',
    );
    await pc.setLocalDescription(await pc.createOffer());
    pc.close();
    closed = true;
    await fired;
    expect(pc.localDescription).toBeNull();
    expect(seenByJsSip).toEqual([]);
    expect(reported).toEqual([]);
  });

  it('reports a listener that throws instead of letting it stop the process, and still calls the others', async () => {
    const pc = new GuardedPeerConnection();
    const calls: string[] = [];
    pc.addEventListener('negotiationneeded', () => {
      throw new TypeError("Cannot read properties of null (reading 'sdp')");
    });
    pc.addEventListener('negotiationneeded', { handleEvent: () => calls.push('object listener') });
    const dispatched = unguarded(pc, 'negotiationneeded');
    pc.dispatchEvent(new Event('negotiationneeded'));
    await dispatched;
    expect(calls).toEqual(['object listener']);
    expect(reported).toHaveLength(1);
    expect(reported[0]?.message).toContain("'negotiationneeded' listener of a peer connection threw");
    expect(String(reported[0]?.fields?.error)).toContain("reading 'sdp'");
    pc.close();
  });

  it('removes a listener it wrapped, and adds the same listener once', async () => {
    const pc = new GuardedPeerConnection();
    let count = 0;
    const listener = (): void => {
      count += 1;
    };
    pc.addEventListener('negotiationneeded', listener);
    pc.addEventListener('negotiationneeded', listener);
    const first = unguarded(pc, 'negotiationneeded');
    pc.dispatchEvent(new Event('negotiationneeded'));
    await first;
    expect(count).toBe(1);
    pc.removeEventListener('negotiationneeded', listener);
    const second = unguarded(pc, 'negotiationneeded');
    pc.dispatchEvent(new Event('negotiationneeded'));
    await second;
    expect(count).toBe(1);
    pc.close();
  });
});
