/** Stable codes of the errors raised by libs/sip. */
export type SipErrorCode =
  | 'CONNECT_TIMEOUT'
  | 'REGISTRATION_FAILED'
  | 'REGISTRATION_TIMEOUT'
  | 'UA_CLOSED'
  | 'UA_NOT_STARTED'
  | 'INVALID_STATE'
  | 'INVALID_ARGUMENT'
  | 'CALL_TERMINATED'
  | 'REQUEST_FAILED'
  | 'TIMEOUT'
  | 'AUDIO_STOPPED';

/**
 * The one error type of libs/sip: a stable `code`, the SIP status when one is known,
 * and a human message. Build them with the static factories.
 */
export class SipError extends Error {
  override readonly name = 'SipError';

  constructor(
    readonly code: SipErrorCode,
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }

  static connectTimeout(wsUri: string, timeoutMs: number): SipError {
    return new SipError('CONNECT_TIMEOUT', `could not connect to ${wsUri} within ${timeoutMs} ms`);
  }

  static registrationFailed(user: string, cause: string, statusCode?: number): SipError {
    const status = statusCode === undefined ? '' : ` (${statusCode})`;
    return new SipError(
      'REGISTRATION_FAILED',
      `registration of ${user} failed: ${cause}${status}`,
      statusCode,
    );
  }

  static registrationTimeout(user: string, timeoutMs: number): SipError {
    return new SipError('REGISTRATION_TIMEOUT', `registration of ${user} not done within ${timeoutMs} ms`);
  }

  static closed(what: string): SipError {
    return new SipError('UA_CLOSED', `${what}: the user agent is closed`);
  }

  static invalidState(what: string, state: string): SipError {
    return new SipError('INVALID_STATE', `${what} is not allowed in state '${state}'`);
  }

  static invalidArgument(message: string): SipError {
    return new SipError('INVALID_ARGUMENT', message);
  }

  static callTerminated(what: string): SipError {
    return new SipError('CALL_TERMINATED', `${what}: the call ended first`);
  }

  static requestFailed(what: string, statusCode?: number): SipError {
    const status = statusCode === undefined ? '' : ` with ${statusCode}`;
    return new SipError('REQUEST_FAILED', `${what} failed${status}`, statusCode);
  }

  static timeout(what: string, timeoutMs: number, detail = ''): SipError {
    return new SipError('TIMEOUT', `${what}: not done within ${timeoutMs} ms${detail ? ` (${detail})` : ''}`);
  }
}
