/** Every error code a client can see, across HTTP, Socket.IO acks and SDK callbacks. */
export const ErrorCodes = [
  // login and session
  'INVALID_REQUEST',
  'INVALID_TOKEN',
  'TOKEN_EXPIRED',
  'DOMAIN_NOT_FOUND',
  'AGENT_NOT_FOUND',
  'NOT_LOGGED_IN',
  'SESSION_EXPIRED',
  'UNAUTHORIZED',
  'ORIGIN_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'NOT_FOUND',
  // commands
  'UNKNOWN_COMMAND',
  'INVALID_PAYLOAD',
  'INVALID_DEVICE_TYPE',
  'INVALID_MOBILE',
  'INVALID_NUMBER',
  'NOT_VOICE_HOLDER',
  'VOICE_FENCE_STALE',
  'DEVICE_NOT_AVAILABLE',
  'NOT_IMPLEMENTED',
  'COORDINATION_UNAVAILABLE',
  'INSTANCE_UNREACHABLE',
  'INTERNAL_ERROR',
  // callout (3C table)
  'IPCC_NOT_CONNECT_CUSTOMER',
  'IPCC_NOT_CONNECT_AGENT_ID',
  'CALLOUT_AGENT_BUSY',
  'CALLOUT_PERMISSION_DENY',
  'ERROR_CALLOUT_CONNECT',
  // in-call
  'NOT_IN_A_CALL',
  // transfer (3C table)
  'NOT_CHOOSE_TYPE_TRANSFER',
  'TRANSFER_CALL_FAILED',
  'COULD_NOT_GET_CALL_INFO',
  // decided by the SDK, in the browser
  'CONNECT_FAILED',
  'NOT_CONNECTED',
  'COMMAND_TIMEOUT',
  'REINIT',
  // security (DESIGN.md §11)
  'DIAL_NOT_ALLOWED',
  'RATE_LIMITED',
  'TOO_MANY_TABS',
  // callout services (3C hotlines)
  'UNKNOWN_CALLOUT_SERVICE',
  // survey IVRs (3C transferSurvey)
  'UNKNOWN_SURVEY',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ErrorCodes as readonly string[]).includes(value);
}

/** The body of every refusal, on every transport. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** A typed error with a stable code; transports map it once (HTTP status, ack, callback). */
export class CallgateError extends Error {
  override readonly name = 'CallgateError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}
