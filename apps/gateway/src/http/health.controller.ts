import { Controller, Get, HttpException, Inject, Logger } from '@nestjs/common';
import type { Coordination } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { CallEngine } from '../calls/call-engine.service.js';
import { COORDINATION, GATEWAY_CONFIG } from '../tokens.js';

/**
 * `/health`: the process answers (with the server-side lines it registers). `/ready`: config
 * loaded, the coordination store reachable, and not draining.
 */
@Controller()
export class HealthController {
  private readonly logger = new Logger(HealthController.name);

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(COORDINATION) private readonly coordination: Coordination,
    private readonly calls: CallEngine,
  ) {}

  @Get('health')
  health(): { status: 'ok' | 'draining'; instanceId: string; lines: number } {
    return {
      status: this.calls.draining ? 'draining' : 'ok',
      instanceId: this.config.instanceId,
      lines: this.calls.lineCount,
    };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ready'; coordination: string }> {
    if (this.calls.draining) {
      throw new HttpException({ code: 'INSTANCE_UNREACHABLE', message: 'this instance is draining' }, 503);
    }
    try {
      await this.coordination.ping();
    } catch (err) {
      // The store's own error (host names, ports) goes to the log, not to whoever asks.
      this.logger.warn(`ready: coordination store unreachable: ${(err as Error).message}`);
      throw new HttpException(
        { code: 'COORDINATION_UNAVAILABLE', message: 'the coordination store is unreachable' },
        503,
      );
    }
    return { status: 'ready', coordination: this.coordination.kind };
  }
}
