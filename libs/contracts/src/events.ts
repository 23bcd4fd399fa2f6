/** Device types, as numbered by 3C. */
export const DeviceTypes = {
  /** the browser tab that holds voice is the phone (WebRTC) */
  Browser: 1,
  /** an IP phone, reached only while the agent has a live session */
  IpPhoneWhileLoggedIn: 2,
  /** the agent's mobile, through the PBX's mobile prefix */
  Mobile: 3,
  /** an IP phone, always reachable */
  IpPhoneAlways: 4,
  /** the vendor's softphone: its own SIP URI per agent, always reachable (as type 4) */
  Softphone: 6,
} as const;
export type DeviceType = (typeof DeviceTypes)[keyof typeof DeviceTypes];

export function isDeviceType(value: unknown): value is DeviceType {
  return value === 1 || value === 2 || value === 3 || value === 4 || value === 6;
}

/**
 * `noAnswer`: the agent let a distributed call ring out unanswered and gets no calls until it
 * changes its status (3C `'No Answer'`; `changeCallStatus()` goes back to `on`).
 */
export type CallStatus = 'on' | 'off' | 'noAnswer';

/** One agent of a domain, as listed for transfers (`csListTransferAgent`). */
export interface AgentSummary {
  ipphone: string;
  name: string;
  online: boolean;
  callStatus: CallStatus;
  /** number of live tabs across all gateway instances */
  tabs: number;
}

/**
 * What every transfer event carries so a CRM can follow the customer across agents: the transfer,
 * the customer call's id (kept through every transfer: the first agent's `callId`), the source
 * agent and the target (an agent's extension, or `queue:<id>`). Transfer events are published to
 * the source agent (and /events); the target agent's tabs receive `transfer.request`, and copies of
 * `transfer.response` / `transfer.failed` without /events, so their UI can follow (`from` tells
 * the two sides apart: the source is the agent whose `ipphone` equals `from`).
 */
export interface TransferIds {
  transferId: string;
  customerCallId: string;
  from: string;
  to: string;
}

/** Why a transfer failed, beyond its 3C code. */
export const TransferFailureReasons = [
  'TARGET_UNKNOWN',
  'TARGET_IS_SOURCE',
  'TARGET_OFFLINE',
  'TARGET_OFF',
  'TARGET_BUSY',
  'TARGET_UNAVAILABLE',
  'UNKNOWN_QUEUE',
  'ALREADY_TRANSFERRING',
  'REJECTED',
  'TIMEOUT',
  'CALL_ENDED',
  'NOT_ANSWERED',
  'SIP_FAILED',
] as const;
export type TransferFailureReason = (typeof TransferFailureReasons)[number];

/** The `data` of each event type. */
/**
 * A server-side call (devices 2, 3, 4): where its audio flows. `direct`: between the agent's device
 * and the customer (or the PBX's relay), never through the gateway; `bridge`: through the gateway.
 * `reason` says why, e.g. the device refused the customer's media (488) and the call was bridged.
 */
export interface CallMediaPath {
  path: 'direct' | 'bridge';
  reason: string;
}

