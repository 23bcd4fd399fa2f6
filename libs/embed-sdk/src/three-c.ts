import {
  isDeviceType,
  type AgentSummary,
  type CallStatus,
  type CommandName,
  type CommandPayload,
  type DeviceType,
  type EventDataMap,
} from '@callgate/contracts';
import { connect, type CallgateClient, type CommandAnswer, type ConnectOptions } from './client.js';

/**
 * The callbacks a 3C page may define as globals (function declarations or `window` properties;
 * a top-level `let`/`const` is not visible to the SDK). Every one is optional: the SDK calls the
 * ones that exist, skips the others, and reports one that throws with `console.error`.
 */
export interface ThreeCCallbacks {
  csInitComplete(): void;
  csInitError(errorCode: string): void;
  csShowEnableVoice(isEnable: boolean): void;
  csShowCallStatus(status: ThreeCCallStatus): void;
  csShowDeviceType(type: DeviceType): void;
  csListTransferAgent(listTransferAgent: ThreeCTransferAgent[]): void;
  csCallRinging(phone: string): void;
  csCurrentCallId(callId: string): void;
  csCallRingingAgent(): void;
  showCalloutInfo(number: string): void;
  showCalloutError(errorCode: string, sipCode: number | undefined): void;
  csAcceptCall(): void;
  csCustomerAccept(): void;
  csHoldCall(): void;
  csUnHoldCall(): void;
  csMuteCall(): void;
  csUnMuteCall(): void;
  csEndCall(): void;
  csNewCallTransferRequest(transferCall: ThreeCTransferRequest): void;
  csTransferCallResponse(status: 'OK' | 'NOK'): void;
  csTransferCallSuccess(tranferedAgentInfo: ThreeCTransferInfo | null): void;
  csTransferCallError(error: string, tranferedAgentInfo: ThreeCTransferInfo | null): void;
  /**
   * callgate's addition, on the target's side: the request of `csNewCallTransferRequest` is over
   * (`accepted`, `rejected`, or `failed` with the reason: lapsed, withdrawn because the customer
   * hung up, ...), so the page can close it.
   */
  csTransferRequestClosed(
    transferId: string,
    outcome: 'accepted' | 'rejected' | 'failed',
    reason?: string,
  ): void;
  csOndisconnected(): void;
  csNotifyReconnecting(retryNo: number, totalRetry: number): void;
  /** The answer to `transferSurvey`: `'OK'`, or the refusal's code. */
  csTransferSurveyResponse(status: string): void;
}

/** The call status as 3C pages compare it (`status == 'Online'`). */
export type ThreeCCallStatus = 'Online' | 'Offline' | 'No Answer';

/** What `csShowCallStatus` gets for callgate's call status. */
export function threeCCallStatus(status: CallStatus): ThreeCCallStatus {
  return status === 'on' ? 'Online' : status === 'noAnswer' ? 'No Answer' : 'Offline';
}

/** An item of `csListTransferAgent`: callgate's summary plus 3C's `ipPhone` and `userName`. */
export type ThreeCTransferAgent = AgentSummary & { ipPhone: string; userName: string };

/** `csNewCallTransferRequest`'s argument: callgate's request plus 3C's `newAgentId` (the target). */
export type ThreeCTransferRequest = EventDataMap['transfer.request'] & { newAgentId: string };

/**
 * `csTransferCallSuccess` / `csTransferCallError`'s info: 3C's `{superAgent, ipphone}` (the agent
 * who transferred, the target's extension), with callgate's agent summary or queue id.
 */
export type ThreeCTransferInfo = { superAgent: string; ipphone: string } & (Partial<AgentSummary> & {
  queueId?: string;
});

/** A callout service (hotline) as `csVoice.getCalloutServices()` lists it. */
export interface ThreeCCalloutService {
  callout_id: string;
  descriptions: string;
  is_default: boolean;
}

/** The call callbacks, fired only in the tab that holds voice (as the vendor does). */
const VOICE_TAB_CALLBACKS: ReadonlySet<keyof ThreeCCallbacks> = new Set([
  'csCallRinging',
  'csCurrentCallId',
  'csCallRingingAgent',
  'csAcceptCall',
  'csCustomerAccept',
  'csHoldCall',
  'csUnHoldCall',
  'csMuteCall',
  'csUnMuteCall',
  'csEndCall',
]);

