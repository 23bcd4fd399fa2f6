// The two ways a transfer moves the customer (CustomerMover): re-bridge on the source's server-side
// line, and REFER by the source's voice tab. Over the fake SIP port and the fake voice tabs.
import { jest } from '@jest/globals';
import { TRANSFER_HEADER } from '@callgate/call-core';
import type { VoiceTransferAnswer } from '@callgate/contracts';
import { type MoveRequest, notAnsweredStatus, ReBridgeMover, ReferMover } from '../customer-mover.js';
import type { AgentRef } from '../ports.js';
import { type AgentLine, worldEachTest, ended } from '../testing/call-world.js';
import { FakeAgentLocation, FakeVoiceTabs } from '../testing/fake-ports.js';
import { Party, settle } from '../testing/fake-sip.js';

const TRANSFER_ID = '6ba7b810-9dad-41d1-80b4-00c04fd430c8';
const QUEUE = 'sip:queue-sales@pbx.test';
const SOURCE: AgentRef = { domain: 'acme', ipphone: '1001' };

describe('the re-bridge mover', () => {
  const world = worldEachTest();
  let src: AgentLine;
  let mover: ReBridgeMover;

  beforeEach(async () => {
    src = await world.registeredLine('1001');
    world.sip.script('sip:desk1001@pbx.test', Party.answers);
    src.ua.receive('0901234567');
    await settle();
    world.events.clear();
    mover = new ReBridgeMover({
      serverCall: (agent) => (agent.ipphone === '1001' ? src.line.call : undefined),
      timeoutMs: () => 25_000,
    });
  });

  const request = (over: Partial<MoveRequest> = {}): MoveRequest => ({
    transferId: TRANSFER_ID,
    source: SOURCE,
    callId: src.line.call?.callId ?? 'gone',
    targetUser: '1002',
    ...over,
  });

  it('moves the customer to a fixed URI: the source call ends TRANSFERRED', async () => {
    world.sip.script(QUEUE, Party.answers);
    await expect(mover.move(request({ fixedUri: QUEUE }))).resolves.toEqual({ ok: true });
    expect(world.sip.legTo(QUEUE).headers).toEqual([`${TRANSFER_HEADER}: ${TRANSFER_ID}`]);
    expect(world.events.sequence(SOURCE)).toEqual([['call.ended', ended('TRANSFERRED', 'agent')]]);
  });

  it("moves the customer to an agent's extension when no fixed URI is given", async () => {
    const dst = await world.registeredLine('1002');
    world.sip.script('sip:desk1002@pbx.test', Party.answers);
    await expect(mover.move(request())).resolves.toEqual({ ok: true });
    expect(world.sip.legTo('1002').sent).toEqual(['INVITE']);
    expect(world.events.types(dst.agent)).toEqual(['call.ringing', 'call.accepted']);
  });

  it('gives the target the timeout it is told, then NOT_ANSWERED', async () => {
    const moved = mover.move(request({ fixedUri: QUEUE }));
    await settle();
    jest.advanceTimersByTime(24_999);
    await settle();
    expect(world.sip.legTo(QUEUE).isTerminated).toBe(false);
    jest.advanceTimersByTime(1);
    await expect(moved).resolves.toEqual({ ok: false, reason: 'NOT_ANSWERED' });
  });

  it.each([
    ['the source has no server-side call', { source: { domain: 'acme', ipphone: '1009' } }],
    ['the call named is not the current one', { callId: 'another-call' }],
  ])('answers CALL_ENDED and calls nobody when %s', async (_why, over) => {
    await expect(mover.move(request({ fixedUri: QUEUE, ...over }))).resolves.toEqual({
      ok: false,
      reason: 'CALL_ENDED',
    });
    expect(world.sip.legsTo(QUEUE)).toEqual([]);
  });

  it('answers CALL_ENDED for a call that has just ended', async () => {
    const callId = src.line.call!.callId;
    const ending = src.line.call!.hangup();
    await expect(mover.move(request({ fixedUri: QUEUE, callId }))).resolves.toEqual({
      ok: false,
      reason: 'CALL_ENDED',
    });
    await ending;
  });
});