export interface EventDataMap {
  'session.ready': {
    domain: string;
    ipphone: string;
    name: string;
    deviceType: DeviceType;
    mobile?: string;
    callStatus: CallStatus;
    /** whether this tab holds voice (`csVoice.enableVoice`) */
    isEnable: boolean;
    /** the fencing token of this tab's voice lock when it holds voice */
    voiceFence?: number;
    /** the agent's other live tabs, on any instance */
    otherTabs: number;
    /** a session token to reconnect with (when the tab connected with a CRM token) */
    sessionToken: string;
    /**
     * Reconnecting with `lastEventId`: how many missed events (after it) were sent just before
     * this snapshot, besides those of a few seconds before it sent again (drop the ids you have),
     * or `resync` when the log no longer holds them all (rely on this snapshot alone).
     */
    resumed?: { replayed: number } | { resync: true };
    /** the domain's callout services (hotlines), as 3C's `csVoice.getCalloutServices()` lists them */
    calloutServices?: { callout_id: string; descriptions: string; is_default: boolean }[];
  };
  /** To a CRM backend on /events that resumed too late: events were lost to it; fetch state afresh. */
  'events.resync': { afterId: string };
  'session.error': { code: string; message: string };
  'voice.changed': { isEnable: boolean; fence: number };
  /**
   * To the voice tab of a browser-mode agent only (never to other tabs or backends): the SIP
   * account its in-page phone registers with.
   */
  'voice.sip': {
    wsUri: string;
    sipDomain: string;
    user: string;
    password: string;
    displayName: string;
    /** the digest user name, when the PBX's auth ID is not `user` */
    authUser?: string;
    /** the digest realm to answer, when pinned in the domains file */
    realm?: string;
    /** STUN/TURN servers for the in-page phone's peer connections (`pbx.iceServers`) */
    iceServers?: SipIceServer[];
    /** `relay`: media only through TURN (`pbx.iceTransportPolicy`) */
    iceTransportPolicy?: 'all' | 'relay';
    /**
     * Short-lived credentials (`pbx.ephemeralAuth`): when the PBX stops accepting them (ISO 8601).
     * `authUser` is then `<expiry>:<user>` and `password` is derived, not the account's password.
     */
    expiresAt?: string;
  };
  'agent.callStatus': { status: CallStatus };
  'agent.device': { type: DeviceType; mobile?: string };
  'transfer.agents': { agents: AgentSummary[] };
  'call.ringing': {
    phone: string;
    /**
     * A call transferred to this agent: the id the customer's call has kept since its first agent
     * (that agent's `callId`), and who transferred it. Absent on an ordinary inbound call, whose
     * own `callId` is the customer call's id.
     */
    customerCallId?: string;
    transferId?: string;
    transferredFrom?: string;
    /** the caller id as the PBX sent it (escaped, bounded), when `phone` is its normalised form */
    callerDisplay?: string;
  };
  'call.agentRinging': Record<string, never>;
  'callout.started': { number: string; transactionId?: string };
  'callout.failed': { errorCode: string; sipCode?: number; transactionId?: string };
  'call.accepted': { media?: CallMediaPath };
  'call.customerAccepted': { media?: CallMediaPath };
  'call.held': Record<string, never>;
  'call.unheld': Record<string, never>;
  'call.muted': Record<string, never>;
  'call.unmuted': Record<string, never>;
  'call.ended': { cause: string; by?: 'customer' | 'agent' | 'system'; duration?: number };
  /** To the target's tabs: a colleague asks to hand over a call (`csNewCallTransferRequest`). */
  'transfer.request': TransferIds & {
    /** the transferring agent's call */
    callId: string;
    /** the customer's number */
    phone: string;
    /** the transferring agent (3C's name) */
    dropAgentId: string;
    /** when the request lapses unanswered (ISO-8601) */
    expiresAt: string;
  };
  /** The target accepted (`OK`) or refused (`NOK`) (`csTransferCallResponse`, on the source's side). */
  'transfer.response': TransferIds & { status: 'OK' | 'NOK'; callId: string };
  /** The customer now talks to the target agent or the queue (`csTransferCallSuccess`). */
  'transfer.succeeded': TransferIds & {
    callId: string;
    agent?: AgentSummary;
    queueId?: string;
    /** a survey transfer (3C `transferSurvey`): the survey's id */
    surveyId?: string;
  };
  /**
   * The transfer did not happen (`csTransferCallError(error, agent)`); the customer stays with the
   * source agent. `error` is a 3C transfer code, `reason` says why in more detail.
   */
  'transfer.failed': Partial<TransferIds> & {
    error: string;
    reason?: TransferFailureReason;
    callId?: string;
    agent?: AgentSummary;
    queueId?: string;
    surveyId?: string;
    /** the final SIP status of the failed move, when there was one */
    sipCode?: number;
  };
  /**
   * The agent's SIP registration with the PBX changed (the gateway's line in device modes 2-4):
   * `failed` carries why (`reason`, e.g. a 401 for a wrong password) and when the gateway tries
   * again (`retryInMs`, growing after each failure); `registered` once it works again.
   */
  'agent.sip': SipRegistrationView;
  /**
   * Audit trail (DESIGN.md §11): a command refused by the dial policy or a quota. `number` is the
   * refused dial target (digits), `purpose` what it was for.
   */
  'security.refused': {
    code: 'DIAL_NOT_ALLOWED' | 'RATE_LIMITED' | 'TOO_MANY_TABS';
    command?: string;
    purpose?: 'callout' | 'mobile' | 'transfer' | 'queue';
    number?: string;
    reason: string;
  };
  /**
   * On a callout, the customer's phone rings (the PBX answered 180/183 on the customer's leg):
   * 3C's `csCurrentCallId` + `csCallRinging(number)` on the outbound side, in every device mode.
   */
  'callout.customerRinging': { number: string; transactionId?: string };
}

