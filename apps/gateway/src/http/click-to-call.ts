import { CallgateError } from '@callgate/contracts';

/** JS-PHONE click-to-call `{phoneNumber, ipPhone, transactionId}` as the agent and its `call.dial` payload. */
export function clickToCall(body: unknown): { ipphone: string; dial: Record<string, unknown> } {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const ipPhone = b.ipPhone ?? b.ipphone;
  if (typeof ipPhone !== 'string') {
    throw new CallgateError('INVALID_PAYLOAD', 'ipPhone (the agent extension) is required, as a string');
  }
  return {
    ipphone: ipPhone,
    dial: {
      number: b.phoneNumber ?? b.number,
      ...(b.transactionId === undefined ? {} : { transactionId: b.transactionId }),
    },
  };
}
