import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CallgateError,
  type CommandAck,
  type CommandName,
  type CommandPayload,
  type VoiceTransferAnswer,
  type VoiceTransferRequest,
} from '@callgate/contracts';
import { ephemeralSipCredentials } from '@callgate/auth';
import type { VoiceTabPort } from '@callgate/calls';
import type { AgentRef } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { type AgentNamespace, EventBus } from '../events/event-bus.js';
import { Peers } from '../infra/peers.js';
import { GATEWAY_CONFIG } from '../tokens.js';

/** How long the voice tab has to answer a relayed call command. */
const COMMAND_TIMEOUT_MS = 10_000;
/** How long the old voice tab has to unregister before another takes the extension. */
const STOP_TIMEOUT_MS = 3_000;

/**
 * The gateway's side of device mode 1: the voice tab's in-page phone. It hands the SIP account to
 * the voice tab only, asks a tab to stop its phone, and relays call commands to it (from REST or
 * from other tabs). Works across instances: Socket.IO acks travel through the adapter.
 */
@Injectable()
export class VoiceRelay implements VoiceTabPort {
  private readonly logger = new Logger(VoiceRelay.name);
  private nsp?: AgentNamespace;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly bus: EventBus,
    private readonly peers: Peers,
  ) {
    // A tab on another instance gets its credentials from its own instance: the request names
    // the tab, the password never leaves the instance that owns the socket.
    peers.handle('voice.sendCredentials', async ({ agent, tabId }: { agent: AgentRef; tabId: string }) => {
      await this.sendCredentials(agent, tabId);
      return null;
    });
  }

  attach(nsp: AgentNamespace): void {
    this.nsp = nsp;
  }

  /**
   * The SIP account of the agent, to its voice tab only (never to other tabs or /events), and
   * only when the agent may use the browser and the tab's session is live. Sent on the socket
   * this instance owns; a tab of another instance (`instanceId`) is served by that instance.
   */
  async sendCredentials(agent: AgentRef, tabId: string, instanceId?: string): Promise<void> {
    const config = this.config.domains.agent(agent.domain, agent.ipphone);
    if (!config.allowedDevices.includes(1)) {
      this.logger.warn(`${agent.domain}/${agent.ipphone}: not a browser agent, no SIP account sent`);
      return;
    }
    const socket = this.nsp?.sockets.get(tabId);
    if (!socket) {
      if (instanceId !== undefined && instanceId !== this.peers.instanceId)
        await this.peers.ask(instanceId, 'voice.sendCredentials', { agent, tabId });
      else
        this.logger.warn(
          `${agent.domain}/${agent.ipphone}: voice tab ${tabId} is not here, no SIP account sent`,
        );
      return;
    }
    const auth = (socket.data as { auth?: { ok: boolean; expiresAt?: Date } } | undefined)?.auth;
    if (!auth?.ok || auth.expiresAt === undefined || auth.expiresAt.getTime() <= Date.now()) {
      this.logger.warn(
        `${agent.domain}/${agent.ipphone}: tab ${tabId} has no live session, no SIP account sent`,
      );
      return;
    }
    const domain = this.config.domains.domain(agent.domain);
    // With a secret shared with the PBX, the tab gets credentials that expire (fresh ones on each
    // connection of the voice tab); the permanent password stays here.
    const ephemeral =
      domain.pbx.ephemeralAuth === undefined
        ? undefined
        : ephemeralSipCredentials(
            domain.pbx.ephemeralAuth.secret,
            config.sip.authUser ?? config.sip.user,
            domain.pbx.ephemeralAuth.lifetimeSeconds,
            new Date(),
          );
    await this.bus.publish(
      agent,
      'voice.sip',
      {
        wsUri: domain.pbx.wsUri,
        sipDomain: domain.pbx.sipDomain,
        user: config.sip.user,
        displayName: config.name,
        ...(ephemeral !== undefined
          ? {
              authUser: ephemeral.username,
              password: ephemeral.password,
              expiresAt: ephemeral.expiresAt.toISOString(),
            }
          : {
              password: config.sip.password,
              ...(config.sip.authUser === undefined ? {} : { authUser: config.sip.authUser }),
            }),
        ...(config.sip.realm === undefined ? {} : { realm: config.sip.realm }),
        ...(domain.pbx.iceServers === undefined
          ? {}
          : { iceServers: domain.pbx.iceServers.map((server) => ({ ...server, urls: [...server.urls] })) }),
        ...(domain.pbx.iceTransportPolicy === undefined
          ? {}
          : { iceTransportPolicy: domain.pbx.iceTransportPolicy }),
      },
      { tab: tabId, backends: false },
    );
    this.logger.log(
      `${agent.domain}/${agent.ipphone}: SIP account handed to voice tab ${tabId}` +
        (ephemeral === undefined ? '' : ` (short-lived, until ${ephemeral.expiresAt.toISOString()})`),
    );
  }

  /** Asks a tab to stop its in-page phone; resolves when it has (or after a short deadline). */
  async stop(tabId: string, reason: string): Promise<void> {
    if (!this.nsp) return;
    try {
      await this.nsp.to(tabId).timeout(STOP_TIMEOUT_MS).emitWithAck('voice.stop', { reason });
    } catch (err) {
      // A tab that is gone or frozen cannot answer; its registration ends with its WebSocket.
      this.logger.warn(
        `tab ${tabId} did not confirm stopping its phone (${reason}): ${(err as Error).message}`,
      );
    }
  }

  /** Runs a call command on the voice tab's phone and returns its answer. */
  async command<K extends CommandName>(
    tabId: string,
    name: K,
    payload: CommandPayload<K>,
    timeoutMs = COMMAND_TIMEOUT_MS,
  ): Promise<CommandAck<K>> {
    if (!this.nsp) throw new CallgateError('DEVICE_NOT_AVAILABLE', 'no voice tab');
    let answers: CommandAck<K>[];
    try {
      answers = await this.nsp.to(tabId).timeout(timeoutMs).emitWithAck('voice.command', { name, payload });
    } catch (err) {
      this.logger.warn(`voice tab ${tabId} did not answer ${name}: ${(err as Error).message}`);
      throw new CallgateError('DEVICE_NOT_AVAILABLE', 'the voice tab did not answer');
    }
    const answer = answers[0];
    if (!answer) throw new CallgateError('DEVICE_NOT_AVAILABLE', 'the voice tab is gone');
    return answer;
  }

  /**
   * Asks the voice tab's phone to REFER its customer to `request.target`; resolves with the
   * REFER's outcome (the customer's new call answered, or failed), waiting at most `timeoutMs`.
   */
  async transfer(
    tabId: string,
    request: VoiceTransferRequest,
    timeoutMs: number,
  ): Promise<VoiceTransferAnswer> {
    if (!this.nsp) throw new CallgateError('DEVICE_NOT_AVAILABLE', 'no voice tab');
    let answers: VoiceTransferAnswer[];
    try {
      answers = await this.nsp.to(tabId).timeout(timeoutMs).emitWithAck('voice.transfer', request);
    } catch (err) {
      this.logger.warn(`voice tab ${tabId} did not answer the transfer: ${(err as Error).message}`);
      return { ok: false, code: 'TRANSFER_CALL_FAILED', message: 'the voice tab did not answer' };
    }
    return answers[0] ?? { ok: false, code: 'TRANSFER_CALL_FAILED', message: 'the voice tab is gone' };
  }
}
