/**
 * The demo CRM's agent desk: plain 3C integration code, as a CRM developer writes it against the
 * 3C documentation (global callbacks + global functions), with types from the SDK.
 */
import type { AgentSummary, DeviceType, EventDataMap } from '@callgate/contracts';
import type {
  ThreeCCallbacks,
  ThreeCCallStatus,
  ThreeCFunctions,
  ThreeCTransferInfo,
  ThreeCVoice,
} from '../../../libs/embed-sdk/src/three-c.js';
import { $, log, showCallState } from './page.js';

declare global {
  interface Window extends Partial<ThreeCCallbacks> {
    DEMO: { token: string; domain: string };
    csVoice?: ThreeCVoice;
  }
}
const cs = window as unknown as Window & ThreeCFunctions;

const setCallState = (text: string, kind: 'idle' | 'ringing' | 'active'): void =>
  showCallState('call-state', text, kind);

function renderAgents(list: AgentSummary[]): void {
  const ul = $('agent-list');
  ul.replaceChildren(
    ...list.map((agent) => {
      const li = document.createElement('li');
      li.dataset.ipphone = agent.ipphone;
      const name = document.createElement('span');
      name.textContent = `${agent.ipphone} · ${agent.name}`;
      const right = document.createElement('span');
      const state = document.createElement('span');
      state.className = `pill ${agent.online ? (agent.callStatus === 'on' ? 'pill-ok' : 'pill-wait') : 'pill-bad'}`;
      state.textContent = agent.online ? (agent.callStatus === 'on' ? 'online' : 'busy/off') : 'offline';
      right.append(state);
      if (agent.ipphone !== myExtension) {
        // 3C csTransferCallAgent: the colleague is asked first (csNewCallTransferRequest on their desk).
        const transfer = document.createElement('button');
        transfer.className = 'ghost small transfer-btn';
        transfer.title = `csTransferCallAgent('${agent.ipphone}')`;
        transfer.textContent = 'Transfer';
        transfer.addEventListener(
          'click',
          () => void cs.csTransferCallAgent(agent.ipphone).then((a) => refused(a, 'csTransferCallAgent')),
        );
        right.append(transfer);
      }
      li.append(name, right);
      return li;
    }),
  );
}

/** A colleague's request to take over a call: Accept / Decline until it lapses. */
let requestTimer: ReturnType<typeof setTimeout> | undefined;
function showTransferRequest(request: EventDataMap['transfer.request']): void {
  const record = customers[request.phone];
  $('transfer-text').textContent =
    `Agent ${request.dropAgentId} wants to hand you ${record ? record.name : request.phone} (${request.phone}).`;
  $('transfer-request').hidden = false;
  clearTimeout(requestTimer);
  requestTimer = setTimeout(hideTransferRequest, Math.max(0, Date.parse(request.expiresAt) - Date.now()));
}
function hideTransferRequest(): void {
  clearTimeout(requestTimer);
  $('transfer-request').hidden = true;
}

interface CustomerRecord {
  name: string;
  company: string;
  tier: string;
  history: { date: string; note: string }[];
}
let customers: Record<string, CustomerRecord> = {};
let myExtension = '';

