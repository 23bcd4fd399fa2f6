/**
 * callgate embed SDK, ESM API (`/embed/callgate.mjs`):
 *
 * ```ts
 * import { connect } from 'https://gateway.example.com/embed/callgate.mjs';
 * const client = connect({ gatewayUrl: 'https://gateway.example.com', domain: 'demo', token });
 * client.on('call.ringing', (event) => showCustomer(event.data.phone));
 * const answer = await client.command('call.dial', { number: '0912345678' });
 * ```
 *
 * The classic script (`/embed/callgate.js`) installs the same `connect` as `window.callgate`
 * and the 3C global functions.
 */
export {
  CallgateClient,
  DEFAULT_COMMAND_TIMEOUT_MS,
  connect,
  socketTarget,
  type ClientEventMap,
  type ClientFailure,
  type ClientFailureCode,
  type CommandAnswer,
  type ConnectOptions,
  type ConnectionEventMap,
  type EnvelopeEventMap,
} from './client.js';
export { TypedEmitter, type Listener } from './emitter.js';
export { gatewayUrlFromScriptSrc } from './gateway-url.js';
export {
  THREE_C_CALLBACK_NAMES,
  ThreeCFacade,
  installThreeC,
  type InitResult,
  type ThreeCCallbacks,
  type ThreeCClient,
  type ThreeCFunctions,
  type ThreeCOptions,
  type ThreeCVoice,
} from './three-c.js';
export { VERSION } from './version.js';
export type {
  AgentSummary,
  CallStatus,
  CommandAck,
  CommandName,
  CommandPayload,
  CommandResult,
  DeviceType,
  ErrorCode,
  EventDataMap,
  EventEnvelope,
  EventType,
} from '@callgate/contracts';
