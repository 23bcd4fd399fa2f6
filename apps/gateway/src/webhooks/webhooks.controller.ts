import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { CallgateError } from '@callgate/contracts';
import type { GatewayConfig } from '../config.js';
import { ApiKeyGuard } from '../http/api-key.guard.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { Inject } from '@nestjs/common';
import { DEAD_LETTERS_KEPT, type WebhookFailure, WebhooksService } from './webhooks.service.js';

/** The domain's webhook deliveries given up after their last attempt, newest first. */
@Controller('v1/:domain/webhooks')
@UseGuards(ApiKeyGuard)
export class WebhooksController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly webhooks: WebhooksService,
  ) {}

  @Get('failures')
  async failures(
    @Param('domain') domain: string,
    @Query('limit') limit: string | undefined,
  ): Promise<{ failures: WebhookFailure[] }> {
    this.config.domains.domain(domain);
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > DEAD_LETTERS_KEPT) {
      throw new CallgateError(
        'INVALID_REQUEST',
        `limit must be a whole number from 1 to ${DEAD_LETTERS_KEPT}`,
      );
    }
    return { failures: await this.webhooks.failures(domain, n) };
  }
}