export const THREE_C_CALLBACK_NAMES = [
  'csInitComplete',
  'csInitError',
  'csShowEnableVoice',
  'csShowCallStatus',
  'csShowDeviceType',
  'csListTransferAgent',
  'csCallRinging',
  'csCurrentCallId',
  'csCallRingingAgent',
  'showCalloutInfo',
  'showCalloutError',
  'csAcceptCall',
  'csCustomerAccept',
  'csHoldCall',
  'csUnHoldCall',
  'csMuteCall',
  'csUnMuteCall',
  'csEndCall',
  'csNewCallTransferRequest',
  'csTransferCallResponse',
  'csTransferCallSuccess',
  'csTransferCallError',
  'csTransferRequestClosed',
  'csOndisconnected',
  'csNotifyReconnecting',
  'csTransferSurveyResponse',
] as const satisfies readonly (keyof ThreeCCallbacks)[];

/** What `csInit` resolves to (it never rejects). */
export type InitResult =
  { ok: true; session: EventDataMap['session.ready'] } | { ok: false; code: string; message: string };

/**
 * The 3C functions installed on `window`. Each sends its command and resolves to the answer
 * (never rejects); a refusal is also logged with `console.warn` and its code.
 */
export interface ThreeCFunctions {
  csInit(token: string, domain: string): Promise<InitResult>;
  csEnableCall(): Promise<CommandAnswer<'voice.enable'>>;
  changeCallStatus(): Promise<CommandAnswer<'agent.toggleCallStatus'>>;
  changeDevice(type: number | string, mobile?: string): Promise<CommandAnswer<'agent.setDevice'>>;
  reConfigDeviceType(): Promise<CommandAnswer<'agent.resetDevice'>>;
  getTransferAgent(): Promise<CommandAnswer<'transfer.listAgents'>>;
  csUnregister(): Promise<CommandAnswer<'session.unregister'>>;
  /** Calls out; `showCalloutInfo(number)` fires at once, a refusal as `showCalloutError(code)`. */
  csCallout(number: string, serviceId?: string | number): Promise<CommandAnswer<'call.dial'>>;
  onAcceptCall(): Promise<CommandAnswer<'call.answer'>>;
  endCall(): Promise<CommandAnswer<'call.hangup'>>;
  holdCall(): Promise<CommandAnswer<'call.toggleHold'>>;
  muteCall(): Promise<CommandAnswer<'call.toggleMute'>>;
  csTransferCallAgent(ipphone: string): Promise<CommandAnswer<'transfer.toAgent'>>;
  csTransferCallAcd(queueId: string | number): Promise<CommandAnswer<'transfer.toQueue'>>;
  /** `action` 1 accepts, 0 refuses (3C); `true`/`false` also work. */
  responseTransferAgent(action: number | string | boolean): Promise<CommandAnswer<'transfer.respond'>>;
  /**
   * 3C's survey hand-over: the customer goes to the survey IVR `id` of the domain's `surveys`.
   * Answered `csTransferSurveyResponse('OK')` once the move started, else with the refusal's code:
   * `INVALID_PAYLOAD` for a page-given SIP URI (never dialled: surveys are the domain's) or no id,
   * `UNKNOWN_SURVEY` for an id the domain does not list, `NOT_IN_A_CALL`...
   */
  transferSurvey(survey?: {
    id?: unknown;
    sipurl?: unknown;
  }): Promise<CommandAnswer<'transfer.toSurvey'> | ClientFailureLike>;
  /** The current call's id, or `''`. */
  getCurrentCallId(): string;
  isCsHasCall(): boolean;
  isCsCallout(): boolean;
  /** This agent's extension (`ipphone`), once `csInit` succeeded; `''` before. */
  getExtension(): string;
  /** The default callout service's id (the hotline callouts present), or `''`. */
  getHotline(): string;
}

/** A refusal decided in the page. */
export interface ClientFailureLike {
  ok: false;
  code: string;
  message: string;
}

/** Why the vendor's device type 8 is refused. */
const UNSUPPORTED_DEVICES: Readonly<Record<number, string>> = {
  8: "device 8 is the vendor's mobile app, which callgate cannot reach: use 3 (the agent's mobile number)",
};

