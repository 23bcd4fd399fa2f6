import { CallgateError, type ErrorBody, type ErrorCode } from '@callgate/contracts';

/** The HTTP status of each error code: the one place a code meets a transport's status. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_REQUEST: 400,
  INVALID_PAYLOAD: 400,
  INVALID_NUMBER: 400,
  INVALID_DEVICE_TYPE: 400,
  INVALID_MOBILE: 400,
  NOT_CHOOSE_TYPE_TRANSFER: 400,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  SESSION_EXPIRED: 401,
  NOT_LOGGED_IN: 401,
  UNAUTHORIZED: 401,
  ORIGIN_NOT_ALLOWED: 403,
  CALLOUT_PERMISSION_DENY: 403,
  DOMAIN_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  NOT_FOUND: 404,
  UNKNOWN_COMMAND: 404,
  COULD_NOT_GET_CALL_INFO: 404,
  CALLOUT_AGENT_BUSY: 409,
  NOT_IN_A_CALL: 409,
  NOT_VOICE_HOLDER: 409,
  VOICE_FENCE_STALE: 409,
  DEVICE_NOT_AVAILABLE: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  IPCC_NOT_CONNECT_CUSTOMER: 502,
  IPCC_NOT_CONNECT_AGENT_ID: 502,
  ERROR_CALLOUT_CONNECT: 502,
  TRANSFER_CALL_FAILED: 502,
  COORDINATION_UNAVAILABLE: 503,
  INSTANCE_UNREACHABLE: 503,
  // SDK-side codes never come from the gateway; listed so the table stays exhaustive.
  CONNECT_FAILED: 503,
  NOT_CONNECTED: 503,
  COMMAND_TIMEOUT: 504,
  REINIT: 409,
  DIAL_NOT_ALLOWED: 403,
  RATE_LIMITED: 429,
  TOO_MANY_TABS: 429,
  UNKNOWN_CALLOUT_SERVICE: 404,
  UNKNOWN_SURVEY: 404,
};

/** A CallgateError as it is, anything else as INTERNAL_ERROR (the caller logs the original). */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof CallgateError) return err.toBody();
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}