/** A STUN or TURN server, as RTCPeerConnection takes it. */
export interface SipIceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** The states of an agent's SIP registration as the gateway reports them. */
export type SipRegistrationState = 'registering' | 'registered' | 'failed' | 'disconnected';

/** An agent's SIP registration (`agent.sip`, and `sip` of GET /v1/{domain}/agents/{ipphone}). */
export interface SipRegistrationView {
  state: SipRegistrationState;
  /** why it is not registered, for people (e.g. `authentication failed (401): check the password`) */
  reason?: string;
  /** the PBX's answer to the last REGISTER, when it answered */
  statusCode?: number;
  /** REGISTERs that failed in a row */
  failures?: number;
  /** when the gateway sends the next REGISTER by itself */
  retryInMs?: number;
}

export type EventType = keyof EventDataMap;

export const EventTypes = [
  'session.ready',
  'session.error',
  'events.resync',
  'voice.changed',
  'voice.sip',
  'agent.callStatus',
  'agent.device',
  'transfer.agents',
  'call.ringing',
  'call.agentRinging',
  'callout.started',
  'callout.failed',
  'call.accepted',
  'call.customerAccepted',
  'call.held',
  'call.unheld',
  'call.muted',
  'call.unmuted',
  'call.ended',
  'transfer.request',
  'transfer.response',
  'transfer.succeeded',
  'transfer.failed',
  'agent.sip',
  'security.refused',
  'callout.customerRinging',
] as const satisfies readonly EventType[];

/** Every event travels in this envelope; `id` only grows within a domain. */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  domain: string;
  ipphone: string;
  /** the call this event is about: one id per agent call */
  callId?: string;
  /** the CRM's own id of a call it started (REST/JS-PHONE `transactionId`) */
  transactionId?: string;
  /** ISO-8601 time the gateway produced the event */
  at: string;
  data: EventDataMap[T];
}

/** Any envelope, discriminated by `type`. */
export type AnyEventEnvelope = { [K in EventType]: EventEnvelope<K> }[EventType];

/** The call events a browser-mode voice tab reports to the gateway (`call.report`). */
export const ReportableCallEvents = [
  'call.ringing',
  'callout.started',
  'callout.failed',
  'call.accepted',
  'call.customerAccepted',
  'call.held',
  'call.unheld',
  'call.muted',
  'call.unmuted',
  'call.ended',
  'callout.customerRinging',
] as const satisfies readonly EventType[];
export type ReportableCallEvent = (typeof ReportableCallEvents)[number];

/** Orders two event ids (`<ms>-<seq>`): negative, 0 or positive. */
export function compareEventIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map((x) => BigInt(x));
  const [bm = 0n, bs = 0n] = b.split('-').map((x) => BigInt(x));
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

export const EVENT_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;