/** `window.csVoice`: the agent's and the call's state as 3C pages read it, kept current. */
export interface ThreeCVoice {
  /** whether this tab holds voice */
  enableVoice: boolean;
  /** the current (or last) call is a callout */
  isCallout: boolean;
  callInfo: {
    /** the customer's number */
    caller: string;
    /** the customer's name when known, else the number */
    callerName: string;
    callId: string;
    direction: 'inbound' | 'outbound' | '';
  };
  deviceType: DeviceType | 0;
  callStatus: ThreeCCallStatus;
  hasCall: boolean;
  isRinging: boolean;
  isAnswering: boolean;
  isMute: boolean;
  isHold: boolean;
  /** the pending transfer request to this agent, or null */
  transferRequest: ThreeCTransferRequest | null;
  /** the domain's callout services (hotlines), for `csCallout(number, serviceId)` */
  getCalloutServices(): ThreeCCalloutService[];
}

type VoiceState = Omit<ThreeCVoice, 'getCalloutServices'>;

function idleCall(): Pick<VoiceState, 'hasCall' | 'isRinging' | 'isAnswering' | 'isMute' | 'isHold'> {
  return { hasCall: false, isRinging: false, isAnswering: false, isMute: false, isHold: false };
}

/** The part of a client the facade uses (a `CallgateClient`, or a fake in unit tests). */
export type ThreeCClient = Pick<CallgateClient, 'on' | 'command' | 'close'>;

export interface ThreeCOptions {
  /** The gateway's base URL, or a function asked at each `csInit` (undefined: not known). */
  gatewayUrl: string | (() => string | undefined);
  /** Opens the connection; `connect` of the SDK by default. */
  connect?: (options: ConnectOptions) => ThreeCClient;
  /**
   * Reconnection attempts announced with `csNotifyReconnecting(n, totalRetry)` before
   * `csOndisconnected()` fires (once); the client keeps trying after that. Default 20, as the vendor.
   */
  totalRetry?: number;
}

/** The vendor's number of reconnection attempts. */
export const DEFAULT_TOTAL_RETRY = 20;

/** Commands that act on the voice tab's calls carry its fencing token while it holds voice. */
type FencedCommand =
  | 'call.dial'
  | 'call.answer'
  | 'call.hangup'
  | 'call.toggleHold'
  | 'call.toggleMute'
  | 'transfer.toAgent'
  | 'transfer.toQueue'
  | 'transfer.toSurvey';

const LOG = '[callgate]';

/** Handshake refusals that may pass by themselves: `csInit` is retried after them. */
const RETRIED_REFUSALS: ReadonlySet<string> = new Set([
  'COORDINATION_UNAVAILABLE',
  'INTERNAL_ERROR',
  'NOT_LOGGED_IN',
  'INSTANCE_UNREACHABLE',
]);

/**
 * The 3C facade: turns the 3C functions into commands and the gateway's events into the 3C
 * callbacks of the page (`host`, normally `window`). One connection at a time: a second
 * `csInit` replaces the first.
 */
export class ThreeCFacade {
  /** The object installed as `host.csVoice`. */
  readonly csVoice: ThreeCVoice = {
    enableVoice: false,
    isCallout: false,
    callInfo: { caller: '', callerName: '', callId: '', direction: '' },
    deviceType: 0,
    callStatus: 'Offline',
    ...idleCall(),
    transferRequest: null,
    getCalloutServices: () => this.calloutServices.map((service) => ({ ...service })),
  };
  private calloutServices: ThreeCCalloutService[] = [];
  private extension = '';
  /** csOndisconnected was fired for the current outage */
  private disconnectedReported = false;
  /** this tab called csCallout and the callout has not settled: it hears its errors */
  private calloutPending = false;
  private client: ThreeCClient | undefined;
  private ready = false;
  private connectErrorReported = false;
  private voiceFence = -1;
  private settleInit: ((result: InitResult) => void) | undefined;
  /** the last `csInit`'s arguments, retried after a refusal that may pass */
  private lastInit: { token: string; domain: string; retries: number } | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Commands sent and not answered yet; `csUnregister` lets them finish before it closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly open: (options: ConnectOptions) => ThreeCClient;

  constructor(
    private readonly host: object,
    private readonly options: ThreeCOptions,
  ) {
    this.open = options.connect ?? connect;
  }

