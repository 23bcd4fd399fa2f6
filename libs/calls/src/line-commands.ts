import {
  CallgateError,
  type CallCommandName,
  type CommandPayload,
  type CommandResult,
} from '@callgate/contracts';
import type { AgentRef } from './ports.js';
import { CallNotAnsweredError, type ServerCall } from './server-call.js';
import { LineBusyError, type ServerLine } from './server-line.js';

/** A call command on a server-side line of this instance. */
export interface LineCommandContext {
  agent: AgentRef;
  line: ServerLine;
  /** this instance holds the agent's lease (the line is not fenced) */
  mayServe: boolean;
}

type LineCommand<K extends CallCommandName> = (
  ctx: LineCommandContext,
  payload: CommandPayload<K>,
) => Promise<CommandResult<K>>;

/** The agent's current call, when `callId` (if given) names it. */
function currentCall(line: ServerLine, callId: string | undefined): ServerCall {
  const call = line.call;
  if (!call || call.model.ended) throw new CallgateError('NOT_IN_A_CALL', 'the agent is not in a call');
  if (callId !== undefined && callId !== call.callId) {
    throw new CallgateError('COULD_NOT_GET_CALL_INFO', `call ${callId} is not the agent's current call`);
  }
  return call;
}

/**
 * What each call command does on a server-side line: one typed entry per command of
 * `CallCommandName` (a new call command is a new entry here, its name and payload in
 * libs/contracts). Browser-mode agents' commands are relayed to their voice tab instead.
 */
export const lineCommands: { [K in CallCommandName]: LineCommand<K> } = {
  'call.dial': async ({ agent, line, mayServe }, { number, transactionId, callerNumber }) => {
    if (line.call)
      throw new CallgateError('CALLOUT_AGENT_BUSY', `agent ${agent.ipphone} is already in a call`);
    if (!line.ua.isConnected || !mayServe) {
      throw new CallgateError(
        'IPCC_NOT_CONNECT_AGENT_ID',
        `the PBX connection of agent ${agent.ipphone} is down`,
      );
    }
    if (!line.registered) {
      const why = line.registration.reason;
      throw new CallgateError(
        'IPCC_NOT_CONNECT_AGENT_ID',
        `agent ${agent.ipphone} is not registered with the PBX${why ? `: ${why}` : ''}`,
      );
    }
    try {
      const call = await line.dial(number, transactionId, callerNumber);
      return { callId: call.callId };
    } catch (err) {
      if (err instanceof LineBusyError) throw new CallgateError('CALLOUT_AGENT_BUSY', err.message);
      throw err;
    }
  },
  'call.answer': ({ line }, { callId }) => {
    const call = currentCall(line, callId);
    // An IP phone configured to answer when asked picks up; any other device is answered on the
    // device itself.
    if (call.canAnswerOnDevice) {
      call.answerOnDevice();
      return Promise.resolve({ callId: call.callId });
    }
    throw new CallgateError(
      'DEVICE_NOT_AVAILABLE',
      call.model.state === 'ringing'
        ? 'the call rings on the agent’s device: answer it there'
        : `the call is ${call.model.state}`,
    );
  },
  'call.hangup': async ({ line }, { callId }) => {
    const call = currentCall(line, callId);
    await call.hangup('agent');
    return { callId: call.callId };
  },
  'call.toggleHold': async ({ line }, { callId }) => {
    const call = currentCall(line, callId);
    return { callId: call.callId, held: await call.toggleHold() };
  },
  'call.toggleMute': async ({ line }, { callId }) => {
    const call = currentCall(line, callId);
    return { callId: call.callId, muted: await call.toggleMute() };
  },
  'call.dtmf': async ({ line }, { callId, digits }) => {
    const call = currentCall(line, callId);
    await call.sendDtmf(digits);
    return { callId: call.callId };
  },
};

/** Runs a call command on a line of this instance; a call not answered yet is NOT_IN_A_CALL. */
export async function runLineCommand<K extends CallCommandName>(
  ctx: LineCommandContext,
  name: K,
  payload: CommandPayload<K>,
): Promise<CommandResult<K>> {
  const command: LineCommand<K> = lineCommands[name];
  try {
    return await command(ctx, payload);
  } catch (err) {
    if (err instanceof CallNotAnsweredError)
      throw new CallgateError('NOT_IN_A_CALL', `the call is ${err.state}`);
    throw err;
  }
}

/** Every call command's handler for a caller's context `C`, each routed through `run`. */
export type CallCommandTable<C> = {
  [K in CallCommandName]: (ctx: C, payload: CommandPayload<K>) => Promise<CommandResult<K>>;
};

/**
 * The call commands as entries of a caller's command table (the agent service's), each handed to
 * `run`, which finds where the agent's call lives. Listed here, next to {@link lineCommands}, so a
 * new call command is added in this file only (after its declaration in libs/contracts).
 */
export function callCommandTable<C>(
  run: <K extends CallCommandName>(ctx: C, name: K, payload: CommandPayload<K>) => Promise<CommandResult<K>>,
): CallCommandTable<C> {
  return {
    'call.dial': (ctx, payload) => run(ctx, 'call.dial', payload),
    'call.answer': (ctx, payload) => run(ctx, 'call.answer', payload),
    'call.hangup': (ctx, payload) => run(ctx, 'call.hangup', payload),
    'call.toggleHold': (ctx, payload) => run(ctx, 'call.toggleHold', payload),
    'call.toggleMute': (ctx, payload) => run(ctx, 'call.toggleMute', payload),
    'call.dtmf': (ctx, payload) => run(ctx, 'call.dtmf', payload),
  };
}
