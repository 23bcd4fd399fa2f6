import { CallModel, IllegalTransitionError, calloutError, causeOfStatus } from './call.js';

describe('CallModel', () => {
  it('an inbound call rings, is accepted, held, unheld and ends with its duration', () => {
    const call = new CallModel('c1', 'inbound', '0901', undefined, 0);
    expect(call.state).toBe('ringing');
    expect(call.transition('active', 1000)).toBe('call.accepted');
    expect(call.transition('held')).toBe('call.held');
    expect(call.transition('active')).toBe('call.unheld');
    expect(call.transition('ended', 6000)).toBe('call.ended');
    expect(call.duration).toBe(5);
    expect(call.ended).toBe(true);
  });

  it('an outbound call rings the agent first, then the customer, then announces customerAccepted', () => {
    const call = new CallModel('c2', 'outbound', '0902', 'tx-9');
    expect(call.state).toBe('agentRinging');
    expect(call.transition('dialing')).toBeUndefined();
    expect(call.transition('active')).toBe('call.customerAccepted');
    expect(call.snapshot()).toMatchObject({ direction: 'outbound', transactionId: 'tx-9', state: 'active' });
  });

  it('a call joined in the middle starts in the state given, with no made-up history', () => {
    const held = CallModel.joined('c9', 'inbound', '', 'held', 'tx-1', 2000);
    expect(held.snapshot()).toMatchObject({ state: 'held', answeredAt: 2000, transactionId: 'tx-1' });
    expect(held.transition('active')).toBe('call.unheld');
    const ringing = CallModel.joined('c10', 'inbound', '', 'ringing');
    expect(ringing.snapshot().answeredAt).toBeUndefined();
    expect(ringing.transition('active')).toBe('call.accepted');
  });

  it('setMuted sets mute once: the event when it changes, nothing when it was so already', () => {
    const call = new CallModel('c11', 'inbound', '0904');
    expect(() => call.setMuted(true)).toThrow(IllegalTransitionError);
    call.transition('active');
    expect(call.setMuted(false)).toBeUndefined();
    expect(call.setMuted(true)).toBe('call.muted');
    expect(call.setMuted(true)).toBeUndefined();
    expect(call.muted).toBe(true);
    expect(call.setMuted(false)).toBe('call.unmuted');
    expect(call.muted).toBe(false);
  });

  it('refuses illegal moves with IllegalTransitionError', () => {
    const call = new CallModel('c3', 'inbound', '0903');
    expect(() => call.transition('held')).toThrow(IllegalTransitionError);
    call.transition('ended');
    expect(() => call.transition('active')).toThrow('a call cannot go from ended to active');
  });

  it('a call that was never answered lasts 0 s', () => {
    const call = new CallModel('c4', 'inbound', '0904', undefined, 0);
    call.transition('ended', 9000);
    expect(call.duration).toBe(0);
  });

  it('mute toggles only on an answered call', () => {
    const call = new CallModel('c5', 'inbound', '0905');
    expect(() => call.toggleMute()).toThrow(IllegalTransitionError);
    call.transition('active');
    expect(call.toggleMute()).toBe('call.muted');
    expect(call.muted).toBe(true);
    expect(call.toggleMute()).toBe('call.unmuted');
  });
});

describe('SIP status mapping', () => {
  it.each([
    [486, 'BUSY'],
    [480, 'NO_ANSWER'],
    [408, 'NO_ANSWER'],
    [404, 'UNREACHABLE'],
    [487, 'CUSTOMER_CANCELLED'],
    [603, 'AGENT_REJECTED'],
    [500, 'ERROR'],
    [undefined, 'ERROR'],
  ])('status %s ends a leg with %s', (status, cause) => {
    expect(causeOfStatus(status)).toBe(cause);
  });

  it.each([404, 486, 480, 408, 403, 487])(
    'a customer leg failing with %i is IPCC_NOT_CONNECT_CUSTOMER with that code',
    (code) => {
      expect(calloutError('customer', code)).toEqual({
        errorCode: 'IPCC_NOT_CONNECT_CUSTOMER',
        sipCode: code,
      });
    },
  );

  it('a device that cannot be reached is IPCC_NOT_CONNECT_AGENT_ID; anything else ERROR_CALLOUT_CONNECT', () => {
    expect(calloutError('device', 480)).toEqual({ errorCode: 'IPCC_NOT_CONNECT_AGENT_ID' });
    expect(calloutError('other')).toEqual({ errorCode: 'ERROR_CALLOUT_CONNECT' });
    expect(calloutError('customer')).toEqual({ errorCode: 'ERROR_CALLOUT_CONNECT' });
  });
});