  /** The 3C functions, bound to this facade, as installed on the host. */
  functions(): ThreeCFunctions {
    return {
      csInit: (token, domain) => this.init(token, domain),
      csEnableCall: () => this.enableCall(),
      changeCallStatus: () => this.send('changeCallStatus', 'agent.toggleCallStatus', {}),
      changeDevice: (type, mobile) => this.changeDevice(type, mobile),
      reConfigDeviceType: () => this.send('reConfigDeviceType', 'agent.resetDevice', {}),
      getTransferAgent: () => this.getTransferAgent(),
      csUnregister: () => this.unregister(),
      csCallout: (number, serviceId) => this.callout(number, serviceId),
      onAcceptCall: () => this.sendFenced('onAcceptCall', 'call.answer', {}),
      endCall: () => this.sendFenced('endCall', 'call.hangup', {}),
      holdCall: () => this.sendFenced('holdCall', 'call.toggleHold', {}),
      muteCall: () => this.sendFenced('muteCall', 'call.toggleMute', {}),
      csTransferCallAgent: (ipphone) =>
        this.transferCommand(
          this.sendFenced('csTransferCallAgent', 'transfer.toAgent', {
            ipphone: ipphone === undefined || ipphone === null ? '' : String(ipphone),
          }),
        ),
      csTransferCallAcd: (queueId) =>
        this.transferCommand(
          this.sendFenced('csTransferCallAcd', 'transfer.toQueue', {
            queueId: queueId === undefined || queueId === null ? '' : String(queueId),
          }),
        ),
      responseTransferAgent: (action) =>
        this.send('responseTransferAgent', 'transfer.respond', {
          accept: action === true || action === 1 || action === '1',
        }),
      transferSurvey: (survey) => this.transferSurvey(survey),
      getCurrentCallId: () => (this.csVoice.hasCall ? this.csVoice.callInfo.callId : ''),
      isCsHasCall: () => this.csVoice.hasCall,
      isCsCallout: () => this.csVoice.hasCall && this.csVoice.isCallout,
      getExtension: () => this.extension,
      getHotline: () => this.calloutServices.find((service) => service.is_default)?.callout_id ?? '',
    };
  }

  /**
   * 3C's `csCallout`: `showCalloutInfo(number)` at once (synchronously, before any answer), then
   * every refusal as `showCalloutError(code, sipCode)`, from the command's answer or the events.
   */
  private async callout(number: string, serviceId?: string | number): Promise<CommandAnswer<'call.dial'>> {
    const dialled = String(number);
    this.calloutPending = true;
    this.callback('showCalloutInfo', dialled);
    const payload: CommandPayload<'call.dial'> = { number: dialled };
    if (serviceId !== undefined && serviceId !== null && serviceId !== '') {
      Object.assign(payload, { serviceId: String(serviceId) });
    }
    const answer = await this.sendFenced('csCallout', 'call.dial', payload);
    if (!answer.ok) {
      this.calloutPending = false;
      this.callback('showCalloutError', answer.code, undefined);
    }
    return answer;
  }

  private init(token: string, domain: string, retries = 0): Promise<InitResult> {
    this.clearRetry();
    this.lastInit = { token: String(token), domain: String(domain), retries };
    this.client?.close('REINIT');
    this.client = undefined;
    this.ready = false;
    this.connectErrorReported = false;
    this.settleInit?.({ ok: false, code: 'REINIT', message: 'csInit was called again' });
    this.settleInit = undefined;

    const gatewayUrl =
      typeof this.options.gatewayUrl === 'function' ? this.options.gatewayUrl() : this.options.gatewayUrl;
    if (!gatewayUrl) {
      const message =
        'csInit: the gateway URL is unknown; load callgate.js from the gateway, or set window.CALLGATE_URL or callgate.configure({ gatewayUrl })';
      console.error(LOG, message);
      this.callback('csInitError', 'CONNECT_FAILED');
      return Promise.resolve({ ok: false, code: 'CONNECT_FAILED', message });
    }
    let client: ThreeCClient;
    try {
      client = this.open({ gatewayUrl, domain: String(domain), token: String(token) });
    } catch (error) {
      console.error(LOG, `csInit: could not connect to ${gatewayUrl}`, error);
      this.callback('csInitError', 'CONNECT_FAILED');
      return Promise.resolve({ ok: false, code: 'CONNECT_FAILED', message: String(error) });
    }
    this.client = client;
    const result = new Promise<InitResult>((resolve) => {
      this.settleInit = resolve;
    });
    this.wire(client);
    return result;
  }

