import {
  type CallReport,
  type CommandName,
  type CommandPayload,
  type DeviceType,
  type ErrorCode,
  isDeviceType,
  type ReportableCallEvent,
  ReportableCallEvents,
} from '@callgate/contracts';
import { checkDialledNumber, checkMobileNumber } from './numbers.js';
import { normaliseCallerId } from './untrusted.js';
import { isTransferId } from './transfer.js';

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

/** `fields` with the payload's optional `callId` (checked) added. */
function withCallId<T extends object>(
  record: Record<string, unknown>,
  fields: T,
): Parsed<T & { callId?: string }> {
  const callId = optionalString(record, 'callId');
  if (!callId.ok) return callId;
  return { ok: true, value: { ...fields, ...(callId.value === undefined ? {} : { callId: callId.value }) } };
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
  const wrongType = strictTypeError(name, record);
  if (wrongType !== undefined) return fail('INVALID_PAYLOAD', wrongType);
  switch (name) {
    case 'voice.enable':
    case 'agent.toggleCallStatus':
    case 'agent.resetDevice':
    case 'transfer.listAgents':
    case 'session.unregister':
    case 'session.logout':
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
      // pages pass the id as they read it from getCalloutServices(), a number included
      const rawServiceId = record.serviceId;
      const serviceId = optionalString(
        typeof rawServiceId === 'number' ? { serviceId: String(rawServiceId) } : record,
        'serviceId',
      );
      if (!serviceId.ok) return serviceId;
      if (serviceId.value !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(serviceId.value)) {
        return fail('UNKNOWN_CALLOUT_SERVICE', "serviceId must be 1 to 32 letters, digits, '-' or '_'");
      }
      return {
        ok: true,
        value: {
          ...base,
          number: number.value,
          ...(transactionId.value === undefined ? {} : { transactionId: transactionId.value }),
          ...(serviceId.value === undefined ? {} : { serviceId: serviceId.value }),
        },
      };
    }
    case 'call.answer':
    case 'call.hangup':
    case 'call.toggleHold':
    case 'call.toggleMute':
      return withCallId(record, base);
    case 'call.dtmf': {
      const withId = withCallId(record, base);
      if (!withId.ok) return withId;
      const digits = record.digits;
      if (typeof digits !== 'string' || !/^[0-9*#A-D]{1,32}$/.test(digits)) {
        return fail('INVALID_PAYLOAD', "digits must be 1 to 32 of 0-9, '*', '#', A-D");
      }
      return { ok: true, value: { ...withId.value, digits } };
    }
    case 'transfer.toAgent': {
      const ipphone = record.ipphone;
      if (ipphone === undefined || ipphone === null || ipphone === '') {
        return fail('NOT_CHOOSE_TYPE_TRANSFER', 'no target agent was given');
      }
      if (typeof ipphone !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(ipphone)) {
        return fail(
          'INVALID_PAYLOAD',
          "ipphone must be the target agent id (letters, digits, '_', '-', '.')",
        );
      }
      return withCallId(record, { ...base, ipphone });
    }
    case 'transfer.toQueue': {
      const queueId = record.queueId;
      if (queueId === undefined || queueId === null || queueId === '') {
        return fail('NOT_CHOOSE_TYPE_TRANSFER', 'no target queue was given');
      }
      if (typeof queueId !== 'string' || queueId.length > 64) {
        return fail('INVALID_PAYLOAD', 'queueId must be a string');
      }
      return withCallId(record, { ...base, queueId });
    }
    case 'transfer.toSurvey': {
      // 3C pages pass {id, sipurl}: a SIP URI from the page is never dialled, only a listed survey.
      const sipurl = record.sipurl ?? record.uri;
      if (sipurl !== undefined && sipurl !== null && sipurl !== '') {
        return fail(
          'INVALID_PAYLOAD',
          'a SIP URI from the page is never dialled: surveys are listed per domain',
        );
      }
      const surveyId = record.surveyId;
      if (surveyId === undefined || surveyId === null || surveyId === '') {
        return fail('INVALID_PAYLOAD', 'no survey was given (surveyId)');
      }
      if (typeof surveyId !== 'string' || !SURVEY_ID_PATTERN.test(surveyId)) {
        return fail('INVALID_PAYLOAD', "surveyId must be a survey id (1 to 64 letters, digits, '-' or '_')");
      }
      return withCallId(record, { ...base, surveyId });
    }
    case 'call.report': {
      const report = parseCallReport(record);
      return report.ok ? { ok: true, value: { ...base, ...report.value } } : report;
    }
    case 'transfer.respond': {
      const accept = record.accept;
      // 3C's responseTransferAgent(1|0) is turned into a boolean by the SDK; the wire is strict.
      if (accept !== true && accept !== false) {
        return fail('INVALID_PAYLOAD', 'accept must be true or false');
      }
      const transferId = record.transferId;
      if (transferId !== undefined && transferId !== null && !isTransferId(transferId)) {
        return fail('INVALID_PAYLOAD', 'transferId must be the id of a transfer.request');
      }
      return {
        ok: true,
        value: {
          ...base,
          accept,
          ...(isTransferId(transferId) ? { transferId } : {}),
        },
      };
    }
  }
}

