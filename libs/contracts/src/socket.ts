import type { CallCommandName, CommandAck, CommandName, CommandPayload } from './commands.js';
import type { EventEnvelope, EventType } from './events.js';

/** What the gateway asks of a browser-mode voice tab (its in-page phone carries the calls). */
export interface VoiceRequests {
  /** run a call command on the in-page phone; answered like any command */
  'voice.command': <K extends CommandName>(
    request: { name: K; payload: CommandPayload<K> },
    ack: (answer: CommandAck<K>) => void,
  ) => void;
  /**
   * blind-transfer the in-page phone's call: REFER the customer to `target` (a SIP URI whose URI
   * headers the customer's side copies into its new INVITE); answered with the REFER's outcome
   */
  'voice.transfer': (request: VoiceTransferRequest, ack: (answer: VoiceTransferAnswer) => void) => void;
  /** stop the in-page phone (unregister) before another tab or device takes the extension */
  'voice.stop': (request: { reason: string }, ack: (answer: { ok: true }) => void) => void;
}

/** A call command relayed to the voice tab's phone (`voice.command`), one member per call command. */
export type VoiceCommandRequest = {
  [K in CallCommandName]: { name: K; payload: CommandPayload<K> };
}[CallCommandName];

/** The phone's answer to a relayed call command: the acknowledgement of that command. */
export type VoiceCommandAnswer<K extends CallCommandName = CallCommandName> = CommandAck<K>;

export interface VoiceTransferRequest {
  callId: string;
  /** e.g. `sip:5001@pbx?X-Callgate-Transfer=…` */
  target: string;
}

export type VoiceTransferAnswer =
  | { ok: true; callId: string }
  | {
      ok: false;
      code: 'NOT_IN_A_CALL' | 'COULD_NOT_GET_CALL_INFO' | 'TRANSFER_CALL_FAILED';
      message: string;
      sipCode?: number;
    };

/** Socket.IO event map, server to client: each event under its type, the envelope as the one argument. */
export type ServerToClientEvents = { [K in EventType]: (event: EventEnvelope<K>) => void } & VoiceRequests;

/** Socket.IO event map, client to server: each command with its payload and an acknowledgement. */
export type ClientToServerEvents = {
  [K in CommandName]: (payload: CommandPayload<K>, ack: (answer: CommandAck<K>) => void) => void;
};

/** Handshake of the `/agent` namespace (`io(url + '/agent', { auth })`). */
export interface AgentHandshake {
  domain: string;
  /** a gateway session token, or the CRM token that was logged in */
  token: string;
  lastEventId?: string;
}

/** Handshake of the `/events` namespace, for CRM backends. */
export interface EventsHandshake {
  domain: string;
  apiKey: string;
  lastEventId?: string;
}

/** Response of `POST /{domain}/thirdParty/login`. */
export interface LoginResponse {
  code: 'ok';
  user: { user_id: string; token: string; ipphone: string; domain: string; name: string; expiresAt: string };
}

export const AGENT_NAMESPACE = '/agent';
export const EVENTS_NAMESPACE = '/events';