  private wire(client: ThreeCClient): void {
    const current = (): boolean => this.client === client;

    client.on('session.ready', ({ data }) => {
      if (!current()) return;
      this.ready = true;
      this.disconnectedReported = false;
      this.extension = data.ipphone;
      const services = (data as { calloutServices?: unknown }).calloutServices;
      if (Array.isArray(services)) this.calloutServices = services.filter(isCalloutService);
      this.setVoice({ deviceType: data.deviceType, callStatus: threeCCallStatus(data.callStatus) });
      this.applyVoice(data.isEnable, data.voiceFence, true);
      this.callback('csShowCallStatus', threeCCallStatus(data.callStatus));
      this.callback('csShowDeviceType', data.deviceType);
      // after every (re)connection, as the vendor's socket fires it after every (re)login
      this.callback('csInitComplete');
      this.settle({ ok: true, session: data });
    });
    client.on('session.error', ({ data }) => {
      if (current()) this.initFailed(data.code, data.message);
    });
    client.on('connection.refused', ({ code, message }) => {
      if (current()) this.initFailed(code, message);
    });
    client.on('connection.error', ({ code, message }) => {
      if (!current() || this.ready || this.connectErrorReported) return;
      // reported once; the client keeps retrying and csInitComplete follows if it gets through
      this.connectErrorReported = true;
      console.warn(LOG, `csInit: cannot reach the gateway (${message}); retrying`);
      this.callback('csInitError', code);
      this.settle({ ok: false, code, message });
    });
    client.on('connection.lost', ({ willRetry }) => {
      if (!current()) return;
      // the gateway frees a disconnected tab's voice lock at once
      this.applyVoice(false);
      if (!willRetry) this.reportDisconnected();
    });
    client.on('connection.retrying', ({ attempt }) => {
      if (!current()) return;
      const total = this.options.totalRetry ?? DEFAULT_TOTAL_RETRY;
      if (attempt <= total) this.callback('csNotifyReconnecting', attempt, total);
      // the vendor gives up here; callgate keeps trying and csInitComplete follows if it gets through
      else this.reportDisconnected();
    });

    client.on('voice.changed', ({ data }) => {
      if (current()) this.applyVoice(data.isEnable, data.fence);
    });
    client.on('agent.callStatus', ({ data }) => {
      if (!current()) return;
      this.setVoice({ callStatus: threeCCallStatus(data.status) });
      this.callback('csShowCallStatus', threeCCallStatus(data.status));
    });
    client.on('agent.device', ({ data }) => {
      if (!current()) return;
      this.setVoice({ deviceType: data.type });
      this.callback('csShowDeviceType', data.type);
    });
    client.on('transfer.agents', ({ data }) => {
      if (current()) this.callback('csListTransferAgent', this.transferList(data.agents));
    });

    // call callbacks: in the voice tab only (see VOICE_TAB_CALLBACKS); csVoice everywhere
    let customerRang = false;
    client.on('call.ringing', ({ data, callId }) => {
      if (!current()) return;
      this.setVoice({
        isCallout: false,
        callInfo: { caller: data.phone, callerName: data.phone, callId: callId ?? '', direction: 'inbound' },
        ...idleCall(),
        hasCall: true,
        isRinging: true,
      });
      this.callback('csCallRinging', data.phone);
      if (callId !== undefined) this.callback('csCurrentCallId', callId);
    });
    client.on('call.agentRinging', () => {
      if (!current()) return;
      this.setVoice({ isRinging: true });
      this.callback('csCallRingingAgent');
    });
    client.on('callout.started', ({ data, callId }) => {
      if (!current()) return;
      customerRang = false;
      this.setVoice({
        isCallout: true,
        callInfo: {
          caller: data.number,
          callerName: data.number,
          callId: callId ?? '',
          direction: 'outbound',
        },
        ...idleCall(),
        hasCall: true,
      });
    });
    const customerRinging = (number: string, callId: string | undefined): void => {
      customerRang = true;
      this.setVoice({ isRinging: true });
      if (callId !== undefined) this.callback('csCurrentCallId', callId);
      this.callback('csCallRinging', number);
    };
    client.on('callout.customerRinging', ({ data, callId }) => {
      if (current() && !customerRang) customerRinging(data.number, callId);
    });
    client.on('callout.failed', ({ data }) => {
      if (!current()) return;
      if (this.csVoice.enableVoice || this.calloutPending)
        this.callback('showCalloutError', data.errorCode, data.sipCode);
      this.calloutPending = false;
    });
    client.on('call.accepted', () => {
      if (!current()) return;
      this.setVoice({ isRinging: false, isAnswering: true });
      this.callback('csAcceptCall');
    });
    client.on('call.customerAccepted', ({ callId }) => {
      if (!current()) return;
      this.calloutPending = false;
      // a PBX that sent no 180 for the customer: the call panel still opens before the answer
      if (!customerRang) customerRinging(this.csVoice.callInfo.caller, callId);
      this.setVoice({ isRinging: false, isAnswering: true });
      this.callback('csCustomerAccept');
    });
    client.on('call.held', () => {
      if (!current()) return;
      this.setVoice({ isHold: true });
      this.callback('csHoldCall');
    });
    client.on('call.unheld', () => {
      if (!current()) return;
      this.setVoice({ isHold: false });
      this.callback('csUnHoldCall');
    });
    client.on('call.muted', () => {
      if (!current()) return;
      this.setVoice({ isMute: true });
      this.callback('csMuteCall');
    });
    client.on('call.unmuted', () => {
      if (!current()) return;
      this.setVoice({ isMute: false });
      this.callback('csUnMuteCall');
    });
    client.on('call.ended', () => {
      if (!current()) return;
      this.calloutPending = false;
      this.setVoice(idleCall());
      this.callback('csEndCall');
    });
    client.on('transfer.request', ({ data }) => {
      if (!current()) return;
      const request: ThreeCTransferRequest = { ...data, newAgentId: data.to };
      this.setVoice({ transferRequest: request });
      this.callback('csNewCallTransferRequest', request);
    });
    // The target's tabs get copies of transfer.response / transfer.failed (to close their own
    // request); 3C's callbacks for them belong to the transferring agent's side only.
    const mine = (e: { ipphone: string; data: { from?: string } }): boolean =>
      e.data.from === undefined || e.data.from === e.ipphone;
    client.on('transfer.response', (e) => {
      if (!current()) return;
      if (mine(e)) this.callback('csTransferCallResponse', e.data.status);
      else
        this.callback(
          'csTransferRequestClosed',
          e.data.transferId,
          e.data.status === 'OK' ? 'accepted' : 'rejected',
        );
    });
    client.on('transfer.succeeded', (e) => {
      if (!current() || !mine(e)) return;
      // a survey hand-over was answered csTransferSurveyResponse('OK') when it started
      if (e.data.surveyId !== undefined) return;
      this.callback('csTransferCallSuccess', transferInfo(e.ipphone, e.data));
    });
    client.on('transfer.failed', (e) => {
      if (!current()) return;
      if (e.data.surveyId !== undefined) {
        // the move to the survey IVR failed after it started: the customer stays with the agent
        if (mine(e)) this.callback('csTransferSurveyResponse', e.data.error);
        return;
      }
      if (mine(e)) {
        // the vendor answers a request nobody answered NOK by itself: the source hears NOK first
        if (e.data.reason === 'TIMEOUT') this.callback('csTransferCallResponse', 'NOK');
        this.callback('csTransferCallError', e.data.error, transferInfo(e.ipphone, e.data));
      }
      // A refusal after the answer was already announced closes nothing new.
      else if (e.data.transferId !== undefined && e.data.reason !== 'REJECTED')
        this.callback('csTransferRequestClosed', e.data.transferId, 'failed', e.data.reason);
    });
  }

