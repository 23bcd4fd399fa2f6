/** Nest injection tokens for values built at boot. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const COORDINATION = Symbol('COORDINATION');
/** libs/calls' SIP port (adapters/sip.ts over libs/sip). */
export const SIP_PORT = Symbol('SIP_PORT');
/** libs/calls' call events port (adapters/call-events.ts over the event bus). */
export const CALL_EVENTS = Symbol('CALL_EVENTS');
/** The transfers under way, one per gateway (lines trust a transfer header only when listed). */
export const TRANSFER_LEDGER = Symbol('TRANSFER_LEDGER');
/** libs/calls' voice tab port: the agent service's VoiceRelay (Socket.IO acks to the voice tab). */
export const VOICE_TAB = Symbol('VOICE_TAB');
