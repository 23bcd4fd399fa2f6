// Inbound calls on a server-side line, over the fake SIP port: the customer calls the agent's
// extension, the line rings the agent's device, bridges both legs when it answers.
import { jest } from '@jest/globals';
import { TRANSFER_HEADER } from '@callgate/call-core';
import { CallNotAnsweredError } from '../server-call.js';
import { type AgentLine, worldEachTest, RING_TIMEOUT_MS, ended, BRIDGED } from '../testing/call-world.js';
import { FakeTrack, Party, settle } from '../testing/fake-sip.js';

const DESK = 'sip:desk1001@pbx.test';
const CUSTOMER = '0901234567';

describe('an inbound call', () => {
  const world = worldEachTest();
  let a: AgentLine;

  beforeEach(async () => {
    a = await world.registeredLine('1001');
  });

  /** The customer calls; the desk phone rings. */
  async function ringing(from = CUSTOMER) {
    const customer = a.ua.receive(from);
    await settle();
    const desk = world.sip.legTo(DESK);
    return { customer, desk };
  }

  it('rings the desk phone, bridges both legs when it answers, and ends when the customer hangs up', async () => {
    const { customer, desk } = await ringing();
    expect(customer.state).toBe('ringing');
    expect(desk.sent).toEqual(['INVITE']);
    expect(world.events.sequence(a.agent)).toEqual([['call.ringing', { phone: CUSTOMER }]]);

    desk.peer.answer();
    await settle();
    expect(customer.state).toBe('established');
    expect(customer.sent).toEqual(['200']);
    const bridge = world.sip.bridges[0]!;
    expect(bridge.heardByA).toBe(customer.remoteAudioTrack);
    expect(bridge.heardByB).toBe(desk.remoteAudioTrack);
    expect(desk.media).toBe(bridge.streamToA);
    expect(customer.media).toBe(bridge.streamToB);

    jest.advanceTimersByTime(42_000);
    customer.peer.bye();
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: CUSTOMER }],
      ['call.accepted', BRIDGED],
      ['call.ended', ended('NORMAL_CLEARING', 'customer', 42)],
    ]);
    expect(desk.sent).toEqual(['INVITE', 'BYE']);
    expect(bridge.closed).toBe(true);
    expect(a.line.call).toBeUndefined();
    expect(a.idle).toBe(1);
  });

  it('publishes every event with the call id', async () => {
    const { desk } = await ringing();
    const callId = a.line.call?.callId;
    desk.peer.answer();
    await settle();
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);
    expect(world.events.of(a.agent).map((e) => e.meta)).toEqual([{ callId }, { callId }]);
  });

  it('ends NORMAL_CLEARING by agent when the agent hangs up the desk phone', async () => {
    const { customer, desk } = await ringing();
    desk.peer.answer();
    await settle();
    jest.advanceTimersByTime(5_000);
    desk.peer.bye();
    await settle();
    expect(world.events.last('call.ended').data).toEqual(ended('NORMAL_CLEARING', 'agent', 5));
    expect(customer.sent).toEqual(['200', 'BYE']);
  });

  it('ends NORMAL_CLEARING by agent when the CRM hangs up', async () => {
    const { customer, desk } = await ringing();
    desk.peer.answer();
    await settle();
    await a.line.call?.hangup();
    await settle();
    expect(world.events.types(a.agent)).toEqual(['call.ringing', 'call.accepted', 'call.ended']);
    expect(world.events.last('call.ended').data).toEqual(ended('NORMAL_CLEARING', 'agent'));
    expect(customer.sent).toEqual(['200', 'BYE']);
    expect(desk.sent).toEqual(['INVITE', 'BYE']);
  });

  it('ends CUSTOMER_CANCELLED when the customer gives up while the device rings', async () => {
    const { customer, desk } = await ringing();
    customer.peer.cancel();
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: CUSTOMER }],
      ['call.ended', ended('CUSTOMER_CANCELLED', 'customer')],
    ]);
    expect(desk.sent).toEqual(['INVITE', 'CANCEL']);
  });

  it('ends CUSTOMER_CANCELLED when the customer gives up while the gateway answers it', async () => {
    const { customer, desk } = await ringing();
    desk.peer.answer();
    expect(customer.state).toBe('answering');
    customer.peer.cancel();
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: CUSTOMER }],
      ['call.ended', ended('CUSTOMER_CANCELLED', 'customer')],
    ]);
    expect(desk.sent).toEqual(['INVITE', 'BYE']);
  });

  it('ends NO_ANSWER when the device rings out, and turns the customer away with 480', async () => {
    const { customer, desk } = await ringing();
    jest.advanceTimersByTime(RING_TIMEOUT_MS - 1);
    await settle();
    expect(desk.isTerminated).toBe(false);
    jest.advanceTimersByTime(1);
    await settle();
    expect(desk.sent).toEqual(['INVITE', 'CANCEL']);
    expect(customer.sent).toEqual(['480']);
    expect(world.events.last('call.ended').data).toEqual(ended('NO_ANSWER', 'agent'));
  });

  it.each([
    [486, 'BUSY', '486'],
    [404, 'UNREACHABLE', '480'],
    [480, 'NO_ANSWER', '480'],
    [603, 'AGENT_REJECTED', '480'],
    [487, 'NO_ANSWER', '480'],
    [500, 'ERROR', '480'],
  ] as const)(
    'ends %i from the device as %s and answers the customer %s',
    async (status, cause, toCustomer) => {
      const { customer, desk } = await ringing();
      desk.peer.reject(status);
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.ended', ended(cause, 'agent')],
      ]);
      expect(customer.sent).toEqual([toCustomer]);
    },
  );

  it('ends DEVICE_UNREACHABLE when the PBX cannot be reached to ring the device', async () => {
    a.ua.reachable = false;
    const customer = a.ua.receive(CUSTOMER);
    await settle();
    expect(world.sip.legsTo(DESK)).toEqual([]);
    expect(customer.sent).toEqual(['480']);
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: CUSTOMER }],
      ['call.ended', ended('DEVICE_UNREACHABLE', 'system')],
    ]);
  });

  it('ends MEDIA_FAILED when no audio comes from the device within 5 s', async () => {
    world.sip.script(DESK, Party.answersWithoutAudio);
    const customer = a.ua.receive(CUSTOMER);
    await settle();
    expect(customer.state).toBe('established');
    expect(world.events.types(a.agent)).toEqual(['call.ringing']);
    await jest.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(world.events.last('call.ended').data).toEqual(ended('MEDIA_FAILED', 'system'));
    expect(customer.sent).toEqual(['200', 'BYE']);
  });

  it.each([
    ['customer', 'rtpTimeout', 'customer'],
    ['customer', 'connectionError', 'customer'],
    ['desk', 'rtpTimeout', 'agent'],
    ['desk', 'dialogError', 'agent'],
  ] as const)('ends MEDIA_FAILED when the %s leg is lost (%s), blamed on the %s', async (who, cause, by) => {
    const { customer, desk } = await ringing();
    desk.peer.answer();
    await settle();
    (who === 'customer' ? customer : desk).peer.vanish(cause);
    await settle();
    expect(world.events.last('call.ended').data).toEqual(ended('MEDIA_FAILED', by));
    expect((who === 'customer' ? desk : customer).sent.at(-1)).toBe('BYE');
  });

  it('reports the caller id normalised, with the raw text as callerDisplay', async () => {
    const { desk } = await ringing('+84 (90) 123-4567');
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: '+84901234567', callerDisplay: '+84 (90) 123-4567' }],
    ]);
    await desk.hangup();
  });

  it('refuses a second caller with 486 while a call is up', async () => {
    const { desk } = await ringing();
    desk.peer.answer();
    await settle();
    const second = a.ua.receive('0909999999');
    await settle();
    expect(second.sent).toEqual(['486']);
    expect(world.events.types(a.agent)).toEqual(['call.ringing', 'call.accepted']);
  });

  it('rings the device the agent chose at the time of the call', async () => {
    a.state = { deviceType: 3, callStatus: 'on', mobile: '0987654321' };
    a.ua.receive(CUSTOMER);
    await settle();
    expect(world.sip.legTo('90987654321').sent).toEqual(['INVITE']);
    await a.line.call?.hangup();
    a.state = { deviceType: 6, callStatus: 'on' };
    a.ua.receive(CUSTOMER);
    await settle();
    expect(world.sip.legTo('sip:soft1001@pbx.test').sent).toEqual(['INVITE']);
  });

  describe('transferred in', () => {
    const transferId = '0b8c6a52-4b1e-4d7a-9b0e-1f2a3b4c5d6e';

    it('names the transfer and the customer call when this gateway started it', async () => {
      world.ledger.expect({
        transferId,
        customerCallId: 'first-call',
        from: '1002',
        targetUser: '1001',
        targetAgent: '1001',
        domain: 'acme',
      });
      const customer = a.ua.receive(CUSTOMER, { headers: [`${TRANSFER_HEADER}: ${transferId}`] });
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        [
          'call.ringing',
          { phone: CUSTOMER, customerCallId: 'first-call', transferId, transferredFrom: '1002' },
        ],
      ]);
      expect(a.line.call?.customerCallId).toBe('first-call');
      await customer.hangup();
    });

    it.each([
      ['names no transfer of ours', undefined],
      ['names a transfer to another user', { targetUser: '1003', domain: 'acme' }],
      ['names a transfer of another domain', { targetUser: '1001', domain: 'other' }],
    ])('ignores a header that %s', async (_what, entry) => {
      if (entry) world.ledger.expect({ transferId, customerCallId: 'first-call', from: '1002', ...entry });
      const customer = a.ua.receive(CUSTOMER, { headers: [`${TRANSFER_HEADER}: ${transferId}`] });
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([['call.ringing', { phone: CUSTOMER }]]);
      expect(a.line.call?.customerCallId).toBe(a.line.call?.callId);
      await customer.hangup();
    });
  });

  describe('answered from the CRM', () => {
    it('rings an auto-answering desk phone again, asking it to pick up, and cancels the first ring', async () => {
      const b = await world.registeredLine('1002', { devices: { ipPhoneAutoAnswer: true } });
      const customer = b.ua.receive(CUSTOMER);
      await settle();
      expect(b.line.call?.canAnswerOnDevice).toBe(true);
      world.sip.script('sip:desk1002@pbx.test', Party.answersAtOnce);
      b.line.call?.answerOnDevice();
      await settle();
      const [first, second] = world.sip.legsTo('sip:desk1002@pbx.test');
      expect(first?.sent).toEqual(['INVITE', 'CANCEL']);
      expect(first?.headers).toEqual([]);
      expect(second?.headers).toEqual(['Answer-Mode: Auto', 'Call-Info: <sip:callgate>;answer-after=0']);
      expect(customer.state).toBe('established');
      expect(world.events.types(b.agent)).toEqual(['call.ringing', 'call.accepted']);
    });

    it('is refused for a phone that does not answer by itself', async () => {
      await ringing();
      expect(a.line.call?.canAnswerOnDevice).toBe(false);
      expect(() => a.line.call?.answerOnDevice()).toThrow(CallNotAnsweredError);
    });
  });

  it('gives the device the customer audio and the customer the device audio as labelled tracks', async () => {
    const { customer, desk } = await ringing();
    desk.peer.answer();
    await settle();
    expect(desk.remoteAudioTrack).toEqual(new FakeTrack('from desk1001', undefined));
    expect(customer.remoteAudioTrack).toEqual(new FakeTrack(`from ${CUSTOMER}`, undefined));
  });
});
