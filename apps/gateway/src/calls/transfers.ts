import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Coordination } from '@callgate/coordination';
import {
  BrowserCalls,
  type CallEventsPort,
  type TransferLedger,
  Transfers,
  type VoiceTabPort,
} from '@callgate/calls';
import type { GatewayConfig } from '../config.js';
import { CALL_EVENTS, COORDINATION, GATEWAY_CONFIG, TRANSFER_LEDGER, VOICE_TAB } from '../tokens.js';
import { CallEngine } from './call-engine.service.js';
import { Peers } from '../infra/peers.js';
import { DialGuard } from '../security/dial-guard.js';

/**
 * Transfers (3C `csTransferCallAgent`, `csTransferCallAcd`, `transferSurvey`,
 * `responseTransferAgent`) as a Nest provider: libs/calls' `Transfers` (transfers.ts there holds
 * the logic), composed with this gateway's ports, its peers answering the routes other instances
 * forward, and its timers stopped with the app.
 */
@Injectable()
export class TransferService implements OnApplicationShutdown {
  /** the transfer commands (`toAgent`, `toQueue`, `toSurvey`, `respond`), called as they are */
  readonly transfers: Transfers;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Inject(COORDINATION) coordination: Coordination,
    @Inject(CALL_EVENTS) events: CallEventsPort,
    calls: CallEngine,
    browser: BrowserCalls,
    @Inject(VOICE_TAB) voiceTabs: VoiceTabPort,
    peers: Peers,
    dial: DialGuard,
    @Inject(TRANSFER_LEDGER) ledger: TransferLedger,
  ) {
    this.transfers = new Transfers({
      domains: config.domains,
      stores: coordination,
      events,
      location: calls.location,
      peers,
      lines: calls,
      browser,
      voiceTabs,
      checkDial: (agent, purpose, number, command) => dial.check(agent, purpose, number, command),
      ledger,
      logger: new Logger(TransferService.name),
      ringTimeoutMs: config.ringTimeoutMs,
      transferTimeoutMs: config.transferTimeoutMs,
    });
    for (const [route, handler] of Object.entries(this.transfers.forwarded)) peers.handle(route, handler);
  }

  onApplicationShutdown(): void {
    this.transfers.close();
  }
}
