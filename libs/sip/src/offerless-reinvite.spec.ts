import type { InDialogHandlers, InDialogResponse } from 'jssip/lib/RTCSession.js';
import { SipError } from './errors.js';
import { JsSip } from './jssip.js';
import { silentLogger } from './logger.js';
import {
  missingOfferlessInternals,
  OFFERLESS_JSSIP_VERSION,
  sendOfferlessReinvite,
} from './offerless-reinvite.js';
import { PassThroughPeerConnection } from './passthrough-pc.js';

const deviceOffer =
  'v=0\r\no=- 7 7 IN IP4 10.0.0.7\r\ns=-\r\nt=0 0\r\nm=audio 7000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 10.0.0.7\r\na=ice-ufrag:dev1\r\na=fingerprint:sha-256 DE:V1\r\na=setup:actpass\r\na=sendrecv\r\n';
const customerAnswer =
  'v=0\r\no=- 9 9 IN IP4 10.0.0.9\r\ns=-\r\nt=0 0\r\nm=audio 9000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 10.0.0.9\r\na=ice-ufrag:cus1\r\na=fingerprint:sha-256 CU:S1\r\na=setup:passive\r\na=sendrecv\r\n';

interface Sent {
  method: 'INVITE' | 'ACK';
  extraHeaders: string[];
  body: string | undefined;
  handlers: InDialogHandlers | undefined;
}

/** The RTCSession members the offerless re-INVITE uses, recording the requests it sends. */
class FakeSession {
  _contact = '<sip:gw@127.0.0.1;transport=ws>';
  _rtcReady = true;
  _sessionTimers = { running: false, currentExpires: 90, refresher: false };
  ended = false;
  sent: Sent[] = [];
  jssipEnded: string[] = [];

  sendRequest(
    method: 'INVITE' | 'ACK',
    options: { extraHeaders?: string[]; body?: string; eventHandlers?: InDialogHandlers },
  ): void {
    this.sent.push({
      method,
      extraHeaders: options.extraHeaders ?? [],
      body: options.body,
      handlers: options.eventHandlers,
    });
  }
  isReadyToReOffer(): boolean {
    return this._rtcReady;
  }
  isEnded(): boolean {
    return this.ended;
  }
  onTransportError(): void {
    this.jssipEnded.push('transport');
  }
  onRequestTimeout(): void {
    this.jssipEnded.push('timeout');
  }
  onDialogError(): void {
    this.jssipEnded.push('dialog');
  }
  _handleSessionTimersInIncomingResponse(): void {}

  get invite(): InDialogHandlers {
    const handlers = this.sent.find((r) => r.method === 'INVITE')?.handlers;
    if (!handlers) throw new Error('no INVITE sent');
    return handlers;
  }
  get acks(): Sent[] {
    return this.sent.filter((r) => r.method === 'ACK');
  }
}

