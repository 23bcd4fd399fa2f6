/**
 * libs/calls: the gateway's call logic without a framework — server-side lines and calls, the
 * browser-mode call books, transfers — behind three ports (SIP, call events, agent location).
 * No Nest, JsSIP, Redis or Socket.IO imports: apps/gateway composes it with its adapters.
 */
export type * from './ports.js';
export {
  assertedIdentity,
  CallNotAnsweredError,
  ServerCall,
  type CallPublisher,
  type HandOverOptions,
  type HandOverResult,
  type ServerCallDeps,
} from './server-call.js';
export {
  deviceTargetOf,
  LineBusyError,
  REGISTER_BACKOFF,
  registrationReason,
  ServerLine,
  type ServerLineDeps,
} from './server-line.js';
export { TransferRelay, type TransferRelayParts } from './transfer-relay.js';
export { TransferLedger, type TransferLeg } from './transfer-ledger.js';
export {
  decodeLeasedTransfer,
  TransferLeaseKeeper,
  type KeeperLogger,
  type LeasedTransfer,
  type TakeoverHooks,
} from './transfer-leases.js';
export { surveyDestination, surveyTarget, uriUser, type SurveyTarget } from './survey-transfer.js';
export { defaultAgentState } from './agent-defaults.js';
export {
  notAnsweredStatus,
  ReBridgeMover,
  ReferMover,
  type CustomerMover,
  type MoveOutcome,
  type MoveRequest,
} from './customer-mover.js';
export { transferFailedData, type TransferFailedFacts } from './transfer-events.js';
export {
  callCommandTable,
  lineCommands,
  runLineCommand,
  type CallCommandTable,
  type LineCommandContext,
} from './line-commands.js';
export { BrowserCalls, type BrowserCallsDeps } from './browser-calls.js';
export {
  HANDOVERS_PER_TICK,
  nextLeaseState,
  Ownership,
  type LeaseEvent,
  type LeaseState,
  type OwnedLine,
  type OwnershipDeps,
  type OwnershipStore,
} from './ownership.js';
export {
  Transfers,
  type Forwarded,
  type TransferDirectory,
  type TransferLines,
  type TransferRoute,
  type TransfersDeps,
  type TransferStores,
} from './transfers.js';
export { KeyedQueue } from './keyed-queue.js';