/**
 * The JSON type each command's fields must have, on every surface (REST and sockets): a number
 * where a string is required, or the other way round, is INVALID_PAYLOAD, never converted (a
 * number loses its leading zero: `{"number": 0909123456}` would dial 909123456). Absent and null
 * fields are left to each command's own rules (required or optional).
 */
const FIELD_TYPES: {
  readonly [K in CommandName]?: Readonly<Record<string, 'string' | 'number' | 'boolean'>>;
} = {
  'agent.setDevice': { type: 'number', mobile: 'string' },
  'call.dial': { number: 'string', transactionId: 'string' },
  'call.answer': { callId: 'string' },
  'call.hangup': { callId: 'string' },
  'call.toggleHold': { callId: 'string' },
  'call.toggleMute': { callId: 'string' },
  'call.dtmf': { callId: 'string', digits: 'string' },
  'transfer.toAgent': { ipphone: 'string', callId: 'string' },
  'transfer.toQueue': { queueId: 'string', callId: 'string' },
  'transfer.toSurvey': { surveyId: 'string', callId: 'string' },
  'transfer.respond': { accept: 'boolean', transferId: 'string' },
  'call.report': { type: 'string', callId: 'string', transactionId: 'string' },
};

/** Which field of `record` has the wrong JSON type for `name`, as a message; undefined when none. */
export function strictTypeError(name: CommandName, record: Record<string, unknown>): string | undefined {
  const fields = FIELD_TYPES[name] ?? {};
  for (const [field, expected] of Object.entries(fields)) {
    const value = record[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== expected) return `${field} must be a ${expected}, not a ${jsonType(value)}`;
  }
  return undefined;
}

function jsonType(value: unknown): string {
  return Array.isArray(value) ? 'array' : typeof value;
}

/** A survey id as the domains file lists them (`surveys`). */
const SURVEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A device choice: types 1-4 and 6; type 3 needs a mobile number (validated when given). */
export function parseDevice(type: unknown, mobile: unknown): Parsed<{ type: DeviceType; mobile?: string }> {
  const numeric = typeof type === 'string' && /^[1-46]$/.test(type) ? Number(type) : type;
  if (!isDeviceType(numeric)) return fail('INVALID_DEVICE_TYPE', 'device type must be 1, 2, 3, 4 or 6');
  if (mobile === undefined || mobile === null || mobile === '') return { ok: true, value: { type: numeric } };
  const checked = checkMobileNumber(mobile);
  if (!checked.ok) return fail('INVALID_MOBILE', checked.reason);
  return { ok: true, value: { type: numeric, mobile: checked.value } };
}

const END_CAUSES = new Set([
  'NORMAL_CLEARING',
  'CUSTOMER_CANCELLED',
  'AGENT_REJECTED',
  'NO_ANSWER',
  'BUSY',
  'UNREACHABLE',
  'DEVICE_UNREACHABLE',
  'CALLOUT_FAILED',
  'MEDIA_FAILED',
  'TRANSFERRED',
  'INSTANCE_LOST',
  'SHUTDOWN',
  'ERROR',
]);

