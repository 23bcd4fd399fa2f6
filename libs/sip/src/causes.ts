/**
 * Why a call ended or failed, as libs/sip reports it. JsSIP's cause strings are
 * translated here, once; nothing else sees them.
 */
export type SipEndCause =
  | 'bye'
  | 'canceled'
  | 'busy'
  | 'rejected'
  | 'notFound'
  | 'unavailable'
  | 'redirected'
  | 'addressIncomplete'
  | 'incompatibleSdp'
  | 'missingSdp'
  | 'authenticationError'
  | 'noAnswer'
  | 'expires'
  | 'noAck'
  | 'dialogError'
  | 'connectionError'
  | 'requestTimeout'
  | 'sipFailure'
  | 'internalError'
  | 'webrtcError'
  | 'mediaAccessDenied'
  | 'badMediaDescription'
  | 'rtpTimeout'
  /** The call was answered but ICE never connected (no usable candidate pair, e.g. TURN refused us). */
  | 'iceFailed'
  | 'other';

/** Who ended a call: this side, the peer, or the stack itself (timers, transport). */
export type SipOriginator = 'local' | 'remote' | 'system';

const byJsSipCause: Record<string, SipEndCause> = {
  Terminated: 'bye',
  Canceled: 'canceled',
  Busy: 'busy',
  Rejected: 'rejected',
  'Not Found': 'notFound',
  Unavailable: 'unavailable',
  Redirected: 'redirected',
  'Address Incomplete': 'addressIncomplete',
  'Incompatible SDP': 'incompatibleSdp',
  'Missing SDP': 'missingSdp',
  'Authentication Error': 'authenticationError',
  'No Answer': 'noAnswer',
  Expires: 'expires',
  'No ACK': 'noAck',
  'Dialog Error': 'dialogError',
  'Connection Error': 'connectionError',
  'Request Timeout': 'requestTimeout',
  'SIP Failure Code': 'sipFailure',
  'Internal Error': 'internalError',
  'WebRTC Error': 'webrtcError',
  'User Denied Media Access': 'mediaAccessDenied',
  'Bad Media Description': 'badMediaDescription',
  'RTP Timeout': 'rtpTimeout',
};

/** Translates a JsSIP cause string; unknown or missing causes become 'other'. */
export function translateCause(jssipCause: string | null | undefined): SipEndCause {
  if (!jssipCause) return 'other';
  return Object.hasOwn(byJsSipCause, jssipCause) ? (byJsSipCause[jssipCause] ?? 'other') : 'other';
}

/** Translates a JsSIP originator; anything unexpected counts as 'system'. */
export function translateOriginator(originator: string | null | undefined): SipOriginator {
  return originator === 'local' || originator === 'remote' ? originator : 'system';
}

/** Whether `code` is a final non-2xx SIP status a UAS may reject a call with. */
export function isRejectStatus(code: number): boolean {
  return Number.isInteger(code) && code >= 300 && code <= 699;
}
