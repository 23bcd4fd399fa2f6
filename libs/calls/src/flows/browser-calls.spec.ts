// Browser-mode calls (device 1): the voice tab's in-page phone carries the call and reports each
// event; BrowserCalls checks them against the call-core state machine and publishes them. Over the
// fake agent location, voice tab and call events ports.
import { jest } from '@jest/globals';
import { type CallReport, CallgateError, type ErrorCode } from '@callgate/contracts';
import { BrowserCalls } from '../browser-calls.js';
import type { AgentRef } from '../ports.js';
import { ended } from '../testing/call-world.js';
import { FakeAgentLocation, FakeCallEvents, FakeVoiceTabs, RecordingLogger } from '../testing/fake-ports.js';
import { TransferLedger } from '../transfer-ledger.js';

const A: AgentRef = { domain: 'acme', ipphone: '1001' };
const TAB = 'tab-1';
const CALL = 'call-1';
const PHONE = '0901234567';
const RING_TIMEOUT_MS = 20_000;
const TRANSFER_ID = '9b2f4c1e-5a3d-4e7f-8a1b-2c3d4e5f6a7b';

describe('browser-mode calls', () => {
  let location: FakeAgentLocation;
  let tabs: FakeVoiceTabs;
  let events: FakeCallEvents;
  let ledger: TransferLedger;
  let logger: RecordingLogger;
  let noAnswer: AgentRef[];
  let calls: BrowserCalls;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    location = new FakeAgentLocation('gw-1').setVoiceTab(A, { instanceId: 'gw-1', tabId: TAB });
    [tabs, events, ledger, logger, noAnswer] = [
      new FakeVoiceTabs(),
      new FakeCallEvents(),
      new TransferLedger(),
      new RecordingLogger(),
      [],
    ];
    calls = new BrowserCalls({
      location,
      voiceTabs: tabs,
      events,
      ledger,
      logger,
      ringTimeoutMs: RING_TIMEOUT_MS,
      setNoAnswer: (agent) => {
        noAnswer.push(agent);
        return Promise.resolve();
      },
    });
  });

  afterEach(() => {
    calls.close();
    jest.useRealTimers();
  });

  const report = (r: CallReport, callStatus?: 'on' | 'off' | 'noAnswer') =>
    calls.report(A, TAB, r, callStatus === undefined ? {} : { callStatus });
  const ringing = (data: Partial<{ transferId: string }> = {}) =>
    report({ type: 'call.ringing', callId: CALL, data: { phone: PHONE, ...data } });
  const simple = (
    type: 'call.accepted' | 'call.held' | 'call.unheld' | 'call.muted' | 'call.unmuted',
    callId = CALL,
  ) => report({ type, callId, data: {} });
  const endedReport = (cause = 'NORMAL_CLEARING', duration?: number) =>
    report({
      type: 'call.ended',
      callId: CALL,
      data: { cause, by: 'customer', ...(duration === undefined ? {} : { duration }) },
    });

  async function refusedWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
    const err: unknown = await promise.then(
      () => new Error('not refused'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CallgateError);
    expect((err as CallgateError).code).toBe(code);
  }

  it('publishes what the phone reports, in order, each with the call id', async () => {
    await ringing();
    await simple('call.accepted');
    await simple('call.held');
    await simple('call.unheld');
    await simple('call.muted');
    expect(calls.snapshot(A)).toMatchObject({ callId: CALL, state: 'active', muted: true, phone: PHONE });
    await simple('call.unmuted');
    jest.advanceTimersByTime(12_000);
    await endedReport('NORMAL_CLEARING', 12);
    expect(events.sequence(A)).toEqual([
      ['call.ringing', { phone: PHONE }],
      ['call.accepted', {}],
      ['call.held', {}],
      ['call.unheld', {}],
      ['call.muted', {}],
      ['call.unmuted', {}],
      ['call.ended', { cause: 'NORMAL_CLEARING', by: 'customer', duration: 12 }],
    ]);
    expect(events.of(A).every((e) => e.meta.callId === CALL)).toBe(true);
    expect(calls.snapshot(A)).toBeNull();
  });

  it('caps the reported duration at what the gateway saw', async () => {
    await ringing();
    await simple('call.accepted');
    jest.advanceTimersByTime(9_500);
    await endedReport('NORMAL_CLEARING', 3_600);
    expect(events.last('call.ended').data.duration).toBe(10);
  });

  it('takes reports from the voice tab only', async () => {
    await refusedWith(
      calls.report(A, 'another-tab', { type: 'call.ringing', callId: CALL, data: { phone: PHONE } }),
      'NOT_VOICE_HOLDER',
    );
    expect(events.published).toEqual([]);
  });

  it('refuses a move the state machine does not allow (INVALID_PAYLOAD)', async () => {
    await ringing();
    await refusedWith(simple('call.held'), 'INVALID_PAYLOAD');
    expect(events.types(A)).toEqual(['call.ringing']);
  });

  it('refuses a second call while one is up, and a report of another call', async () => {
    await ringing();
    await refusedWith(
      report({ type: 'call.ringing', callId: 'call-2', data: { phone: PHONE } }),
      'CALLOUT_AGENT_BUSY',
    );
    await refusedWith(simple('call.accepted', 'call-2'), 'COULD_NOT_GET_CALL_INFO');
    expect(events.types(A)).toEqual(['call.ringing']);
  });

  it('adopts a call first heard of in the middle, without inventing its history', async () => {
    await simple('call.held');
    expect(events.sequence(A)).toEqual([['call.held', {}]]);
    expect(calls.snapshot(A)).toMatchObject({ callId: CALL, state: 'held' });
    expect(logger.at('warn')).toEqual([`acme/1001: adopted call ${CALL} from the voice tab (call.held)`]);
    await simple('call.unheld');
    expect(calls.snapshot(A)?.state).toBe('active');
  });

  it('mutes once, whatever state the adopted call was in', async () => {
    await simple('call.muted');
    expect(calls.snapshot(A)).toMatchObject({ state: 'active', muted: true });
    expect(events.types(A)).toEqual(['call.muted']);
  });

  describe('an inbound call the agent does not take', () => {
    it('with the call status off: not announced, the phone rejects it, its end is AGENT_REJECTED', async () => {
      tabs.commandAnswer = () => ({ ok: true, callId: CALL });
      await report({ type: 'call.ringing', callId: CALL, data: { phone: PHONE } }, 'off');
      await Promise.resolve();
      expect(tabs.requests).toEqual([
        { kind: 'command', tabId: TAB, name: 'call.hangup', payload: { callId: CALL } },
      ]);
      await endedReport('NORMAL_CLEARING');
      expect(events.sequence(A)).toEqual([['call.ended', { cause: 'AGENT_REJECTED', by: 'system' }]]);
      expect(noAnswer).toEqual([]);
    });

    it('ringing out: the phone rejects it, its end is NO_ANSWER, and the agent is marked not answering', async () => {
      tabs.commandAnswer = () => ({ ok: true, callId: CALL });
      await ringing();
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      expect(tabs.requests).toEqual([
        { kind: 'command', tabId: TAB, name: 'call.hangup', payload: { callId: CALL } },
      ]);
      await endedReport('NORMAL_CLEARING');
      expect(events.sequence(A)).toEqual([
        ['call.ringing', { phone: PHONE }],
        ['call.ended', { cause: 'NO_ANSWER', by: 'system' }],
        ['agent.callStatus', { status: 'noAnswer' }],
      ]);
      expect(noAnswer).toEqual([A]);
    });

    it('ringing out on a phone that does not reject it: ended here, NO_ANSWER', async () => {
      await ringing();
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      await jest.advanceTimersByTimeAsync(0);
      expect(events.sequence(A)).toEqual([
        ['call.ringing', { phone: PHONE }],
        ['call.ended', ended('NO_ANSWER', 'system')],
        ['agent.callStatus', { status: 'noAnswer' }],
      ]);
      expect(calls.snapshot(A)).toBeNull();
    });

    it('ringing out on a phone that rejects it late: its late call.ended is dropped, no second end', async () => {
      tabs.commandAnswer = () => ({ ok: false, code: 'COMMAND_TIMEOUT', message: 'no answer' });
      await ringing();
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      await jest.advanceTimersByTimeAsync(0);
      await endedReport('NORMAL_CLEARING');
      await simple('call.accepted');
      expect(events.types(A)).toEqual(['call.ringing', 'call.ended', 'agent.callStatus']);
      expect(calls.snapshot(A)).toBeNull();
      expect(logger.at('debug')).toEqual([
        `acme/1001: call.ended of call ${CALL}, which already ended here: dropped`,
        `acme/1001: call.accepted of call ${CALL}, which already ended here: dropped`,
      ]);
    });

    it('answered in time: no ring-out', async () => {
      await ringing();
      await simple('call.accepted');
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      expect(tabs.requests).toEqual([]);
    });
  });

  describe('transferred in', () => {
    beforeEach(() => {
      ledger.expect({
        transferId: TRANSFER_ID,
        customerCallId: 'first-call',
        from: '1002',
        targetUser: '1001',
        targetAgent: '1001',
        domain: 'acme',
      });
    });

    it('names the transfer and the customer call when the transfer is ours, to this agent', async () => {
      await ringing({ transferId: TRANSFER_ID });
      expect(events.sequence(A)).toEqual([
        [
          'call.ringing',
          { phone: PHONE, customerCallId: 'first-call', transferId: TRANSFER_ID, transferredFrom: '1002' },
        ],
      ]);
      expect(calls.customerCallId(A)).toBe('first-call');
    });

    it('is announced even with the call status off, and its ring-out does not mark the agent', async () => {
      tabs.commandAnswer = () => ({ ok: true, callId: CALL });
      await report(
        { type: 'call.ringing', callId: CALL, data: { phone: PHONE, transferId: TRANSFER_ID } },
        'off',
      );
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      await endedReport();
      expect(events.types(A)).toEqual(['call.ringing', 'call.ended']);
      expect(noAnswer).toEqual([]);
    });

    it('drops a transfer header that names no transfer of ours to this agent', async () => {
      const other: AgentRef = { domain: 'acme', ipphone: '1003' };
      location.setVoiceTab(other, { instanceId: 'gw-1', tabId: 'tab-3' });
      await calls.report(other, 'tab-3', {
        type: 'call.ringing',
        callId: 'c3',
        data: { phone: PHONE, transferId: TRANSFER_ID },
      });
      expect(events.sequence(other)).toEqual([['call.ringing', { phone: PHONE }]]);
      expect(calls.customerCallId(other)).toBe('c3');
    });
  });

  it('a callout: started, customer ringing, answered, ended; with the transaction id', async () => {
    await report({
      type: 'callout.started',
      callId: CALL,
      transactionId: 'tx-9',
      data: { number: PHONE, transactionId: 'tx-9' },
    });
    await report({ type: 'callout.customerRinging', callId: CALL, data: { number: PHONE } });
    await report({ type: 'call.customerAccepted', callId: CALL, data: {} });
    await endedReport();
    expect(events.types(A)).toEqual([
      'callout.started',
      'callout.customerRinging',
      'call.customerAccepted',
      'call.ended',
    ]);
    expect(events.of(A).map((e) => e.meta)).toEqual(Array(4).fill({ callId: CALL, transactionId: 'tx-9' }));
  });

  it('a callout the customer refuses: callout.failed, then the end', async () => {
    await report({ type: 'callout.started', callId: CALL, data: { number: PHONE } });
    await report({
      type: 'callout.failed',
      callId: CALL,
      data: { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: 486 },
    });
    await endedReport('BUSY');
    expect(events.types(A)).toEqual(['callout.started', 'callout.failed', 'call.ended']);
  });

  it('the voice tab lost mid-call: MEDIA_FAILED by system, and listeners told', async () => {
    const told: string[] = [];
    calls.onCallEnded((agent, callId) => told.push(`${agent.ipphone} ${callId}`));
    await ringing();
    await simple('call.accepted');
    await calls.voiceTabLost(A);
    expect(events.last('call.ended').data).toEqual(ended('MEDIA_FAILED', 'system'));
    expect(told).toEqual([`1001 ${CALL}`]);
    // the call's end, reported late by a tab that holds voice again, is not published twice
    await endedReport();
    expect(events.types(A).filter((t) => t === 'call.ended')).toHaveLength(1);
  });

  describe('commands', () => {
    it('relays a command to the voice tab with the current call id, and answers its result', async () => {
      tabs.commandAnswer = () => ({ ok: true, callId: CALL, held: true });
      await ringing();
      await simple('call.accepted');
      await expect(calls.command(A, 'call.toggleHold', {})).resolves.toEqual({ callId: CALL, held: true });
      expect(tabs.requests).toEqual([
        { kind: 'command', tabId: TAB, name: 'call.toggleHold', payload: { callId: CALL } },
      ]);
    });

    it('answers the code the phone refused with', async () => {
      tabs.commandAnswer = () => ({ ok: false, code: 'NOT_IN_A_CALL', message: 'no call' });
      await ringing();
      await refusedWith(calls.command(A, 'call.dtmf', { digits: '1' }), 'NOT_IN_A_CALL');
    });

    it('refuses a dial in a call (CALLOUT_AGENT_BUSY) and a command for another call (COULD_NOT_GET_CALL_INFO)', async () => {
      await ringing();
      await refusedWith(calls.command(A, 'call.dial', { number: PHONE }), 'CALLOUT_AGENT_BUSY');
      await refusedWith(calls.command(A, 'call.hangup', { callId: 'other' }), 'COULD_NOT_GET_CALL_INFO');
      expect(tabs.requests).toEqual([]);
    });

    it('without a voice tab: NOT_IN_A_CALL with no call, DEVICE_NOT_AVAILABLE for a dial', async () => {
      location.setVoiceTab(A, null);
      await refusedWith(calls.command(A, 'call.hangup', {}), 'NOT_IN_A_CALL');
      await refusedWith(calls.command(A, 'call.dial', { number: PHONE }), 'DEVICE_NOT_AVAILABLE');
    });

    it('asks the voice tab about a call never seen here, briefly; a tab that does not answer has none', async () => {
      tabs.command = (tabId, name, payload, timeoutMs) => {
        tabs.requests.push({
          kind: 'command',
          tabId,
          name,
          payload,
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
        return Promise.reject(new CallgateError('DEVICE_NOT_AVAILABLE', 'no answer'));
      };
      await refusedWith(calls.command(A, 'call.hangup', {}), 'NOT_IN_A_CALL');
      expect(tabs.requests).toEqual([
        { kind: 'command', tabId: TAB, name: 'call.hangup', payload: {}, timeoutMs: 2_000 },
      ]);
    });
  });
});