/** A call event a voice tab reports: a known type, a call id, and exactly the data that type carries. */
export function parseCallReport(record: Record<string, unknown>): Parsed<CallReport> {
  const type = record.type;
  if (typeof type !== 'string' || !(ReportableCallEvents as readonly string[]).includes(type)) {
    return fail('INVALID_PAYLOAD', `type must be one of ${ReportableCallEvents.join(', ')}`);
  }
  const callId = optionalString(record, 'callId');
  if (!callId.ok) return callId;
  if (callId.value === undefined) return fail('INVALID_PAYLOAD', 'callId is required');
  const transactionId = optionalString(record, 'transactionId');
  if (!transactionId.ok) return transactionId;
  const data = isRecord(record.data) ? record.data : {};
  const ids = {
    callId: callId.value,
    ...(transactionId.value === undefined ? {} : { transactionId: transactionId.value }),
  };
  const t = type as ReportableCallEvent;
  switch (t) {
    case 'call.ringing': {
      // The caller id as the PBX sent it to the in-page phone: normalised as for server-side
      // devices ('anonymous', spaces, markup), never refused, so the CRM hears of every call.
      // The in-page phone reports it as the SIP URI's user part: a string, always.
      if (data.phone !== undefined && typeof data.phone !== 'string')
        return fail('INVALID_PAYLOAD', 'data.phone must be a string');
      const caller = normaliseCallerId(data.phone);
      // The voice tab tells which transfer brought the call (from the INVITE's header); the
      // gateway checks it against its own transfers and adds what it knows.
      const transferId = isTransferId(data.transferId) ? { transferId: data.transferId } : {};
      const display = caller.display === undefined ? {} : { callerDisplay: caller.display };
      return {
        ok: true,
        value: { type: t, ...ids, data: { phone: caller.number, ...transferId, ...display } },
      };
    }
    case 'callout.started': {
      const number = checkDialledNumber(data.number);
      if (!number.ok) return fail('INVALID_PAYLOAD', `number: ${number.reason}`);
      return { ok: true, value: { type: t, ...ids, data: { number: number.value } } };
    }
    case 'callout.customerRinging': {
      const number = checkDialledNumber(data.number);
      if (!number.ok) return fail('INVALID_PAYLOAD', `number: ${number.reason}`);
      return { ok: true, value: { type: t, ...ids, data: { number: number.value } } };
    }
    case 'callout.failed': {
      const code = data.errorCode;
      const sipCode = data.sipCode;
      if (
        code !== 'IPCC_NOT_CONNECT_CUSTOMER' &&
        code !== 'IPCC_NOT_CONNECT_AGENT_ID' &&
        code !== 'ERROR_CALLOUT_CONNECT'
      ) {
        return fail('INVALID_PAYLOAD', 'errorCode must be a callout error code');
      }
      if (
        sipCode !== undefined &&
        (typeof sipCode !== 'number' || !Number.isInteger(sipCode) || sipCode < 100 || sipCode > 699)
      ) {
        return fail('INVALID_PAYLOAD', 'sipCode must be a SIP status');
      }
      return {
        ok: true,
        value: { type: t, ...ids, data: { errorCode: code, ...(sipCode === undefined ? {} : { sipCode }) } },
      };
    }
    case 'call.ended': {
      const cause = data.cause;
      const by = data.by;
      const duration = data.duration;
      if (typeof cause !== 'string' || !END_CAUSES.has(cause))
        return fail('INVALID_PAYLOAD', 'cause is not a known end cause');
      if (by !== undefined && by !== 'customer' && by !== 'agent' && by !== 'system') {
        return fail('INVALID_PAYLOAD', 'by must be customer, agent or system');
      }
      if (duration !== undefined && (typeof duration !== 'number' || duration < 0 || duration > 86_400)) {
        return fail('INVALID_PAYLOAD', 'duration must be seconds');
      }
      return {
        ok: true,
        value: {
          type: t,
          ...ids,
          data: {
            cause,
            ...(by === undefined ? {} : { by }),
            ...(duration === undefined ? {} : { duration: Math.round(duration) }),
          },
        },
      };
    }
    case 'call.accepted':
    case 'call.customerAccepted':
    case 'call.held':
    case 'call.unheld':
    case 'call.muted':
    case 'call.unmuted':
      return { ok: true, value: { type: t, ...ids, data: {} } };
  }
}
