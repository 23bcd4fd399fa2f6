// The call commands of a server-side line (lineCommands / runLineCommand) and the codes they refuse
// with, over the fake SIP port: what a tab or a REST call gets back.
import {
  CallgateError,
  type CallCommandName,
  type CommandPayload,
  type ErrorCode,
} from '@callgate/contracts';
import { runLineCommand } from '../line-commands.js';
import { type AgentLine, worldEachTest, ended } from '../testing/call-world.js';
import { Party, settle } from '../testing/fake-sip.js';

const DESK = 'sip:desk1001@pbx.test';
const CUSTOMER = '0901234567';

describe('call commands on a server-side line', () => {
  const world = worldEachTest();
  let a: AgentLine;

  beforeEach(async () => {
    a = await world.registeredLine('1001');
  });

  const run = <K extends CallCommandName>(name: K, payload: CommandPayload<K>, mayServe = true) =>
    runLineCommand({ agent: a.agent, line: a.line, mayServe }, name, payload);

  /** The command is refused with `code` (and a message matching `message`). */
  async function refused(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
    const err: unknown = await promise.then(
      () => new Error('not refused'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CallgateError);
    expect((err as CallgateError).code).toBe(code);
    if (message) expect((err as CallgateError).message).toMatch(message);
  }

  async function answeredCall(): Promise<string> {
    world.sip.script(DESK, Party.answers);
    a.ua.receive(CUSTOMER);
    await settle();
    return a.line.call!.callId;
  }

  describe('call.dial', () => {
    it('starts a callout and answers its call id', async () => {
      const result = await run('call.dial', { number: '0987654321', transactionId: 'tx-1' });
      expect(result.callId).toBe(a.line.call?.callId);
      expect(world.events.types(a.agent)).toEqual(['callout.started', 'call.agentRinging']);
    });

    it('is CALLOUT_AGENT_BUSY while the agent is in a call', async () => {
      await answeredCall();
      await refused(run('call.dial', { number: '0987654321' }), 'CALLOUT_AGENT_BUSY');
      expect(world.sip.legsTo('0987654321')).toEqual([]);
    });

    it('is IPCC_NOT_CONNECT_AGENT_ID when the PBX connection is down', async () => {
      a.ua.registrar.disconnect('closed by peer');
      await refused(
        run('call.dial', { number: '0987654321' }),
        'IPCC_NOT_CONNECT_AGENT_ID',
        /connection .* is down/,
      );
    });

    it('is IPCC_NOT_CONNECT_AGENT_ID on a fenced line (another instance holds the agent)', async () => {
      await refused(run('call.dial', { number: '0987654321' }, false), 'IPCC_NOT_CONNECT_AGENT_ID');
      expect(world.sip.legs.filter((l) => l.direction === 'outgoing')).toEqual([]);
    });

    it('is IPCC_NOT_CONNECT_AGENT_ID with the reason when the line is not registered', async () => {
      a.ua.registrar.refuse(403);
      await refused(
        run('call.dial', { number: '0987654321' }),
        'IPCC_NOT_CONNECT_AGENT_ID',
        /not registered with the PBX: forbidden \(403\)/,
      );
    });
  });

  describe('on the current call', () => {
    it('call.hangup ends it by the agent', async () => {
      const callId = await answeredCall();
      await expect(run('call.hangup', { callId })).resolves.toEqual({ callId });
      await settle();
      expect(world.events.last('call.ended').data).toEqual(ended('NORMAL_CLEARING', 'agent'));
    });

    it('call.toggleHold answers held true, then false', async () => {
      const callId = await answeredCall();
      await expect(run('call.toggleHold', {})).resolves.toEqual({ callId, held: true });
      await expect(run('call.toggleHold', { callId })).resolves.toEqual({ callId, held: false });
    });

    it('call.toggleMute answers muted true, then false', async () => {
      const callId = await answeredCall();
      await expect(run('call.toggleMute', {})).resolves.toEqual({ callId, muted: true });
      await expect(run('call.toggleMute', {})).resolves.toEqual({ callId, muted: false });
    });

    it('call.dtmf sends the digits', async () => {
      const callId = await answeredCall();
      await expect(run('call.dtmf', { digits: '42' })).resolves.toEqual({ callId });
      expect(world.sip.legs.find((l) => l.remoteUser === CUSTOMER)?.peer.digits).toBe('42');
    });

    it('call.answer picks up through an auto-answering desk phone', async () => {
      const b = await world.registeredLine('1002', { devices: { ipPhoneAutoAnswer: true } });
      b.ua.receive(CUSTOMER);
      await settle();
      const callId = b.line.call!.callId;
      world.sip.script('sip:desk1002@pbx.test', Party.answersAtOnce);
      await expect(
        runLineCommand({ agent: b.agent, line: b.line, mayServe: true }, 'call.answer', {}),
      ).resolves.toEqual({
        callId,
      });
      await settle();
      expect(world.events.types(b.agent)).toEqual(['call.ringing', 'call.accepted']);
    });

    it('call.answer is DEVICE_NOT_AVAILABLE for a phone that does not answer by itself', async () => {
      a.ua.receive(CUSTOMER);
      await settle();
      await refused(run('call.answer', {}), 'DEVICE_NOT_AVAILABLE', /answer it there/);
    });

    it('call.answer is DEVICE_NOT_AVAILABLE on a call already answered', async () => {
      await answeredCall();
      await refused(run('call.answer', {}), 'DEVICE_NOT_AVAILABLE', /the call is active/);
    });

    it.each(['call.toggleHold', 'call.dtmf'] as const)(
      '%s is NOT_IN_A_CALL while the call rings',
      async (name) => {
        a.ua.receive(CUSTOMER);
        await settle();
        await refused(run(name, { digits: '1' }), 'NOT_IN_A_CALL', /the call is ringing/);
      },
    );

    it('call.toggleMute is NOT_IN_A_CALL while the call rings', async () => {
      a.ua.receive(CUSTOMER);
      await settle();
      await refused(run('call.toggleMute', {}), 'NOT_IN_A_CALL');
      expect(world.events.types(a.agent)).toEqual(['call.ringing']);
    });

    it.each(['call.hangup', 'call.toggleHold', 'call.toggleMute', 'call.dtmf', 'call.answer'] as const)(
      '%s is NOT_IN_A_CALL without a call, COULD_NOT_GET_CALL_INFO for another call id',
      async (name) => {
        await refused(run(name, { digits: '1' }), 'NOT_IN_A_CALL');
        await answeredCall();
        await refused(run(name, { callId: 'not-this-one', digits: '1' }), 'COULD_NOT_GET_CALL_INFO');
        expect(world.events.types(a.agent)).toEqual(['call.ringing', 'call.accepted']);
      },
    );
  });
});
