import type { AgentSummary, CallStatus, DeviceType, EventDataMap, ReportableCallEvent } from './events.js';
import type { ErrorCode } from './errors.js';

/** Fields any command may carry. */
export interface CommandBase {
  /**
   * The voice-lock fencing token the tab last heard (`voice.changed.fence`).
   * When present, a command from a tab whose token is older than the lock's is refused
   * with `VOICE_FENCE_STALE`.
   */
  voiceFence?: number;
}

/** Each command's payload and the fields of its successful answer. */
export interface CommandMap {
  'voice.enable': { payload: CommandBase; result: { isEnable: true; fence: number } };
  'agent.toggleCallStatus': { payload: CommandBase; result: { status: CallStatus } };
  'agent.setDevice': {
    payload: CommandBase & { type: DeviceType; mobile?: string };
    result: { type: DeviceType; mobile?: string };
  };
  'agent.resetDevice': { payload: CommandBase; result: { type: DeviceType; mobile?: string } };
  'transfer.listAgents': { payload: CommandBase; result: { agents: AgentSummary[] } };
  'session.unregister': { payload: CommandBase; result: Record<string, never> };
  'call.dial': {
    payload: CommandBase & {
      number: string;
      transactionId?: string;
      /** the callout service (hotline) the customer sees; the domain's default when absent */
      serviceId?: string;
      /** set by the gateway from the service (never by a client): the number the customer sees */
      callerNumber?: string;
    };
    result: { callId: string };
  };
  'call.answer': { payload: CommandBase & { callId?: string }; result: { callId: string } };
  'call.hangup': { payload: CommandBase & { callId?: string }; result: { callId: string } };
  'call.toggleHold': {
    payload: CommandBase & { callId?: string };
    result: { callId: string; held: boolean };
  };
  'call.toggleMute': {
    payload: CommandBase & { callId?: string };
    result: { callId: string; muted: boolean };
  };
  'call.dtmf': { payload: CommandBase & { callId?: string; digits: string }; result: { callId: string } };
  /** Asks `ipphone` to take the current call; answered once the request is on its way. */
  'transfer.toAgent': {
    payload: CommandBase & { ipphone: string; callId?: string };
    result: { callId: string; transferId: string };
  };
  /** Moves the current call to an ACD queue; answered once the move started (outcome: events). */
  'transfer.toQueue': {
    payload: CommandBase & { queueId: string; callId?: string };
    result: { callId: string; transferId: string };
  };
  /**
   * Moves the current call's customer to a survey IVR the domain lists (3C `transferSurvey`);
   * answered once the move started (outcome: events). Never a URI from the page.
   */
  'transfer.toSurvey': {
    payload: CommandBase & { surveyId: string; callId?: string };
    result: { callId: string; transferId: string };
  };
  /** The target's answer to its pending `transfer.request` (3C `responseTransferAgent(1|0)`). */
  'transfer.respond': {
    payload: CommandBase & { accept: boolean; transferId?: string };
    result: { callId: string; transferId: string };
  };
  /** From the voice tab of a browser-mode agent: an event of the call its in-page phone carries. */
  'call.report': { payload: CommandBase & CallReport; result: Record<string, never> };
  /** Ends every session of the agent on every instance; its tabs get `session.error` and are closed. */
  'session.logout': { payload: CommandBase; result: Record<string, never> };
}

/** A call event reported by a voice tab; the gateway stamps id, time and agent, and fans it out. */
export type CallReport = {
  [K in ReportableCallEvent]: { type: K; callId: string; transactionId?: string; data: EventDataMap[K] };
}[ReportableCallEvent];

export type CommandName = keyof CommandMap;
/** The commands that act on a call (carried by the gateway or by the voice tab's phone). */
export type CallCommandName = Extract<
  CommandName,
  'call.dial' | 'call.answer' | 'call.hangup' | 'call.toggleHold' | 'call.toggleMute' | 'call.dtmf'
>;
export type CommandPayload<K extends CommandName> = CommandMap[K]['payload'];
export type CommandResult<K extends CommandName> = CommandMap[K]['result'];

/** The call commands, as {@link CallCommandName} lists them. */
export const CallCommandNames = [
  'call.dial',
  'call.answer',
  'call.hangup',
  'call.toggleHold',
  'call.toggleMute',
  'call.dtmf',
] as const satisfies readonly CallCommandName[];

export const CommandNames = [
  'voice.enable',
  'agent.toggleCallStatus',
  'agent.setDevice',
  'agent.resetDevice',
  'transfer.listAgents',
  'session.unregister',
  ...CallCommandNames,
  'transfer.toAgent',
  'transfer.toQueue',
  'transfer.toSurvey',
  'transfer.respond',
  'call.report',
  'session.logout',
] as const satisfies readonly CommandName[];

export function isCommandName(value: unknown): value is CommandName {
  return typeof value === 'string' && (CommandNames as readonly string[]).includes(value);
}

export function isCallCommandName(value: unknown): value is CallCommandName {
  return typeof value === 'string' && (CallCommandNames as readonly string[]).includes(value);
}

export type CommandFailure = { ok: false; code: ErrorCode; message: string };
/** The acknowledgement of every command. */
export type CommandAck<K extends CommandName> = ({ ok: true } & CommandResult<K>) | CommandFailure;
