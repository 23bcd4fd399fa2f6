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
 * The classic script (`/embed/callgate.js`) installs the same `connect` as `window.callgate`,
 * the 3C global functions and the JS-PHONE ones. A module page can install a facade itself:
 *
 * ```ts
 * import { installJsPhone } from 'https://gateway.example.com/embed/callgate.mjs';
 * const phone = installJsPhone(window, { gatewayUrl, credentials: () => ({ domain: 'demo', token }) });
 * await onRegister();
 * ```
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
  JS_PHONE_ELEMENT_IDS,
  JS_PHONE_FUNCTION_NAMES,
  JS_PHONE_STORAGE_KEY,
  JsPhoneFacade,
  installJsPhone,
  type JsPhoneClient,
  type JsPhoneFunctions,
  type JsPhoneOptions,
  type JsPhoneSettings,
  type RegisterResult,
} from './js-phone.js';
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
  threeCCallStatus,
  DEFAULT_TOTAL_RETRY,
  type ThreeCCallStatus,
  type ThreeCTransferAgent,
  type ThreeCTransferRequest,
  type ThreeCTransferInfo,
  type ThreeCCalloutService,
} from './three-c.js';
export {
  AudioElementTone,
  TONE_CADENCES,
  TONE_SAMPLE_RATE,
  toneUrl,
  toneWav,
  type AudioElementToneOptions,
  type ToneElement,
  type ToneKind,
  type TonePlayer,
} from './tones.js';
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
