/**
 * The demo CRM's JS-PHONE page: integration code as written against the Alohub JS-PHONE
 * documentation (the seed's element ids and functions), with the session token from the CRM server.
 */
import type { AnyEventEnvelope, EventType } from '@callgate/contracts';
import { $, log, showCallState } from './page.js';

interface CallgateGlobal {
  configure(options: { domain: string; token: string }): void;
  on(type: EventType, handler: (event: AnyEventEnvelope) => void): () => void;
}
interface JsPhoneWindow {
  DEMO: { token: string; domain: string };
  callgate: CallgateGlobal;
  onRegister(): Promise<{ ok: boolean; code?: string }>;
}
const w = window as unknown as JsPhoneWindow;

const state = (text: string, kind: 'idle' | 'ringing' | 'active'): void =>
  showCallState('jp-call', text, kind);

w.callgate.configure({ domain: w.DEMO.domain, token: w.DEMO.token });
const shown: EventType[] = [
  'call.ringing',
  'callout.started',
  'callout.failed',
  'call.accepted',
  'call.customerAccepted',
  'call.ended',
];
for (const type of shown) {
  w.callgate.on(type, (event) => {
    log(event.type, JSON.stringify(event.data));
    switch (event.type) {
      case 'call.ringing':
        state(`Incoming call · ${event.data.phone}`, 'ringing');
        break;
      case 'callout.started':
        state(`Calling ${event.data.number}…`, 'ringing');
        break;
      case 'call.accepted':
      case 'call.customerAccepted':
        state('In call', 'active');
        break;
      case 'callout.failed':
      case 'call.ended':
        state('Idle', 'idle');
        break;
      default:
        break;
    }
  });
}
void w.onRegister().then((result) => {
  $('jp-status').textContent = result.ok ? 'registered' : `refused: ${result.code ?? ''}`;
  $('jp-status').className = `pill ${result.ok ? 'pill-ok' : 'pill-bad'}`;
});