/** The CRM's own feature: the caller's record pops up as the call rings. */
function showCustomer(phone: string): void {
  const card = $('customer-card');
  const record = customers[phone];
  card.className = 'customer-card ringing';
  const title = document.createElement('h3');
  title.textContent = record ? record.name : 'Unknown caller';
  if (record) {
    const tier = document.createElement('span');
    tier.className = 'tier';
    tier.textContent = record.tier;
    title.append(tier);
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = record ? `${phone} · ${record.company}` : phone;
  const history = document.createElement('ul');
  for (const item of record?.history ?? []) {
    const li = document.createElement('li');
    li.textContent = `${item.date}: ${item.note}`;
    history.append(li);
  }
  if (!record?.history.length) {
    const li = document.createElement('li');
    li.textContent = 'No previous contact';
    history.append(li);
  }
  card.replaceChildren(title, meta, history);
}

// ---- 3C callbacks (the SDK calls the ones a page defines) ----
Object.assign(window, {
  csInitComplete(): void {
    $('conn').className = 'pill pill-ok';
    $('conn').textContent = 'connected';
    log('csInitComplete');
    void cs.getTransferAgent();
  },
  csInitError(code: string): void {
    $('conn').className = 'pill pill-bad';
    $('conn').textContent = code;
    log('csInitError', code, true);
  },
  csShowEnableVoice(isEnable: boolean): void {
    $('voice-btn').classList.toggle('on', isEnable);
    $('voice-label').textContent = isEnable ? 'Voice in this tab' : 'Take voice here';
    log('csShowEnableVoice', String(isEnable));
  },
  csShowCallStatus(status: ThreeCCallStatus): void {
    const btn = $('status-btn');
    btn.textContent =
      status === 'Online' ? 'Calls: On' : status === 'No Answer' ? 'Calls: No answer' : 'Calls: Off';
    btn.className = `pill-btn ${status === 'Online' ? 'on' : 'off'}`;
    log('csShowCallStatus', status);
  },
  csShowDeviceType(type: DeviceType): void {
    $<HTMLSelectElement>('device-select').value = String(type);
    log('csShowDeviceType', String(type));
  },
  csListTransferAgent(list: AgentSummary[]): void {
    renderAgents(list);
    log('csListTransferAgent', `${list.filter((a) => a.online).length} online`);
  },
  csCallRinging(phone: string): void {
    hideTransferRequest();
    setCallState(`Incoming call · ${phone}`, 'ringing');
    showCustomer(phone);
    log('csCallRinging', phone);
  },
  csCurrentCallId(callId: string): void {
    log('csCurrentCallId', callId);
  },
  csCallRingingAgent(): void {
    setCallState('Your device is ringing…', 'ringing');
    log('csCallRingingAgent');
  },
  showCalloutInfo(number: string): void {
    setCallState(`Calling ${number}…`, 'ringing');
    log('showCalloutInfo', number);
  },
  showCalloutError(errorCode: string, sipCode?: number): void {
    setCallState('Idle', 'idle');
    log('showCalloutError', `${errorCode}${sipCode ? ` (SIP ${sipCode})` : ''}`, true);
  },
  csAcceptCall(): void {
    setCallState('In call', 'active');
    log('csAcceptCall');
  },
  csCustomerAccept(): void {
    setCallState('In call', 'active');
    log('csCustomerAccept');
  },
  csHoldCall: (): void => log('csHoldCall'),
  csUnHoldCall: (): void => log('csUnHoldCall'),
  csMuteCall: (): void => log('csMuteCall'),
  csUnMuteCall: (): void => log('csUnMuteCall'),
  csEndCall(): void {
    setCallState('Idle', 'idle');
    $('customer-card').classList.remove('ringing');
    log('csEndCall');
  },
  csNewCallTransferRequest(request: EventDataMap['transfer.request']): void {
    showTransferRequest(request);
    log('csNewCallTransferRequest', `${request.phone} from ${request.dropAgentId}`);
  },
  csTransferCallResponse(status: 'OK' | 'NOK'): void {
    log('csTransferCallResponse', status, status !== 'OK');
  },
  csTransferCallSuccess(info: ThreeCTransferInfo | null): void {
    const to = info?.queueId !== undefined ? `queue ${info.queueId}` : (info?.name ?? info?.ipphone ?? '');
    log('csTransferCallSuccess', `the customer is now with ${to}`);
  },
  csTransferCallError(error: string, info: ThreeCTransferInfo | null): void {
    log('csTransferCallError', `${error}${info ? ` (${info.name ?? info.ipphone})` : ''}`, true);
  },
  csTransferRequestClosed(transferId: string, outcome: string, reason?: string): void {
    hideTransferRequest();
    log('csTransferRequestClosed', `${outcome}${reason ? ` (${reason})` : ''}`);
  },
  csNotifyReconnecting(): void {
    $('conn').className = 'pill pill-wait';
    $('conn').textContent = 'reconnecting';
    log('csNotifyReconnecting');
  },
  csOndisconnected(): void {
    $('conn').className = 'pill pill-bad';
    $('conn').textContent = 'disconnected';
    log('csOndisconnected', '', true);
  },
} satisfies Partial<ThreeCCallbacks>);

// ---- controls: each button calls the 3C function named in its title ----
const refused = (answer: { ok: boolean; code?: string; message?: string }, what: string): void => {
  if (!answer.ok) log(what, `${answer.code ?? ''} ${answer.message ?? ''}`, true);
};
$('voice-btn').addEventListener(
  'click',
  () => void cs.csEnableCall().then((a) => refused(a, 'csEnableCall')),
);
$('status-btn').addEventListener(
  'click',
  () => void cs.changeCallStatus().then((a) => refused(a, 'changeCallStatus')),
);
$('device-select').addEventListener('change', () => {
  const type = $<HTMLSelectElement>('device-select').value;
  const mobile = $<HTMLInputElement>('mobile').value.trim();
  void cs.changeDevice(type, mobile || undefined).then((a) => refused(a, 'changeDevice'));
});
$('reset-device').addEventListener(
  'click',
  () => void cs.reConfigDeviceType().then((a) => refused(a, 'reConfigDeviceType')),
);
$('refresh-agents').addEventListener(
  'click',
  () => void cs.getTransferAgent().then((a) => refused(a, 'getTransferAgent')),
);
$('clear-log').addEventListener('click', () => $('event-log').replaceChildren());
$('dial-btn').addEventListener('click', () => {
  const number = $<HTMLInputElement>('dial-number').value.trim();
  void cs.csCallout(number).then((a) => refused(a, 'csCallout'));
});
$('answer-btn').addEventListener(
  'click',
  () => void cs.onAcceptCall().then((a) => refused(a, 'onAcceptCall')),
);
$('hold-btn').addEventListener('click', () => void cs.holdCall().then((a) => refused(a, 'holdCall')));
$('mute-btn').addEventListener('click', () => void cs.muteCall().then((a) => refused(a, 'muteCall')));
$('hangup-btn').addEventListener('click', () => void cs.endCall().then((a) => refused(a, 'endCall')));
$('queue-btn').addEventListener(
  'click',
  () => void cs.csTransferCallAcd('1').then((a) => refused(a, 'csTransferCallAcd')),
);
$('transfer-accept').addEventListener('click', () => {
  hideTransferRequest();
  void cs.responseTransferAgent(1).then((a) => refused(a, 'responseTransferAgent'));
});
$('transfer-decline').addEventListener('click', () => {
  hideTransferRequest();
  void cs.responseTransferAgent(0).then((a) => refused(a, 'responseTransferAgent'));
});
for (const key of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
  const button = document.createElement('button');
  button.textContent = key;
  button.addEventListener('click', () => {
    $<HTMLInputElement>('dial-number').value += key;
  });
  $('keypad').append(button);
}

// 3C: when leaving, unregister and put the device back to the default (the seed's unload snippet).
window.addEventListener('pagehide', () => {
  void cs.csUnregister();
});

$('simulate-btn').addEventListener('click', () => {
  const from = $<HTMLSelectElement>('simulate-from').value;
  void fetch('/api/simulate-call', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ from, to: myExtension }).toString(),
  }).then((res) => {
    if (!res.ok) log('simulate', `refused: ${res.status}`, true);
    else log('simulate', `${from} calls ${myExtension}`);
  });
});
void fetch('/api/customers')
  .then((res) => res.json() as Promise<Record<string, CustomerRecord>>)
  .then((records) => {
    customers = records;
  });

$('agent-name').textContent = `Agent · ${window.DEMO.domain}`;
void cs.csInit(window.DEMO.token, window.DEMO.domain).then((result) => {
  if (result.ok) {
    myExtension = result.session.ipphone;
    void cs.getTransferAgent();
    $('agent-name').textContent = `${result.session.name} (${result.session.ipphone})`;
  }
});
