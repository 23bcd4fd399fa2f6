import { Inject, Injectable, Logger } from '@nestjs/common';
import { CallgateError } from '@callgate/contracts';
import { checkDial, type DialPurpose, logText } from '@callgate/call-core';
import type { AgentRef } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { EventBus } from '../events/event-bus.js';
import { GATEWAY_CONFIG } from '../tokens.js';

/**
 * The domain's dial policy, asked before every dial the PBX would make for an agent: callouts,
 * mobile forwards, transfers and queues. A refusal is `DIAL_NOT_ALLOWED` to the caller and a
 * `security.refused` event to the agent's tabs and the domain's backends (the audit trail).
 */
@Injectable()
export class DialGuard {
  private readonly logger = new Logger(DialGuard.name);

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly bus: EventBus,
  ) {}

  /** @throws CallgateError `DIAL_NOT_ALLOWED` (after publishing the audit event) */
  async check(agent: AgentRef, purpose: DialPurpose, number: string, command: string): Promise<void> {
    const policy = this.config.domains.domain(agent.domain).dialPolicy;
    const verdict = checkDial(policy, purpose, number);
    if (verdict.ok) return;
    this.logger.warn(
      `${agent.domain}/${agent.ipphone}: ${command} to ${logText(number, 40)} refused (${verdict.refusal})`,
    );
    await this.bus.publish(agent, 'security.refused', {
      code: 'DIAL_NOT_ALLOWED',
      command,
      purpose,
      number: logText(number, 40),
      reason: verdict.reason,
    });
    throw new CallgateError('DIAL_NOT_ALLOWED', verdict.reason);
  }
}