  private initFailed(code: string, message: string): void {
    console.warn(LOG, `session refused: ${code} ${message}`);
    this.applyVoice(false);
    this.callback('csInitError', code);
    this.settle({ ok: false, code, message });
    this.retryLater(code);
  }

  /**
   * A refusal that may pass by itself (the gateway's store down, a CRM token that an older
   * gateway wants logged in first) is retried with the same token, 2 s then doubling up to 30 s,
   * until it succeeds, is refused for good, or the page calls `csInit` again.
   */
  private retryLater(code: string): void {
    const init = this.lastInit;
    if (!init || !RETRIED_REFUSALS.has(code)) return;
    const delay = Math.min(30_000, 2_000 * 2 ** Math.min(init.retries, 4));
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.lastInit !== init) return;
      console.warn(LOG, `csInit: retrying after ${code}`);
      void this.init(init.token, init.domain, init.retries + 1);
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private reportDisconnected(): void {
    if (this.disconnectedReported) return;
    this.disconnectedReported = true;
    this.callback('csOndisconnected');
  }

  /** 3C's transfer list: available agents (online, status on, not this agent), with `ipPhone` and `userName`. */
  private transferList(agents: readonly AgentSummary[]): ThreeCTransferAgent[] {
    return agents
      .filter((agent) => agent.online && agent.callStatus === 'on' && agent.ipphone !== this.extension)
      .map((agent) => ({ ...agent, ipPhone: agent.ipphone, userName: agent.name }));
  }

  /** Updates `csVoice` (and the page's own replacement of it, if any). */
  private setVoice(patch: Partial<VoiceState>): void {
    Object.assign(this.csVoice, patch);
    const installed: unknown = Reflect.get(this.host, 'csVoice');
    if (installed !== this.csVoice && typeof installed === 'object' && installed !== null) {
      Object.assign(installed, patch);
    }
  }

