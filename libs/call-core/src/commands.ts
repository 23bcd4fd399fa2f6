import {
  type CommandName,
  type CommandPayload,
  type DeviceType,
  type ErrorCode,
  isDeviceType,
} from '@callgate/contracts';
import { checkDialledNumber, checkMobileNumber } from './numbers.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

const MAX_ID_LENGTH = 128;

function fail(code: ErrorCode, message: string): { ok: false; code: ErrorCode; message: string } {
  return { ok: false, code, message };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(
  record: Record<string, unknown>,
  key: string,
  max = MAX_ID_LENGTH,
): Parsed<string | undefined> {
  const value = record[key];
  if (value === undefined || value === null) return { ok: true, value: undefined };
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    return fail('INVALID_PAYLOAD', `${key} must be a non-empty string of at most ${max} characters`);
  }
  return { ok: true, value };
}

/**
 * Validates a command's payload as it arrives from a tab or a REST call. Unknown fields are
 * dropped; wrong types answer INVALID_PAYLOAD; domain rules answer their own code.
 */
export function parseCommand<K extends CommandName>(name: K, input: unknown): Parsed<CommandPayload<K>>;
export function parseCommand(name: CommandName, input: unknown): Parsed<CommandPayload<CommandName>> {
  const record = input === undefined || input === null ? {} : input;
  if (!isRecord(record)) return fail('INVALID_PAYLOAD', `${name} takes an object payload`);
  const base: { voiceFence?: number } = {};
  if (record.voiceFence !== undefined) {
    if (typeof record.voiceFence !== 'number' || !Number.isSafeInteger(record.voiceFence)) {
      return fail('INVALID_PAYLOAD', 'voiceFence must be an integer');
    }
    base.voiceFence = record.voiceFence;
  }
  switch (name) {
    case 'voice.enable':
    case 'agent.toggleCallStatus':
    case 'agent.resetDevice':
    case 'transfer.listAgents':
    case 'session.unregister':
      return { ok: true, value: base };
    case 'agent.setDevice': {
      const device = parseDevice(record.type, record.mobile);
      return device.ok ? { ok: true, value: { ...base, ...device.value } } : device;
    }
    case 'call.dial': {
      const number = checkDialledNumber(record.number);
      if (!number.ok) return fail('INVALID_NUMBER', number.reason);
      const transactionId = optionalString(record, 'transactionId');
      if (!transactionId.ok) return transactionId;
      return {
        ok: true,
        value: {
          ...base,
          number: number.value,
          ...(transactionId.value === undefined ? {} : { transactionId: transactionId.value }),
        },
      };
    }
    case 'call.answer':
    case 'call.hangup':
    case 'call.toggleHold':
    case 'call.toggleMute': {
      const callId = optionalString(record, 'callId');
      if (!callId.ok) return callId;
      return {
        ok: true,
        value: { ...base, ...(callId.value === undefined ? {} : { callId: callId.value }) },
      };
    }
    case 'call.dtmf': {
      const callId = optionalString(record, 'callId');
      if (!callId.ok) return callId;
      const digits = record.digits;
      if (typeof digits !== 'string' || !/^[0-9*#A-D]{1,32}$/.test(digits)) {
        return fail('INVALID_PAYLOAD', "digits must be 1 to 32 of 0-9, '*', '#', A-D");
      }
      return {
        ok: true,
        value: { ...base, digits, ...(callId.value === undefined ? {} : { callId: callId.value }) },
      };
    }
    case 'transfer.toAgent': {
      const ipphone = record.ipphone;
      if (ipphone === undefined || ipphone === null || ipphone === '') {
        return fail('NOT_CHOOSE_TYPE_TRANSFER', 'no target agent was given');
      }
      if (
        (typeof ipphone !== 'string' && typeof ipphone !== 'number') ||
        !/^[0-9]{1,16}$/.test(String(ipphone))
      ) {
        return fail('INVALID_PAYLOAD', 'ipphone must be the target agent extension (digits)');
      }
      return { ok: true, value: { ...base, ipphone: String(ipphone) } };
    }
    case 'transfer.toQueue': {
      const queueId = record.queueId;
      if (queueId === undefined || queueId === null || queueId === '') {
        return fail('NOT_CHOOSE_TYPE_TRANSFER', 'no target queue was given');
      }
      if ((typeof queueId !== 'string' && typeof queueId !== 'number') || String(queueId).length > 64) {
        return fail('INVALID_PAYLOAD', 'queueId must be a string');
      }
      return { ok: true, value: { ...base, queueId: String(queueId) } };
    }
    case 'transfer.respond': {
      const accept = record.accept;
      // 3C's responseTransferAgent(1|0)
      if (accept !== true && accept !== false && accept !== 1 && accept !== 0) {
        return fail('INVALID_PAYLOAD', 'accept must be true/false (or 1/0)');
      }
      return { ok: true, value: { ...base, accept: accept === true || accept === 1 } };
    }
  }
}

/** A device choice: types 1-4; type 3 needs a mobile number (validated when given). */
export function parseDevice(type: unknown, mobile: unknown): Parsed<{ type: DeviceType; mobile?: string }> {
  const numeric = typeof type === 'string' && /^[1-4]$/.test(type) ? Number(type) : type;
  if (!isDeviceType(numeric)) return fail('INVALID_DEVICE_TYPE', 'device type must be 1, 2, 3 or 4');
  if (mobile === undefined || mobile === null || mobile === '') return { ok: true, value: { type: numeric } };
  const checked = checkMobileNumber(mobile);
  if (!checked.ok) return fail('INVALID_MOBILE', checked.reason);
  return { ok: true, value: { type: numeric, mobile: checked.value } };
}
