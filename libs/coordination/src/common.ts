// What both stores share: defaults, option checks, the agent-state merge and the error they throw.
import { CallgateError, isDeviceType, type CallStatus } from '@callgate/contracts';
import type { AgentState, CoordinationLogger, CoordinationOptions } from './types.js';

export const DEFAULT_LEASE_MS = 5_000;
export const DEFAULT_KEY_PREFIX = 'cg:';
export const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;

/** Options with defaults applied and checked once, at creation. */
export interface ResolvedOptions {
  instanceId: string;
  keyPrefix: string;
  leaseMs: number;
  /** how often an instance renews its locks and presence entries: a third of the lease */
  renewEveryMs: number;
  eventLogMaxLen: number;
  agentLogMaxLen: number;
  logger: CoordinationLogger;
}

const consoleLogger: CoordinationLogger = {
  warn(msg, ctx) {
    console.warn(`[coordination] ${msg}`, ctx ?? {});
  },
};

export function resolveOptions(options: CoordinationOptions): ResolvedOptions {
  if (options.instanceId === '') throw new RangeError('coordination: instanceId must not be empty');
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 3) {
    throw new RangeError(`coordination: leaseMs must be an integer >= 3, got ${leaseMs}`);
  }
  return {
    instanceId: options.instanceId,
    keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
    leaseMs,
    renewEveryMs: Math.floor(leaseMs / 3),
    eventLogMaxLen: options.eventLogMaxLen ?? 10_000,
    agentLogMaxLen: options.agentLogMaxLen ?? 1_000,
    logger: options.logger ?? consoleLogger,
  };
}

export function assertTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`coordination: ttlMs must be a positive integer, got ${ttlMs}`);
  }
}

/** The store is unreachable, closed, or did not answer in time. */
export function unavailable(message: string, cause?: unknown): CallgateError {
  const error = new CallgateError('COORDINATION_UNAVAILABLE', message);
  if (cause !== undefined) error.cause = cause;
  return error;
}

/**
 * An event append refused because its lease condition no longer holds: a later grant of the
 * agent's lease exists (`current`, its epoch), so the writer is no longer the agent's owner.
 */
export class StaleLeaseError extends Error {
  override readonly name = 'StaleLeaseError';
  constructor(
    readonly epoch: number,
    readonly current: number,
  ) {
    super(`coordination: lease epoch ${epoch} is stale (the agent's lease is at epoch ${current})`);
  }
}

/** The fields an agent's record may hold; absent ones fall back to the defaults. */
export interface StoredAgentFields {
  deviceType?: string;
  mobile?: string;
  callStatus?: string;
}

/**
 * Stored fields over defaults. The device (type and mobile) is taken as a whole: once a device
 * was written, its mobile is the stored one (possibly none), never the default's.
 */
export function mergeAgentState(stored: StoredAgentFields, defaults: AgentState, where: string): AgentState {
  const state: AgentState = { deviceType: defaults.deviceType, callStatus: defaults.callStatus };
  if (stored.deviceType !== undefined) {
    const deviceType = Number(stored.deviceType);
    if (!isDeviceType(deviceType)) throw new Error(`coordination: invalid deviceType in ${where}`);
    state.deviceType = deviceType;
    if (stored.mobile !== undefined) state.mobile = stored.mobile;
  } else if (defaults.mobile !== undefined) {
    state.mobile = defaults.mobile;
  }
  if (stored.callStatus !== undefined) state.callStatus = parseCallStatus(stored.callStatus, where);
  return state;
}

export function parseCallStatus(value: unknown, where: string): CallStatus {
  if (value === 'on' || value === 'off' || value === 'noAnswer') return value;
  throw new Error(`coordination: invalid callStatus in ${where}`);
}

/** on → off; off or noAnswer → on (3C: any status other than Online goes back to Online). */
export function flip(status: CallStatus): CallStatus {
  return status === 'on' ? 'off' : 'on';
}
