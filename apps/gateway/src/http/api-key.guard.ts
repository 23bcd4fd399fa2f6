import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { CallgateError } from '@callgate/contracts';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { apiKeyMatches } from './api-key.js';

/** REST for CRM backends: `Authorization: Bearer <apiKey>` of the `{domain}` in the path. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const domainName = req.params.domain;
    const domain = this.config.domains.domain(typeof domainName === 'string' ? domainName : '');
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1] || !apiKeyMatches(domain.apiKeys, match[1])) {
      throw new CallgateError('UNAUTHORIZED', 'send the domain API key as "Authorization: Bearer <apiKey>"');
    }
    return true;
  }
}
