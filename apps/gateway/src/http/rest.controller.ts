import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import {
  type AgentSummary,
  type AnyEventEnvelope,
  CallgateError,
  type CommandName,
  type CommandResult,
  parseEventId,
} from '@callgate/contracts';
import { logText, parseCommand } from '@callgate/call-core';
import { AgentService, type AgentView } from '../agent/agent.service.js';
import { EventBus } from '../events/event-bus.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { clickToCall } from './click-to-call.js';

type Json = Record<string, unknown>;

const asRecord = (body: unknown): Json => (typeof body === 'object' && body !== null ? (body as Json) : {});

/**
 * REST call control for CRM backends, under `/v1/{domain}`. Each route runs the same command a
 * tab sends, with the same validation, events and error codes.
 */
@Controller('v1/:domain')
@UseGuards(ApiKeyGuard)
export class RestController {
  constructor(
    private readonly agents: AgentService,
    private readonly bus: EventBus,
  ) {}

  @Get('agents')
  async list(@Param('domain') domain: string): Promise<{ agents: AgentSummary[] }> {
    return { agents: await this.agents.listAgents(domain) };
  }

  /** The domain's events after an id (for backends that poll or resume); `gap`: resync. */
  @Get('events')
  async events(
    @Param('domain') domain: string,
    @Query() query: Record<string, unknown>,
  ): Promise<{ events: AnyEventEnvelope[]; gap: boolean }> {
    this.agents.domain(domain);
    const unknown = Object.keys(query).find((key) => key !== 'after');
    if (unknown !== undefined) {
      throw new CallgateError('INVALID_REQUEST', `unknown query parameter ${logText(unknown, 40)}`);
    }
    const after = query.after;
    const from = after === undefined ? '0-0' : parseEventId(after);
    if (from === undefined) {
      throw new CallgateError('INVALID_REQUEST', "after: an event id '<ms>-<seq>' (two 64-bit numbers)");
    }
    // Strictly after `from`: an id is logged only after every smaller one, so a read misses none.
    const { events, gap } = await this.bus.replay(domain, from);
    return { events, gap };
  }

  @Get('agents/:ipphone')
  agent(@Param('domain') domain: string, @Param('ipphone') ipphone: string): Promise<AgentView> {
    return this.agents.view(this.ref(domain, ipphone));
  }

  @Get('agents/:ipphone/call')
  async call(
    @Param('domain') domain: string,
    @Param('ipphone') ipphone: string,
  ): Promise<NonNullable<AgentView['call']>> {
    const view = await this.agents.view(this.ref(domain, ipphone));
    if (!view.call) throw new CallgateError('NOT_IN_A_CALL', `agent ${ipphone} is not in a call`);
    return view.call;
  }

  @Post('agents/:ipphone/calls')
  @HttpCode(201)
  dial(@Param('domain') domain: string, @Param('ipphone') ipphone: string, @Body() body: unknown) {
    return this.run(domain, ipphone, 'call.dial', body);
  }

  /** JS-PHONE click-to-call: `{phoneNumber, ipPhone, transactionId}`. */
  @Post('calls')
  @HttpCode(201)
  clickToCall(@Param('domain') domain: string, @Body() body: unknown) {
    const { ipphone, dial } = clickToCall(body);
    return this.run(domain, ipphone, 'call.dial', dial);
  }

  @Post('agents/:ipphone/calls/:callId/answer')
  @HttpCode(200)
  answer(@Param('domain') d: string, @Param('ipphone') i: string, @Param('callId') callId: string) {
    return this.run(d, i, 'call.answer', { callId });
  }

  @Post('agents/:ipphone/calls/:callId/hangup')
  @HttpCode(200)
  hangup(@Param('domain') d: string, @Param('ipphone') i: string, @Param('callId') callId: string) {
    return this.run(d, i, 'call.hangup', { callId });
  }

  @Post('agents/:ipphone/calls/:callId/hold')
  @HttpCode(200)
  hold(@Param('domain') d: string, @Param('ipphone') i: string, @Param('callId') callId: string) {
    return this.run(d, i, 'call.toggleHold', { callId });
  }

  @Post('agents/:ipphone/calls/:callId/mute')
  @HttpCode(200)
  mute(@Param('domain') d: string, @Param('ipphone') i: string, @Param('callId') callId: string) {
    return this.run(d, i, 'call.toggleMute', { callId });
  }

  @Post('agents/:ipphone/calls/:callId/dtmf')
  @HttpCode(200)
  dtmf(
    @Param('domain') d: string,
    @Param('ipphone') i: string,
    @Param('callId') callId: string,
    @Body() body: unknown,
  ) {
    return this.run(d, i, 'call.dtmf', { ...asRecord(body), callId });
  }

  /** Asks another agent to take the call (`{ipphone}`); the outcome comes as transfer events. */
  @Post('agents/:ipphone/calls/:callId/transfer/agent')
  @HttpCode(200)
  transferToAgent(
    @Param('domain') d: string,
    @Param('ipphone') i: string,
    @Param('callId') callId: string,
    @Body() body: unknown,
  ) {
    return this.run(d, i, 'transfer.toAgent', { ...asRecord(body), callId });
  }

  /** Sends the call to an ACD queue (`{queueId}`). */
  @Post('agents/:ipphone/calls/:callId/transfer/queue')
  @HttpCode(200)
  transferToQueue(
    @Param('domain') d: string,
    @Param('ipphone') i: string,
    @Param('callId') callId: string,
    @Body() body: unknown,
  ) {
    return this.run(d, i, 'transfer.toQueue', { ...asRecord(body), callId });
  }

  /** The target agent's answer to its pending transfer request (`{accept, transferId?}`). */
  @Post('agents/:ipphone/transfer/respond')
  @HttpCode(200)
  respondToTransfer(@Param('domain') d: string, @Param('ipphone') i: string, @Body() body: unknown) {
    return this.run(d, i, 'transfer.respond', body);
  }

  @Post('agents/:ipphone/status')
  @HttpCode(200)
  toggleStatus(@Param('domain') d: string, @Param('ipphone') i: string) {
    return this.run(d, i, 'agent.toggleCallStatus', {});
  }

  @Post('agents/:ipphone/device')
  @HttpCode(200)
  setDevice(@Param('domain') d: string, @Param('ipphone') i: string, @Body() body: unknown) {
    return this.run(d, i, 'agent.setDevice', body);
  }

  @Post('agents/:ipphone/device/reset')
  @HttpCode(200)
  resetDevice(@Param('domain') d: string, @Param('ipphone') i: string) {
    return this.run(d, i, 'agent.resetDevice', {});
  }

  /**
   * `session.logout` for a CRM backend: every session and CRM login of the agent issued until now
   * is void on every instance, and its open tabs get `session.error SESSION_EXPIRED` and are closed.
   */
  @Post('agents/:ipphone/logout')
  @HttpCode(200)
  logout(@Param('domain') d: string, @Param('ipphone') i: string) {
    return this.run(d, i, 'session.logout', {});
  }

  private ref(domain: string, ipphone: string): { domain: string; ipphone: string } {
    this.agents.agentConfig({ domain, ipphone });
    return { domain, ipphone };
  }

  private async run<K extends CommandName>(
    domain: string,
    ipphone: string,
    name: K,
    body: unknown,
  ): Promise<{ ok: true } & CommandResult<K>> {
    const agent = this.ref(domain, ipphone);
    const parsed = parseCommand(name, body);
    if (!parsed.ok) throw new CallgateError(parsed.code, parsed.message);
    const result = await this.agents.execute({ agent }, name, parsed.value);
    return { ok: true, ...result };
  }
}