describe('the REFER mover', () => {
  let location: FakeAgentLocation;
  let tabs: FakeVoiceTabs;
  let mover: ReferMover;

  beforeEach(() => {
    location = new FakeAgentLocation('gw-1').setVoiceTab(SOURCE, { instanceId: 'gw-2', tabId: 'tab-7' });
    tabs = new FakeVoiceTabs();
    mover = new ReferMover({
      location,
      voiceTabs: tabs,
      sipDomain: (domain) => `${domain}.pbx.test`,
      timeoutMs: () => 35_000,
    });
  });

  const request = (over: Partial<MoveRequest> = {}): MoveRequest => ({
    transferId: TRANSFER_ID,
    source: SOURCE,
    callId: 'browser-call-1',
    targetUser: '1002',
    ...over,
  });

  it("asks the voice tab to REFER the customer to the target's extension, with the transfer id as a URI header", async () => {
    await expect(mover.move(request())).resolves.toEqual({ ok: true });
    expect(tabs.requests).toEqual([
      {
        kind: 'transfer',
        tabId: 'tab-7',
        request: {
          callId: 'browser-call-1',
          target: `sip:1002@acme.pbx.test?${TRANSFER_HEADER}=${TRANSFER_ID}`,
        },
        timeoutMs: 35_000,
      },
    ]);
  });

  it('REFERs to a fixed URI with the transfer id appended to its headers', async () => {
    await mover.move(request({ fixedUri: 'sip:ivr@pbx.test?X-Survey=3' }));
    expect(tabs.requests[0]).toMatchObject({
      request: { target: `sip:ivr@pbx.test?X-Survey=3&${TRANSFER_HEADER}=${TRANSFER_ID}` },
    });
  });

  it('answers CALL_ENDED without asking anyone when the source holds no voice tab', async () => {
    location.setVoiceTab(SOURCE, null);
    await expect(mover.move(request())).resolves.toEqual({ ok: false, reason: 'CALL_ENDED' });
    expect(tabs.requests).toEqual([]);
  });

  const failed = (
    code: 'NOT_IN_A_CALL' | 'COULD_NOT_GET_CALL_INFO' | 'TRANSFER_CALL_FAILED',
    sipCode?: number,
  ) =>
    ({
      ok: false,
      code,
      message: 'REFER failed',
      ...(sipCode === undefined ? {} : { sipCode }),
    }) as VoiceTransferAnswer;

  it.each([
    [failed('TRANSFER_CALL_FAILED', 486), { ok: false, reason: 'SIP_FAILED', sipCode: 486 }],
    [failed('TRANSFER_CALL_FAILED', 404), { ok: false, reason: 'SIP_FAILED', sipCode: 404 }],
    [failed('TRANSFER_CALL_FAILED', 603), { ok: false, reason: 'SIP_FAILED', sipCode: 603 }],
    [failed('TRANSFER_CALL_FAILED', 480), { ok: false, reason: 'NOT_ANSWERED', sipCode: 480 }],
    [failed('TRANSFER_CALL_FAILED', 408), { ok: false, reason: 'NOT_ANSWERED', sipCode: 408 }],
    [failed('TRANSFER_CALL_FAILED', 487), { ok: false, reason: 'NOT_ANSWERED', sipCode: 487 }],
    [failed('TRANSFER_CALL_FAILED'), { ok: false, reason: 'SIP_FAILED' }],
    [failed('NOT_IN_A_CALL'), { ok: false, reason: 'CALL_ENDED' }],
    [failed('COULD_NOT_GET_CALL_INFO'), { ok: false, reason: 'CALL_ENDED' }],
  ])('turns the phone answer %j into %j', async (answer, outcome) => {
    tabs.referAnswer = () => answer;
    await expect(mover.move(request())).resolves.toEqual(outcome);
  });
});

describe('notAnsweredStatus', () => {
  it('counts 408, 480 and 487 as not answered, anything else (or nothing) as a failure', () => {
    expect([408, 480, 487].map(notAnsweredStatus)).toEqual([true, true, true]);
    expect([undefined, 404, 486, 500, 603].map(notAnsweredStatus)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
