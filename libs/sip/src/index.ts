/**
 * libs/sip: JsSIP in Node (WebSocket from `ws`, WebRTC from @roamhq/wrtc) behind typed
 * classes. JsSIP's objects, events and numeric statuses stay inside this library.
 */
export { installNodeWebRtcGlobals } from './globals.js';
export { GuardedPeerConnection, setWebRtcFaultLogger } from './guarded-pc.js';
export { SipUserAgent, type SipUserAgentEvents, type SipUserAgentOptions } from './user-agent.js';
export {
  ICE_CONNECT_TIMEOUT_MS,
  SipCall,
  SipCallState,
  SipIncomingRefer,
  outgoing,
  type SipCallDirection,
  type SipCallEnd,
  type SipCallEvents,
  type SipCallTermination,
  type SipDtmfOptions,
  type SipEmpty,
  type SipMediaOptions,
  type SipReferResult,
  type SipRemoteIdentity,
} from './call.js';
export {
  AUDIO_FRAME_SAMPLES,
  AUDIO_SAMPLE_RATE,
  AudioAnalyser,
  AudioBridge,
  ToneSource,
  type AudioAnalyserOptions,
  type AudioBridgeDirection,
  type AudioSnapshot,
  type HearOptions,
  type SilenceOptions,
  type ToneSourceOptions,
} from './audio.js';
export {
  combineStats,
  estimateFrequency,
  frameStats,
  rmsLevel,
  sineFrame,
  type FrameStats,
  type WindowEstimate,
} from './audio-math.js';
export { isRejectStatus, translateCause, type SipEndCause, type SipOriginator } from './causes.js';
export {
  TypedEmitter,
  waitForEvent,
  type EventMap,
  type Listener,
  type WaitForEventOptions,
} from './emitter.js';
export { SipError, type SipErrorCode } from './errors.js';
export { consoleLogger, prefixedLogger, silentLogger, type SipLogLevel, type SipLogger } from './logger.js';
export {
  AUDIO_CODECS,
  audioCodecName,
  restrictAudioCodecs,
  sdpAudioCodecs,
  type AudioCodec,
} from './codecs.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { NodeWsSocket, type WsTlsOptions } from './ws-socket.js';
export { OFFERLESS_JSSIP_VERSION, missingOfferlessInternals } from './offerless-reinvite.js';
export {
  PassThroughPeerConnection,
  withPeerConnection,
  type PassThroughDescription,
  type SdpSource,
} from './passthrough-pc.js';
export {
  blackHoleOffer,
  transferPlaceholderOffer,
  hasIce,
  decideMediaPath,
  describeAudio,
  dtlsSetup,
  iceAtBothEnds,
  mediaTargetChanged,
  rejectingAnswer,
  reverseDirection,
  sdpBody,
  webRtcPlaceholderOffer,
  withAnswerSetup,
  withAudioDirection,
  withOrigin,
  type AudioDescription,
  type DtlsRole,
  type MediaDirection,
  type MediaPath,
  type MediaPathDecision,
  type MediaProfile,
} from './sdp-media.js';
export {
  RINGBACK_TONE,
  RingbackPlayer,
  ringbackPayload,
  ringbackSdp,
  rtpPacket,
  ulawEncode,
} from './ringback.js';
export {
  DirectCalloutCustomer,
  DirectMediaCall,
  DirectMediaError,
  DirectMediaState,
  type DirectMediaErrorCode,
  type DirectMediaEvents,
  type DirectMediaLeg,
  type DirectMediaMode,
  type DirectMediaOptions,
} from './direct-media.js';
export { isUnrelayedTransferPlaceholder } from './transfer-placeholder.js';
