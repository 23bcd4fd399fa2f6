/**
 * The types of the typed facade over JsSIP 3.13 (see jssip.ts): what the JavaScript actually does,
 * as libs/sip uses it. Types only, no import of JsSIP: the browser-safe call driver uses them too.
 */
/** JsSIP's socket interface (https://jssip.net/documentation/3.10.x/api/socket/). */
export interface JsSipSocket {
  readonly url: string;
  readonly sip_uri: string;
  via_transport: string;
  connect(): void;
  disconnect(): void;
  send(message: string): boolean;
  isConnected(): boolean;
  isConnecting(): boolean;
  onconnect: () => void;
  ondisconnect: (error: boolean, code?: number, reason?: string) => void;
  ondata: (data: string) => void;
}

export interface JsSipUaConfiguration {
  sockets: JsSipSocket[];
  uri: string;
  password?: string;
  /** the digest user name, when not the URI's user */
  authorization_user?: string;
  realm?: string;
  display_name?: string;
  register: boolean;
  register_expires?: number;
  session_timers: boolean;
  user_agent?: string;
  connection_recovery_min_interval?: number;
  connection_recovery_max_interval?: number;
  no_answer_timeout?: number;
}

export interface JsSipUri {
  readonly scheme: string;
  readonly user: string | null | undefined;
  readonly host: string;
  readonly port: number | null | undefined;
  /** the values of a URI header (`sip:u@h?Name=value`), by name in any case */
  getHeader(name: string): string[] | undefined;
  toString(): string;
}

export interface JsSipNameAddr {
  readonly uri: JsSipUri;
  readonly display_name: string | null | undefined;
}

export interface JsSipIncomingResponse {
  readonly status_code: number;
  readonly reason_phrase: string;
}

export interface JsSipIncomingRequest {
  readonly method: string;
  readonly body: string | null | undefined;
  readonly refer_to?: JsSipNameAddr;
  /** the server transaction of an incoming request (JsSIP's Transactions: `state` is one of its C.STATUS_*) */
  readonly server_transaction?: { readonly state: number };
  getHeader(name: string): string | undefined;
}

export type JsSipOriginator = 'local' | 'remote' | 'system';

export interface JsSipUaEvents {
  connecting: { attempts: number };
  connected: object;
  disconnected: { error: boolean; code?: number; reason?: string };
  registered: { response: JsSipIncomingResponse };
  unregistered: { response?: JsSipIncomingResponse | null; cause?: string | null };
  registrationFailed: { response?: JsSipIncomingResponse | null; cause?: string | null };
  newRTCSession: { originator: 'local' | 'remote'; session: JsSipSession; request: JsSipIncomingRequest };
  /** with a listener, JsSIP leaves refreshing the registration to it */
  registrationExpiring: undefined;
}

export interface JsSipCallOptions {
  /** Absent with mediaConstraints all false: no media (a pass-through leg). */
  mediaStream?: MediaStream;
  pcConfig?: RTCConfiguration;
  extraHeaders?: string[];
  /** outgoing calls: the user part of the From URI (the UA's own AOR otherwise) */
  fromUserName?: string;
  mediaConstraints?: { audio: boolean; video: boolean };
}

export interface JsSipUa {
  start(): void;
  stop(): void;
  register(): void;
  unregister(options?: { all?: boolean }): void;
  isRegistered(): boolean;
  isConnected(): boolean;
  call(target: string, options: JsSipCallOptions): JsSipSession;
  on<K extends keyof JsSipUaEvents>(event: K, listener: (event: JsSipUaEvents[K]) => void): this;
  removeAllListeners(): this;
}

export interface JsSipDtmf {
  readonly tone: string;
  readonly duration: number;
  once(event: 'succeeded' | 'failed', listener: (event: { response?: JsSipIncomingResponse }) => void): this;
}

export interface JsSipReferSubscriberEvents {
  requestSucceeded: { response: JsSipIncomingResponse };
  requestFailed: { response: JsSipIncomingResponse | null; cause: string };
  trying: { status_line: { status_code: number; reason_phrase: string } };
  progress: { status_line: { status_code: number; reason_phrase: string } };
  accepted: { status_line: { status_code: number; reason_phrase: string } };
  failed: { status_line?: { status_code: number; reason_phrase: string } };
}

export type JsSipReferEventHandlers = {
  [K in keyof JsSipReferSubscriberEvents]?: (event: JsSipReferSubscriberEvents[K]) => void;
};

export interface JsSipTerminateOptions {
  status_code?: number;
  reason_phrase?: string;
  extraHeaders?: string[];
}

export interface JsSipEndEvent {
  originator: JsSipOriginator;
  message?: (JsSipIncomingResponse | JsSipIncomingRequest) | null;
  cause: string;
}

export interface JsSipSessionEvents {
  peerconnection: { peerconnection: RTCPeerConnection };
  progress: { originator: JsSipOriginator; response?: JsSipIncomingResponse };
  accepted: { originator: JsSipOriginator; response?: JsSipIncomingResponse };
  confirmed: { originator: JsSipOriginator };
  ended: JsSipEndEvent;
  failed: JsSipEndEvent;
  newDTMF: { originator: JsSipOriginator; dtmf: JsSipDtmf };
  hold: { originator: JsSipOriginator };
  unhold: { originator: JsSipOriginator };
  /** An in-dialog INVITE from the peer: `reject` answers it with a final status instead. */
  reinvite: {
    request: JsSipIncomingRequest;
    reject: (options?: { status_code?: number; reason_phrase?: string }) => void;
  };
  refer: {
    request: JsSipIncomingRequest;
    accept: (initCallback?: (session: JsSipSession) => void, options?: JsSipCallOptions) => void;
    reject: () => void;
  };
}

export interface JsSipSession {
  readonly id: string;
  readonly direction: 'incoming' | 'outgoing';
  readonly remote_identity: JsSipNameAddr;
  readonly local_identity: JsSipNameAddr;
  readonly connection: RTCPeerConnection | null | undefined;
  answer(options: JsSipCallOptions): void;
  terminate(options?: JsSipTerminateOptions): void;
  hold(options: object, done: () => void): boolean;
  unhold(options: object, done: () => void): boolean;
  isOnHold(): { local: boolean; remote: boolean };
  isEnded(): boolean;
  /** Not answered yet: an outgoing call before its 2xx, an incoming one before we answered. */
  isInProgress(): boolean;
  isEstablished(): boolean;
  sendDTMF(tones: string, options: { transportType: 'INFO'; duration: number; interToneGap: number }): void;
  refer(
    target: string,
    options: { eventHandlers: JsSipReferEventHandlers; extraHeaders?: string[] },
  ): unknown;
  on<K extends keyof JsSipSessionEvents>(event: K, listener: (event: JsSipSessionEvents[K]) => void): this;
  removeListener<K extends keyof JsSipSessionEvents>(
    event: K,
    listener: (event: JsSipSessionEvents[K]) => void,
  ): this;
}