  private settle(result: InitResult): void {
    const settle = this.settleInit;
    this.settleInit = undefined;
    settle?.(result);
  }

  private async enableCall(): Promise<CommandAnswer<'voice.enable'>> {
    const client = this.client;
    const answer = await this.send('csEnableCall', 'voice.enable', {});
    if (answer.ok && this.client === client) this.applyVoice(true, answer.fence);
    return answer;
  }

  /** A refused change tells the page the device that is really active (`csShowDeviceType`). */
  private async changeDevice(
    type: number | string,
    mobile?: string,
  ): Promise<CommandAnswer<'agent.setDevice'>> {
    const deviceType = typeof type === 'string' && type.trim() !== '' ? Number(type) : type;
    if (!isDeviceType(deviceType)) {
      const why = typeof deviceType === 'number' ? UNSUPPORTED_DEVICES[deviceType] : undefined;
      const message = `changeDevice: ${why ?? `the device type must be 1, 2, 3, 4 or 6 (got ${JSON.stringify(type)})`}`;
      console.warn(LOG, `changeDevice refused: INVALID_DEVICE_TYPE ${message}`);
      this.showActualDevice();
      return { ok: false, code: 'INVALID_DEVICE_TYPE', message };
    }
    const payload: CommandPayload<'agent.setDevice'> = { type: deviceType };
    if (mobile !== undefined && mobile !== null) payload.mobile = String(mobile);
    const answer = await this.send('changeDevice', 'agent.setDevice', payload);
    if (!answer.ok) this.showActualDevice();
    return answer;
  }

  private showActualDevice(): void {
    const actual = this.csVoice.deviceType;
    if (actual !== 0) this.callback('csShowDeviceType', actual);
  }

