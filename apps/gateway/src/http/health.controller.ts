import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import type { Coordination } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { COORDINATION, GATEWAY_CONFIG } from '../tokens.js';

/** `/health`: the process answers. `/ready`: config loaded and the coordination store reachable. */
@Controller()
export class HealthController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(COORDINATION) private readonly coordination: Coordination,
  ) {}

  @Get('health')
  health(): { status: 'ok'; instanceId: string } {
    return { status: 'ok', instanceId: this.config.instanceId };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ready'; coordination: string }> {
    try {
      await this.coordination.ping();
    } catch (err) {
      throw new HttpException(
        {
          code: 'COORDINATION_UNAVAILABLE',
          message: `coordination store unreachable: ${(err as Error).message}`,
        },
        503,
      );
    }
    return { status: 'ready', coordination: this.coordination.kind };
  }
}
