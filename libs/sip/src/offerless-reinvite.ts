/**
 * A re-INVITE without SDP (RFC 3261 §14.1; RFC 3725 flow I) on a JsSIP 3.13 session whose peer
 * connection is a {@link PassThroughPeerConnection}: the peer's 2xx carries its offer, our ACK
 * carries the answer. JsSIP's own re-INVITE always offers, so this drives the RTCSession's
 * in-dialog request sending directly; the members it touches are typed in jssip-internals.d.ts
 * and checked on each use ({@link missingOfferlessInternals}), so a JsSIP upgrade that changes
 * them fails with a clear error instead of misbehaving.
 */
import RTCSession, { type InDialogResponse, type RTCSessionInternals } from 'jssip/lib/RTCSession.js';
import { SipError } from './errors.js';
import { JsSip } from './jssip.js';
import type { SipLogger } from './logger.js';
import type { PassThroughPeerConnection } from './passthrough-pc.js';
import { rejectingAnswer } from './sdp-media.js';

/** The JsSIP release the internals were read from; other 3.13.x releases are accepted. */
export const OFFERLESS_JSSIP_VERSION = '3.13.8';

const METHODS = [
  'sendRequest',
  'isReadyToReOffer',
  'isEnded',
  'onTransportError',
  'onRequestTimeout',
  'onDialogError',
  '_handleSessionTimersInIncomingResponse',
] as const;

/**
 * What the offerless re-INVITE needs and does not find: in the installed JsSIP (its version and
 * RTCSession's prototype), and in `session` when given (its instance fields). Empty when all is there.
 */
export function missingOfferlessInternals(
  session?: object,
  version: string = JsSip.version,
  prototype: object = RTCSession.prototype,
): string[] {
  const missing: string[] = [];
  const [major, minor] = version.split('.');
  if (`${major}.${minor}` !== OFFERLESS_JSSIP_VERSION.split('.').slice(0, 2).join('.')) {
    missing.push(`JsSIP ${OFFERLESS_JSSIP_VERSION.replace(/\.\d+$/, '.x')} (installed: ${version})`);
  }
  const proto = prototype as Record<string, unknown>;
  for (const method of METHODS) {
    if (typeof proto[method] !== 'function') missing.push(`RTCSession.prototype.${method}()`);
  }
  if (session !== undefined) {
    const fields = session as Record<string, unknown>;
    for (const method of METHODS) {
      if (typeof fields[method] !== 'function') missing.push(`session.${method}()`);
    }
    if (typeof fields._contact !== 'string') missing.push('session._contact');
    if (typeof fields._rtcReady !== 'boolean') missing.push('session._rtcReady');
    const timers = fields._sessionTimers as Record<string, unknown> | null | undefined;
    if (typeof timers !== 'object' || timers === null || typeof timers.running !== 'boolean') {
      missing.push('session._sessionTimers');
    }
  }
  return missing;
}

function internals(session: object): RTCSessionInternals {
  const missing = missingOfferlessInternals(session);
  if (missing.length > 0) {
    throw new SipError(
      'INVALID_STATE',
      `offerless re-INVITE: the installed JsSIP (${JsSip.version}) lacks ${missing.join(', ')}; ` +
        `it was written against JsSIP ${OFFERLESS_JSSIP_VERSION} (see libs/sip/src/jssip-internals.d.ts)`,
    );
  }
  return session as RTCSessionInternals;
}

function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(typeof error === 'string' ? error : JSON.stringify(error));
}

export interface OfferlessReinviteOptions {
  /** Extra headers of the re-INVITE. */
  extraHeaders: string[];
  /** Settles the exchange with CALL_TERMINATED when the call ends first. */
  terminated: Promise<unknown>;
  logger: SipLogger;
  /** For messages, e.g. `call 5003-web: reinviteWithoutOffer()`. */
  what: string;
}