  private async transferSurvey(
    survey: { id?: unknown; sipurl?: unknown } | undefined,
  ): Promise<CommandAnswer<'transfer.toSurvey'> | ClientFailureLike> {
    const given = typeof survey === 'object' && survey !== null ? survey : {};
    const { id, sipurl } = given;
    const refuse = (message: string): ClientFailureLike => {
      const failure: ClientFailureLike = { ok: false, code: 'INVALID_PAYLOAD', message };
      console.warn(LOG, `transferSurvey refused: ${failure.code} ${failure.message}`);
      this.callback('csTransferSurveyResponse', failure.code);
      return failure;
    };
    if (sipurl !== undefined && sipurl !== null && sipurl !== '')
      return refuse(
        'transferSurvey: a SIP URI from the page is never dialled; surveys are configured per domain',
      );
    if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '')
      return refuse('transferSurvey: no survey id was given ({id})');
    const answer = await this.sendFenced('transferSurvey', 'transfer.toSurvey', { surveyId: String(id) });
    this.callback('csTransferSurveyResponse', answer.ok ? 'OK' : answer.code);
    return answer;
  }

  /**
   * A refused transfer command reaches the page as `csTransferCallError(code, null)`, except
   * TRANSFER_CALL_FAILED: the gateway announces that one as `transfer.failed` (with the target's
   * info), which every tab of the agent turns into the callback.
   */
  private async transferCommand<K extends 'transfer.toAgent' | 'transfer.toQueue'>(
    sent: Promise<CommandAnswer<K>>,
  ): Promise<CommandAnswer<K>> {
    const answer = await sent;
    if (!answer.ok && answer.code !== 'TRANSFER_CALL_FAILED')
      this.callback('csTransferCallError', answer.code, null);
    return answer;
  }

  private async getTransferAgent(): Promise<CommandAnswer<'transfer.listAgents'>> {
    const client = this.client;
    const answer = await this.send('getTransferAgent', 'transfer.listAgents', {});
    if (answer.ok && this.client === client)
      this.callback('csListTransferAgent', this.transferList(answer.agents));
    return answer;
  }

  /**
   * Tells the gateway this tab is leaving, then closes the connection. The gateway closes the
   * connection as soon as it answered `session.unregister`, so the commands the page sends right
   * after `csUnregister()` (the 3C unload snippet: `csUnregister(); if (csVoice.enableVoice)
   * reConfigDeviceType();`) and those already in flight go first and get their answers; and
   * `csVoice.enableVoice` keeps its value until the tab is unregistered.
   */
  private async unregister(): Promise<CommandAnswer<'session.unregister'>> {
    this.clearRetry();
    this.lastInit = undefined;
    const client = this.client;
    if (client) {
      await Promise.resolve(); // the rest of the page's synchronous code runs first
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      if (this.client !== client) {
        return {
          ok: false,
          code: 'NOT_CONNECTED',
          message: 'csUnregister: csInit was called again meanwhile',
        };
      }
    }
    const answer = await this.send('csUnregister', 'session.unregister', {});
    if (client && this.client === client) {
      this.client = undefined;
      this.ready = false;
      client.close('UNREGISTERED');
      this.applyVoice(false);
    }
    return answer;
  }

  private sendFenced<K extends FencedCommand>(
    label: keyof ThreeCFunctions,
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandAnswer<K>> {
    const fenced =
      this.csVoice.enableVoice && this.voiceFence >= 0
        ? { ...payload, voiceFence: this.voiceFence }
        : payload;
    return this.send(label, name, fenced);
  }

  private async send<K extends CommandName>(
    label: keyof ThreeCFunctions,
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandAnswer<K>> {
    const client = this.client;
    if (!client) {
      const message = `${label}: not connected; call csInit(token, domain) first`;
      console.warn(LOG, message);
      return { ok: false, code: 'NOT_CONNECTED', message };
    }
    const sent = client.command(name, payload);
    this.inFlight.add(sent);
    try {
      const answer = await sent;
      if (!answer.ok) console.warn(LOG, `${label} refused: ${answer.code} ${answer.message}`);
      return answer;
    } finally {
      this.inFlight.delete(sent);
    }
  }

  /**
   * Sets `csVoice.enableVoice` and tells the page when it changed (or always, for the initial
   * state). Updates carrying a fencing token older than the newest seen are stale and ignored.
   */
  private applyVoice(isEnable: boolean, fence?: number, always = false): void {
    if (fence !== undefined) {
      if (fence < this.voiceFence && !always) return;
      this.voiceFence = Math.max(this.voiceFence, fence);
    }
    const changed = this.csVoice.enableVoice !== isEnable;
    this.csVoice.enableVoice = isEnable;
    const installed: unknown = Reflect.get(this.host, 'csVoice');
    if (installed !== this.csVoice && typeof installed === 'object' && installed !== null) {
      // the page replaced window.csVoice with its own object: keep that one current too
      Reflect.set(installed, 'enableVoice', isEnable);
    }
    if (changed || always) this.callback('csShowEnableVoice', isEnable);
  }

  /** Calls the page's callback `name` when it defines one; reports one that throws or rejects. */
  private callback<K extends keyof ThreeCCallbacks>(name: K, ...args: Parameters<ThreeCCallbacks[K]>): void {
    if (VOICE_TAB_CALLBACKS.has(name) && !this.csVoice.enableVoice) return;
    const fn: unknown = Reflect.get(this.host, name);
    if (typeof fn !== 'function') return;
    try {
      const result: unknown = Reflect.apply(fn, this.host, args);
      if (result instanceof Promise) {
        result.catch((error: unknown) => console.error(LOG, `the page's ${name}() rejected`, error));
      }
    } catch (error) {
      console.error(LOG, `the page's ${name}() threw`, error);
    }
  }
}

/**
 * Installs the 3C functions and `csVoice` on `host` (normally `window`); returns the facade.
 * The page's callbacks are looked up on `host` each time an event arrives, so they may be
 * defined before or after the SDK loads.
 */
export function installThreeC(host: object, options: ThreeCOptions): ThreeCFacade {
  const facade = new ThreeCFacade(host, options);
  Object.assign(host, facade.functions(), { csVoice: facade.csVoice });
  return facade;
}

function isCalloutService(value: unknown): value is ThreeCCalloutService {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.callout_id === 'string' &&
    typeof v.descriptions === 'string' &&
    typeof v.is_default === 'boolean'
  );
}

/** 3C's `{superAgent, ipphone}` for a transfer event, with callgate's agent or queue. */
function transferInfo(
  source: string,
  data: { from?: string; to?: string; agent?: AgentSummary; queueId?: string },
): ThreeCTransferInfo | null {
  const target = data.agent?.ipphone ?? data.to;
  if (target === undefined && data.queueId === undefined) return null;
  return {
    ...(data.agent ?? {}),
    ...(data.queueId !== undefined ? { queueId: data.queueId } : {}),
    superAgent: data.from ?? source,
    ipphone: target ?? `queue:${data.queueId ?? ''}`,
  };
}
