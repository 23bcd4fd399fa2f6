import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CallgateError, type ErrorBody, type ErrorCode, isErrorCode } from '@callgate/contracts';
import { HTTP_STATUS } from '../errors.js';

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
};

/**
 * The 3C login route (`POST /{domain}/thirdParty/login`), whose refusals CRMs test as
 * `body.code == "errors"`.
 */
const VENDOR_LOGIN_PATH = /^\/[^/]+\/thirdParty\/login\/?$/;

/** A refusal of the 3C login route: the same status, `code: "errors"`, callgate's code in `error`. */
export interface VendorLoginErrorBody {
  code: 'errors';
  error: ErrorBody['code'];
  message: string;
}

/**
 * Every HTTP refusal as `{code, message}` with the status of its code; on the 3C login route,
 * `{code: "errors", error: <code>, message}` with the same status.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    const [status, body] = this.describe(err);
    if (status === 500)
      this.logger.error(`${body.code}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    else if (status > 500) this.logger.warn(`${body.code}: ${body.message}`);
    if (req.method === 'POST' && VENDOR_LOGIN_PATH.test(req.path)) {
      const vendor: VendorLoginErrorBody = { code: 'errors', error: body.code, message: body.message };
      res.status(status).json(vendor);
      return;
    }
    // Alohub's API answers every refusal in its own shape (a body that did not parse, say)
    if (req.path.startsWith('/alohub/')) {
      res.status(200).json({ success: '0', error_code: body.code, error_message: body.message });
      return;
    }
    res.status(status).json(body);
  }

  private describe(err: unknown): [number, ErrorBody] {
    if (err instanceof CallgateError) return [HTTP_STATUS[err.code], err.toBody()];
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const response = err.getResponse();
      if (typeof response === 'object' && response !== null) {
        const { code, message } = response as { code?: unknown; message?: unknown };
        if (isErrorCode(code))
          return [status, { code, message: typeof message === 'string' ? message : code }];
      }
      return [
        status,
        {
          code: STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'INVALID_REQUEST'),
          message: err.message,
        },
      ];
    }
    // body-parser errors carry their status and a type
    const e = err as { status?: unknown; type?: unknown; message?: unknown };
    if (e.type === 'entity.too.large')
      return [413, { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is too large' }];
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return [
        e.status,
        {
          code: STATUS_CODES[e.status] ?? 'INVALID_REQUEST',
          message: typeof e.message === 'string' ? e.message : 'bad request',
        },
      ];
    }
    return [500, { code: 'INTERNAL_ERROR', message: 'internal error' }];
  }
}