/**
 * Sends the offerless re-INVITE on `session`. On the 2xx: its SDP offer becomes `pc`'s remote
 * description, `onOffer(offer)` is awaited, then `pc` answers (its source gives the SDP) and the
 * answer goes in the ACK; a retransmitted 2xx gets the same ACK again. The 2xx is always ACKed:
 * when no answer can be built (no SDP, or `pc` refuses) the ACK carries a rejecting answer (or
 * nothing when there was no offer at all) and the promise rejects. A final error response rejects
 * with REQUEST_FAILED and its status; the session stays as it was (RFC 3261 §14.1).
 */
export function sendOfferlessReinvite(
  session: object,
  pc: PassThroughPeerConnection,
  onOffer: (offer: string) => Promise<void>,
  options: OfferlessReinviteOptions,
): Promise<void> {
  const { what, logger } = options;
  let s: RTCSessionInternals;
  try {
    s = internals(session);
  } catch (error) {
    return Promise.reject(asError(error));
  }
  if (!s.isReadyToReOffer()) {
    return Promise.reject(SipError.invalidState(`${what} (an offer is in progress)`, 'established'));
  }
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let stage: 'sent' | 'answering' | 'acked' = 'sent';
    let ackBody: string | undefined;
    const settle = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      if (!s.isEnded()) s._rtcReady = true;
      if (error === undefined) resolve();
      else reject(asError(error));
    };
    const sendAck = (): void => {
      s.sendRequest(
        'ACK',
        ackBody === undefined ? {} : { extraHeaders: ['Content-Type: application/sdp'], body: ackBody },
      );
    };
    const answer = async (response: InDialogResponse): Promise<void> => {
      s._handleSessionTimersInIncomingResponse(response);
      const offer = response.body;
      const type = response.hasHeader('Content-Type')
        ? response.getHeader('Content-Type')?.toLowerCase()
        : undefined;
      if (!offer || type !== 'application/sdp') {
        stage = 'acked';
        sendAck();
        throw SipError.requestFailed(`${what}: the 2xx carried no SDP offer`, response.status_code);
      }
      let failure: Error | undefined;
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: offer });
        await onOffer(offer);
      } catch (error) {
        failure = asError(error);
      }
      let body: string;
      try {
        const local = await pc.createAnswer();
        await pc.setLocalDescription(local);
        body = local.sdp;
      } catch (error) {
        logger.warn(`${what}: no answer to the peer's offer, rejecting its media in the ACK`, {
          error: String(error),
        });
        failure ??= asError(error);
        body = rejectingAnswer(offer);
      }
      if (s.isEnded()) throw SipError.callTerminated(what);
      ackBody = body;
      stage = 'acked';
      sendAck();
      if (failure !== undefined) throw failure;
    };
    const ended = (jssip: () => void) => (): void => {
      settle(SipError.callTerminated(what));
      jssip();
    };
    s._rtcReady = false;
    const headers = [...options.extraHeaders, `Contact: ${s._contact}`];
    if (s._sessionTimers.running) {
      const refresher = s._sessionTimers.refresher ? 'uac' : 'uas';
      headers.push(`Session-Expires: ${s._sessionTimers.currentExpires};refresher=${refresher}`);
    }
    try {
      s.sendRequest('INVITE', {
        extraHeaders: headers,
        eventHandlers: {
          onSuccessResponse: (response) => {
            // a retransmitted 2xx: the same ACK again; before the answer is ready, the next one will do
            if (stage === 'acked') sendAck();
            if (stage !== 'sent') return;
            stage = 'answering';
            answer(response).then(
              () => settle(),
              (error: unknown) => settle(error),
            );
          },
          onErrorResponse: (response) => settle(SipError.requestFailed(what, response.status_code)),
          onTransportError: ended(() => s.onTransportError()),
          onRequestTimeout: ended(() => s.onRequestTimeout()),
          onDialogError: ended(() => s.onDialogError()),
        },
      });
    } catch (error) {
      settle(error);
      return;
    }
    void options.terminated.then(() => settle(SipError.callTerminated(what)));
  });
}
