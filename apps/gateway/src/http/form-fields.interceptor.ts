import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import multer from 'multer';
import type { Observable } from 'rxjs';
import { CallgateError } from '@callgate/contracts';

const parseFields = multer({
  // Bounded like the other bodies (16 KB): two fields of at most 8 KB (a token's own limit).
  limits: { fieldSize: 8 * 1024, fields: 2, parts: 2, fieldNameSize: 64, files: 0 },
}).none();

/**
 * Parses multipart/form-data text fields (the 3C PHP demo posts its login that way) into
 * `req.body`; JSON and urlencoded bodies pass through. Limits answer PAYLOAD_TOO_LARGE, a file
 * part INVALID_REQUEST.
 */
@Injectable()
export class FormFieldsInterceptor implements NestInterceptor {
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    if (req.is('multipart/form-data')) {
      await new Promise<void>((resolve, reject) => {
        parseFields(req, http.getResponse<Response>(), (err: unknown) => {
          if (!err) return resolve();
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'string' && code.startsWith('LIMIT_') && code !== 'LIMIT_UNEXPECTED_FILE') {
            return reject(new CallgateError('PAYLOAD_TOO_LARGE', 'the multipart body is too large'));
          }
          reject(
            new CallgateError('INVALID_REQUEST', `unreadable multipart body: ${(err as Error).message}`),
          );
        });
      });
    }
    return next.handle();
  }
}
