/**
 * The demo CRM's JS-PHONE page: integration code as written against the Alohub JS-PHONE
 * documentation (the seed's element ids and functions), with the session token from the CRM server.
 */
import type { AnyEventEnvelope, EventType } from '@callgate/contracts';

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

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
};

function log(name: string, detail: string): void {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  const text = document.createElement('span');
  text.textContent = detail;
  li.append(time, label, text);
  $('event-log').prepend(li);
}

const state = (text: string, kind: 'idle' | 'ringing' | 'active'): void => {
  $('jp-call').textContent = text;
  $('jp-call').className = `call-state ${kind}`;
};

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
