/**
 * `@callgate/sip/driver`: the browser-safe part of libs/sip. The call driver that the gateway's
 * SIP legs (SipCall) and the voice tab's in-page phone share, with its vocabulary. Nothing here
 * imports JsSIP, wrtc, ws or a Node module, so the embed SDK bundles it for the page.
 */
export {
  CallDriver,
  ICE_CONNECT_TIMEOUT_MS,
  isResponse,
  toSipError,
  type CallDriverEvents,
  type CallDriverOptions,
  type DrivenSession,
} from './call-driver.js';
export {
  SipCallState,
  type SipCallDirection,
  type SipCallEnd,
  type SipCallTermination,
  type SipDtmfOptions,
  type SipEmpty,
  type SipReferResult,
  type SipRemoteIdentity,
} from './types.js';
export { isRejectStatus, translateCause, type SipEndCause, type SipOriginator } from '../causes.js';
export { SipError, type SipErrorCode } from '../errors.js';
export { isUnrelayedTransferPlaceholder } from '../transfer-placeholder.js';
export { silentLogger, prefixedLogger, type SipLogger } from '../logger.js';
export type {
  JsSipCallOptions,
  JsSipNameAddr,
  JsSipSession,
  JsSipSessionEvents,
  JsSipUri,
} from '../jssip-types.js';