function response(status: number, body?: string): InDialogResponse {
  return {
    status_code: status,
    body,
    hasHeader: (name) => body !== undefined && name.toLowerCase() === 'content-type',
    getHeader: (name) =>
      body !== undefined && name.toLowerCase() === 'content-type' ? 'application/sdp' : undefined,
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(
  source: (type: 'offer' | 'answer', remote: string | undefined) => string = () => customerAnswer,
) {
  const session = new FakeSession();
  const pc = new PassThroughPeerConnection(source);
  let endCall!: () => void;
  const terminated = new Promise<void>((resolve) => (endCall = resolve));
  const offers: string[] = [];
  let release!: () => void;
  let fail: ((error: Error) => void) | undefined;
  const onOffer = (offer: string): Promise<void> => {
    offers.push(offer);
    return new Promise<void>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
  };
  const done = sendOfferlessReinvite(session, pc, onOffer, {
    extraHeaders: ['X-Test: 1'],
    terminated,
    logger: silentLogger,
    what: 'test re-INVITE',
  });
  return {
    session,
    pc,
    offers,
    done,
    endCall,
    release: () => release(),
    fail: (error: Error) => fail?.(error),
  };
}

/** The options of a re-INVITE that is refused before anything is sent. */
function refusedOptions(): Parameters<typeof sendOfferlessReinvite>[3] {
  return { extraHeaders: [], terminated: new Promise(() => undefined), logger: silentLogger, what: 'x' };
}

describe('the JsSIP internals of the offerless re-INVITE', () => {
  it(`are all in the installed JsSIP (${JsSip.version}, written against ${OFFERLESS_JSSIP_VERSION})`, () => {
    expect(missingOfferlessInternals()).toEqual([]);
    expect(missingOfferlessInternals(new FakeSession())).toEqual([]);
  });

  it('names what is missing: another JsSIP minor release, a method gone, an instance field gone', () => {
    expect(missingOfferlessInternals(undefined, '3.14.0', { sendRequest: () => undefined })).toEqual([
      'JsSIP 3.13.x (installed: 3.14.0)',
      'RTCSession.prototype.isReadyToReOffer()',
      'RTCSession.prototype.isEnded()',
      'RTCSession.prototype.onTransportError()',
      'RTCSession.prototype.onRequestTimeout()',
      'RTCSession.prototype.onDialogError()',
      'RTCSession.prototype._handleSessionTimersInIncomingResponse()',
    ]);
    const session = new FakeSession() as Partial<FakeSession>;
    delete session._contact;
    expect(missingOfferlessInternals(session)).toEqual(['session._contact']);
  });

  it('refuses clearly, sending nothing, when a member is missing', async () => {
    const session = new FakeSession() as Partial<FakeSession>;
    delete session._sessionTimers;
    const pc = new PassThroughPeerConnection(() => customerAnswer);
    await expect(
      sendOfferlessReinvite(session, pc, () => Promise.resolve(), refusedOptions()),
    ).rejects.toThrow(/lacks session\._sessionTimers; it was written against JsSIP 3\.13\.8/);
    expect(session.sent).toEqual([]);
  });
});

describe('sendOfferlessReinvite()', () => {
  it('sends an INVITE without SDP, takes the offer from the 2xx, and ACKs with the answer once onOffer is done', async () => {
    const t = setup();
    const [invite] = t.session.sent;
    expect(invite).toMatchObject({ method: 'INVITE', body: undefined });
    expect(invite?.extraHeaders).toEqual(['X-Test: 1', 'Contact: <sip:gw@127.0.0.1;transport=ws>']);
    // JsSIP counts the session busy: no other re-INVITE starts meanwhile
    expect(t.session.isReadyToReOffer()).toBe(false);

    t.session.invite.onSuccessResponse?.(response(200, deviceOffer));
    await flush();
    expect(t.offers).toEqual([deviceOffer]);
    expect(t.pc.remoteDescription).toEqual({ type: 'offer', sdp: deviceOffer });
    // a retransmitted 2xx before the answer is known is not ACKed yet
    t.session.invite.onSuccessResponse?.(response(200, deviceOffer));
    await flush();
    expect(t.session.acks).toEqual([]);

    t.release();
    await t.done;
    const [ack] = t.session.acks;
    expect(ack?.extraHeaders).toEqual(['Content-Type: application/sdp']);
    expect(ack?.body).toContain('a=ice-ufrag:cus1');
    expect(ack?.body).toBe(t.pc.localSdp);
    expect(t.pc.signalingState).toBe('stable');
    expect(t.session.isReadyToReOffer()).toBe(true);
    // a 2xx retransmitted after the ACK gets the same ACK again
    t.session.invite.onSuccessResponse?.(response(200, deviceOffer));
    expect(t.session.acks.map((a) => a.body)).toEqual([ack?.body, ack?.body]);
  });

  it('a refused re-INVITE rejects with REQUEST_FAILED and its status; nothing is ACKed by us (the transaction does)', async () => {
    const t = setup();
    t.session.invite.onErrorResponse?.(response(488));
    await expect(t.done).rejects.toMatchObject({ code: 'REQUEST_FAILED', statusCode: 488 });
    expect(t.session.acks).toEqual([]);
    expect(t.offers).toEqual([]);
    expect(t.session.isReadyToReOffer()).toBe(true);
  });

  it("when onOffer fails, the 2xx is still ACKed with the source's answer, and the error is passed on", async () => {
    const t = setup();
    t.session.invite.onSuccessResponse?.(response(200, deviceOffer));
    await flush();
    t.fail(new Error('the customer refused'));
    await expect(t.done).rejects.toThrow('the customer refused');
    expect(t.session.acks[0]?.body).toContain('a=ice-ufrag:cus1');
  });

  it('when no answer can be built, the ACK rejects the offered media (port 0)', async () => {
    const t = setup(() => {
      throw new Error('no SDP from the customer leg yet');
    });
    t.session.invite.onSuccessResponse?.(response(200, deviceOffer));
    await flush();
    t.release();
    await expect(t.done).rejects.toThrow('no SDP from the customer leg yet');
    expect(t.session.acks[0]?.body).toContain('m=audio 0 UDP/TLS/RTP/SAVPF 111');
  });

  it('a 2xx without SDP is ACKed without a body and rejects', async () => {
    const t = setup();
    t.session.invite.onSuccessResponse?.(response(200));
    await expect(t.done).rejects.toMatchObject({
      code: 'REQUEST_FAILED',
      message: expect.stringMatching(/no SDP offer/) as unknown,
    });
    expect(t.session.acks).toEqual([
      { method: 'ACK', extraHeaders: [], body: undefined, handlers: undefined },
    ]);
    expect(t.offers).toEqual([]);
  });

  it('a transport error ends the call as JsSIP does (CALL_TERMINATED); so does the call ending meanwhile', async () => {
    const a = setup();
    a.session.invite.onTransportError?.();
    await expect(a.done).rejects.toMatchObject({ code: 'CALL_TERMINATED' });
    expect(a.session.jssipEnded).toEqual(['transport']);

    const b = setup();
    b.session.invite.onSuccessResponse?.(response(200, deviceOffer));
    await flush();
    b.session.ended = true;
    b.endCall();
    await expect(b.done).rejects.toBeInstanceOf(SipError);
    b.release();
    await flush();
    expect(b.session.acks).toEqual([]);
  });

  it('refuses while another offer is in progress, sending nothing', async () => {
    const session = new FakeSession();
    session._rtcReady = false;
    const pc = new PassThroughPeerConnection(() => customerAnswer);
    await expect(
      sendOfferlessReinvite(session, pc, () => Promise.resolve(), refusedOptions()),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(session.sent).toEqual([]);
  });
});
