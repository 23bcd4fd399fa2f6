// Callouts on a server-side line, over the fake SIP port: the agent's device is rung first; once it
// answers, the customer is called with ringback to the agent, and bridged when it answers.
import { jest } from '@jest/globals';
import { LineBusyError } from '../server-line.js';
import { type AgentLine, worldEachTest, RING_TIMEOUT_MS, ended, BRIDGED } from '../testing/call-world.js';
import { Party, settle } from '../testing/fake-sip.js';

const DESK = 'sip:desk1001@pbx.test';
const NUMBER = '0987654321';
const TX = 'tx-42';

describe('a callout', () => {
  const world = worldEachTest();
  let a: AgentLine;

  beforeEach(async () => {
    a = await world.registeredLine('1001');
  });

  /** The agent dials; the desk phone answers; the customer's phone is rung. */
  async function customerRinging(transactionId?: string) {
    world.sip.script(DESK, Party.answers);
    const call = await a.line.dial(NUMBER, transactionId);
    await settle();
    return { call, desk: world.sip.legTo(DESK), customer: world.sip.legTo(NUMBER) };
  }

  it('rings the device, then the customer with ringback to the agent, and bridges when the customer answers', async () => {
    await a.line.dial(NUMBER, TX);
    await settle();
    const desk = world.sip.legTo(DESK);
    expect(world.sip.legsTo(NUMBER)).toEqual([]);
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER, transactionId: TX }],
      ['call.agentRinging', {}],
    ]);

    desk.peer.answer();
    await settle();
    const customer = world.sip.legTo(NUMBER);
    const bridge = world.sip.bridges[0]!;
    const ringback = world.sip.tones[0]!;
    expect(customer.sent).toEqual(['INVITE']);
    expect(customer.media).toBe(bridge.streamToB);
    expect(ringback.frequency).toBe(425);
    expect(bridge.heardByA).toBe(ringback.track);

    customer.peer.ring();
    await settle();
    customer.peer.answer();
    await settle();
    expect(ringback.stopped).toBe(true);
    expect(bridge.heardByA).toBe(customer.remoteAudioTrack);
    expect(bridge.heardByB).toBe(desk.remoteAudioTrack);

    jest.advanceTimersByTime(61_000);
    customer.peer.bye();
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER, transactionId: TX }],
      ['call.agentRinging', {}],
      ['callout.customerRinging', { number: NUMBER, transactionId: TX }],
      ['call.customerAccepted', BRIDGED],
      ['call.ended', ended('NORMAL_CLEARING', 'customer', 61)],
    ]);
    expect(desk.sent).toEqual(['INVITE', 'BYE']);
    expect(world.events.of(a.agent).every((e) => e.meta.transactionId === TX)).toBe(true);
  });

  it('presents the callout service number as P-Asserted-Identity', async () => {
    world.sip.script(DESK, Party.answers);
    await a.line.dial(NUMBER, undefined, '19001234');
    await settle();
    expect(world.sip.legTo(NUMBER).headers).toEqual(['P-Asserted-Identity: <sip:19001234@pbx.test>']);
    expect(world.sip.legTo(DESK).headers).toEqual([]);
  });

  it('announces no transactionId when none was given', async () => {
    const { customer } = await customerRinging();
    customer.peer.answer();
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER }],
      ['call.agentRinging', {}],
      ['callout.customerRinging', { number: NUMBER }],
      ['call.customerAccepted', BRIDGED],
    ]);
  });

  it('ends when the agent hangs up the desk phone while the customer talks', async () => {
    const { desk, customer } = await customerRinging();
    customer.peer.answer();
    await settle();
    desk.peer.bye();
    await settle();
    expect(world.events.last('call.ended').data).toEqual(ended('NORMAL_CLEARING', 'agent'));
    expect(customer.sent).toEqual(['INVITE', 'BYE']);
  });

  it('fails IPCC_NOT_CONNECT_AGENT_ID and ends NO_ANSWER when the device rings out; the customer is never called', async () => {
    await a.line.dial(NUMBER, TX);
    await settle();
    jest.advanceTimersByTime(RING_TIMEOUT_MS);
    await settle();
    expect(world.sip.legTo(DESK).sent).toEqual(['INVITE', 'CANCEL']);
    expect(world.sip.legsTo(NUMBER)).toEqual([]);
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER, transactionId: TX }],
      ['call.agentRinging', {}],
      ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_AGENT_ID', transactionId: TX }],
      ['call.ended', ended('NO_ANSWER', 'agent')],
    ]);
  });

  it.each([486, 603, 404])(
    'fails IPCC_NOT_CONNECT_AGENT_ID and ends DEVICE_UNREACHABLE when the device answers %i',
    async (status) => {
      await a.line.dial(NUMBER);
      await settle();
      world.sip.legTo(DESK).peer.reject(status);
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER }],
        ['call.agentRinging', {}],
        ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_AGENT_ID' }],
        ['call.ended', ended('DEVICE_UNREACHABLE', 'agent')],
      ]);
    },
  );

  it('fails IPCC_NOT_CONNECT_AGENT_ID and ends DEVICE_UNREACHABLE by system when the PBX cannot be reached', async () => {
    a.ua.reachable = false;
    await a.line.dial(NUMBER, TX);
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER, transactionId: TX }],
      ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_AGENT_ID', transactionId: TX }],
      ['call.ended', ended('DEVICE_UNREACHABLE', 'system')],
    ]);
    expect(a.line.call).toBeUndefined();
  });

  it.each([
    [486, 'BUSY'],
    [600, 'BUSY'],
    [404, 'UNREACHABLE'],
    [484, 'UNREACHABLE'],
    [480, 'NO_ANSWER'],
    [408, 'NO_ANSWER'],
    [603, 'AGENT_REJECTED'],
    [503, 'ERROR'],
  ] as const)(
    'fails IPCC_NOT_CONNECT_CUSTOMER with the code when the customer answers %i, and ends %s',
    async (status, cause) => {
      world.sip.script(NUMBER, { invite: [status] });
      const { desk } = await customerRinging(TX);
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: status, transactionId: TX }],
        ['call.ended', ended(cause, 'customer')],
      ]);
      expect(desk.sent).toEqual(['INVITE', 'BYE']);
    },
  );

  it('fails ERROR_CALLOUT_CONNECT and ends ERROR when the customer INVITE times out without a status', async () => {
    world.sip.script(NUMBER, Party.timesOut);
    const { desk } = await customerRinging();
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER }],
      ['call.agentRinging', {}],
      ['callout.failed', { errorCode: 'ERROR_CALLOUT_CONNECT' }],
      ['call.ended', ended('ERROR', 'customer')],
    ]);
    expect(desk.sent).toEqual(['INVITE', 'BYE']);
  });

  it('fails ERROR_CALLOUT_CONNECT and ends CALLOUT_FAILED when the PBX cannot be reached for the customer', async () => {
    world.sip.script(DESK, { invite: ['ring'] });
    await a.line.dial(NUMBER);
    await settle();
    a.ua.reachable = false;
    world.sip.legTo(DESK).peer.answer();
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER }],
      ['call.agentRinging', {}],
      ['callout.failed', { errorCode: 'ERROR_CALLOUT_CONNECT' }],
      ['call.ended', ended('CALLOUT_FAILED', 'system')],
    ]);
  });

  it('ends MEDIA_FAILED when the answered customer sends no audio within 5 s', async () => {
    world.sip.script(NUMBER, Party.answersWithoutAudio);
    await customerRinging();
    await jest.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER }],
      ['call.agentRinging', {}],
      ['callout.customerRinging', { number: NUMBER }],
      ['call.ended', ended('MEDIA_FAILED', 'system')],
    ]);
  });

  it('when the agent gives up while the customer rings, cancels the customer (announced as a failed callout today)', async () => {
    const { desk, customer } = await customerRinging();
    customer.peer.ring();
    await settle();
    desk.peer.bye();
    await settle();
    expect(customer.sent).toEqual(['INVITE', 'CANCEL']);
    expect(world.events.sequence(a.agent)).toEqual([
      ['callout.started', { number: NUMBER }],
      ['call.agentRinging', {}],
      ['callout.customerRinging', { number: NUMBER }],
      ['callout.failed', { errorCode: 'ERROR_CALLOUT_CONNECT' }],
      ['call.ended', ended('NORMAL_CLEARING', 'agent')],
    ]);
  });

  it('is refused while the line carries a call', async () => {
    await customerRinging();
    await expect(a.line.dial('0911111111')).rejects.toThrow(LineBusyError);
    expect(world.sip.legsTo('0911111111')).toEqual([]);
  });

  it('is refused in browser mode: no server-side device', async () => {
    a.state = { deviceType: 1, callStatus: 'on' };
    await expect(a.line.dial(NUMBER)).rejects.toThrow('acme/1001 has no server-side device');
    expect(world.events.published).toEqual([]);
  });

  it('rings the mobile through the PBX prefix when the agent works on its mobile', async () => {
    a.state = { deviceType: 3, callStatus: 'on' };
    await a.line.dial(NUMBER);
    await settle();
    expect(world.sip.legTo('90912345678').sent).toEqual(['INVITE']);
  });
});
