// Moving a customer by re-bridge (ServerCall.handOver): the source's line calls the target with the
// customer's number and bridges the customer to it; the source's call ends TRANSFERRED and what is
// left (customer + target) is a relay the source's line keeps until either side hangs up. Two
// agents' lines talk through the fake PBX here, as two gateways' lines would through Kamailio.
import { jest } from '@jest/globals';
import { TRANSFER_HEADER } from '@callgate/call-core';
import { CallNotAnsweredError, type HandOverOptions, type ServerCall } from '../server-call.js';
import { type AgentLine, worldEachTest, RING_TIMEOUT_MS, ended } from '../testing/call-world.js';
import { type FakeLeg, type FakeTrack, Party, settle } from '../testing/fake-sip.js';

const CUSTOMER = '0901234567';
const TRANSFER_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const QUEUE = 'sip:queue-sales@pbx.test';
const MOVE_TIMEOUT_MS = RING_TIMEOUT_MS + 5_000;

describe('moving the customer by re-bridge', () => {
  const world = worldEachTest();
  let src: AgentLine;
  let dst: AgentLine;
  let call: ServerCall;
  let customer: FakeLeg;
  let srcDesk: FakeLeg;

  beforeEach(async () => {
    src = await world.registeredLine('1001');
    dst = await world.registeredLine('1002');
    world.sip.script('sip:desk1001@pbx.test', Party.answers);
    customer = src.ua.receive(CUSTOMER);
    await settle();
    srcDesk = world.sip.legTo('sip:desk1001@pbx.test');
    call = src.line.call!;
    expect(call.model.state).toBe('active');
    world.events.clear();
  });

  const toAgent = (target = '1002'): HandOverOptions => ({
    target,
    transferId: TRANSFER_ID,
    timeoutMs: MOVE_TIMEOUT_MS,
  });

  /** The ledger entry the transfer service writes before the move. */
  function expectLeg(targetUser = '1002'): void {
    world.ledger.expect({
      transferId: TRANSFER_ID,
      customerCallId: call.customerCallId,
      from: '1001',
      targetUser,
      targetAgent: targetUser,
      domain: 'acme',
    });
  }

  /** Starts the move to agent 1002 and lets its line ring its desk phone. */
  async function moveStarted(): Promise<{ moved: Promise<unknown>; dstDesk: FakeLeg }> {
    expectLeg();
    const moved = call.handOver(toAgent());
    await settle();
    return { moved, dstDesk: world.sip.legTo('sip:desk1002@pbx.test') };
  }

  describe('to an agent whose line is on the same PBX', () => {
    it('rings the target with the customer number and the transfer id; the target sees the customer call', async () => {
      const { dstDesk } = await moveStarted();
      const toTarget = world.sip.legTo('1002');
      expect(toTarget.fromUser).toBe(CUSTOMER);
      expect(toTarget.headers).toEqual([`${TRANSFER_HEADER}: ${TRANSFER_ID}`]);
      expect(call.transferring).toBe(true);
      expect(dstDesk.sent).toEqual(['INVITE']);
      expect(world.events.sequence(dst.agent)).toEqual([
        [
          'call.ringing',
          {
            phone: CUSTOMER,
            customerCallId: call.callId,
            transferId: TRANSFER_ID,
            transferredFrom: '1001',
          },
        ],
      ]);
      expect(world.events.types(src.agent)).toEqual([]);
      await dstDesk.hangup();
    });

    it('once the target answers: the source call ends TRANSFERRED, its device hangs up, the customer hears the target', async () => {
      const { moved, dstDesk } = await moveStarted();
      jest.advanceTimersByTime(3_000);
      dstDesk.peer.answer();
      await settle();
      await expect(moved).resolves.toEqual({ ok: true });

      expect(world.events.sequence(src.agent)).toEqual([['call.ended', ended('TRANSFERRED', 'agent', 3)]]);
      expect(world.events.types(dst.agent)).toEqual(['call.ringing', 'call.accepted']);
      expect(srcDesk.sent).toEqual(['INVITE', 'BYE']);
      expect(customer.state).toBe('established');
      expect(src.line.call).toBeUndefined();
      expect(src.line.relays.map((r) => r.callId)).toEqual([call.callId]);
      expect(src.line.busy).toBe(true);
      expect(src.idle).toBe(0);

      const srcBridge = world.sip.bridges[0]!;
      const dstBridge = world.sip.bridges[1]!;
      const heard = srcBridge.heardByB as FakeTrack;
      expect(heard.source).toBe(dstBridge.streamToB);
      expect(srcBridge.heardByA).toBe(customer.remoteAudioTrack);
    });

    it('the relay ends with the target: the customer gets a BYE and the source line is idle again', async () => {
      const { moved, dstDesk } = await moveStarted();
      dstDesk.peer.answer();
      await settle();
      await moved;
      dstDesk.peer.bye();
      await settle();
      expect(world.events.last('call.ended', dst.agent).data).toEqual(ended('NORMAL_CLEARING', 'agent'));
      expect(customer.sent).toEqual(['200', 'BYE']);
      expect(src.line.relays).toEqual([]);
      expect(src.line.busy).toBe(false);
      expect(src.idle).toBe(1);
      expect(world.events.types(src.agent)).toEqual(['call.ended']);
    });

    it('the relay ends with the customer: the target call ends NORMAL_CLEARING by customer', async () => {
      const { moved, dstDesk } = await moveStarted();
      dstDesk.peer.answer();
      await settle();
      await moved;
      customer.peer.bye();
      await settle();
      expect(world.events.last('call.ended', dst.agent).data).toEqual(ended('NORMAL_CLEARING', 'customer'));
      expect(dstDesk.sent).toEqual(['INVITE', 'BYE']);
      expect(src.line.busy).toBe(false);
    });

    it('closing the source line (drain, rebalance, device change) ends the relay after the transferred call, not before', async () => {
      const { moved, dstDesk } = await moveStarted();
      dstDesk.peer.answer();
      await settle();
      await moved;
      const relay = src.line.relays[0]!;
      await src.line.close('drain');
      await relay.closed;
      expect(customer.sent).toEqual(['200', 'BYE']);
      expect(src.ua.closes).toEqual(['drain']);
      expect(world.events.types(src.agent)).toEqual(['call.ended']);
    });

    it('a held customer is taken off hold once with the target', async () => {
      await call.toggleHold();
      const { moved, dstDesk } = await moveStarted();
      dstDesk.peer.answer();
      await settle();
      await expect(moved).resolves.toEqual({ ok: true });
      expect(customer.sent).toEqual(['200', 're-INVITE hold', 're-INVITE unhold']);
      expect(customer.heldLocally).toBe(false);
    });

    it('NOT_ANSWERED 480 when the target desk rings out on its own line; the customer stays with the agent', async () => {
      const { moved } = await moveStarted();
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      await settle();
      await expect(moved).resolves.toEqual({ ok: false, reason: 'NOT_ANSWERED', sipCode: 480 });
      expect(world.events.last('call.ended', dst.agent).data).toEqual(ended('NO_ANSWER', 'agent'));
      expect(world.events.types(src.agent)).toEqual([]);
      expect(call.model.state).toBe('active');
      expect(call.transferring).toBe(false);
      expect(world.sip.bridges[0]!.heardByB).toBe(srcDesk.remoteAudioTrack);
    });

    it('SIP_FAILED 486 when the target declines on its desk phone', async () => {
      const { moved, dstDesk } = await moveStarted();
      dstDesk.peer.reject(486);
      await settle();
      await expect(moved).resolves.toEqual({ ok: false, reason: 'SIP_FAILED', sipCode: 486 });
      expect(call.model.state).toBe('active');
    });

    it('SIP_FAILED 404 when the target line is not registered', async () => {
      world.line('1003');
      const moved = call.handOver(toAgent('1003'));
      await settle();
      await expect(moved).resolves.toEqual({ ok: false, reason: 'SIP_FAILED', sipCode: 404 });
    });

    it('CALL_ENDED when the customer hangs up while the target rings; the target is cancelled', async () => {
      const { moved, dstDesk } = await moveStarted();
      customer.peer.bye();
      await settle();
      await expect(moved).resolves.toEqual({ ok: false, reason: 'CALL_ENDED' });
      expect(world.sip.legTo('1002').sent).toEqual(['INVITE', 'CANCEL']);
      expect(dstDesk.sent).toEqual(['INVITE', 'CANCEL']);
      expect(world.events.sequence(src.agent)).toEqual([
        ['call.ended', ended('NORMAL_CLEARING', 'customer')],
      ]);
      expect(world.events.last('call.ended', dst.agent).data).toEqual(
        ended('CUSTOMER_CANCELLED', 'customer'),
      );
    });
  });

  describe('to a fixed target (a queue, a survey IVR)', () => {
    it('calls the URI with the transfer header and the customer number, and relays when it answers', async () => {
      world.sip.script(QUEUE, Party.answers);
      await expect(
        call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: MOVE_TIMEOUT_MS }),
      ).resolves.toEqual({
        ok: true,
      });
      const leg = world.sip.legTo(QUEUE);
      expect(leg.headers).toEqual([`${TRANSFER_HEADER}: ${TRANSFER_ID}`]);
      expect(leg.fromUser).toBe(CUSTOMER);
      expect(world.events.sequence(src.agent)).toEqual([['call.ended', ended('TRANSFERRED', 'agent')]]);
      expect(world.sip.bridges[0]!.heardByB).toBe(leg.remoteAudioTrack);
      leg.peer.bye();
      await settle();
      expect(customer.sent).toEqual(['200', 'BYE']);
    });

    it.each([
      [Party.busy, { ok: false, reason: 'SIP_FAILED', sipCode: 486 }],
      [Party.notFound, { ok: false, reason: 'SIP_FAILED', sipCode: 404 }],
      [Party.unavailable, { ok: false, reason: 'NOT_ANSWERED', sipCode: 480 }],
      [{ invite: ['ring', 487] }, { ok: false, reason: 'NOT_ANSWERED', sipCode: 487 }],
      [{ invite: [408] }, { ok: false, reason: 'NOT_ANSWERED', sipCode: 408 }],
      [Party.timesOut, { ok: false, reason: 'SIP_FAILED' }],
    ] as const)('answers %j with %j and leaves the call with the agent', async (script, outcome) => {
      world.sip.script(QUEUE, script);
      await expect(
        call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: MOVE_TIMEOUT_MS }),
      ).resolves.toEqual(outcome);
      expect(world.events.published).toEqual([]);
      expect(call.model.state).toBe('active');
      expect(srcDesk.isTerminated).toBe(false);
    });

    it('NOT_ANSWERED when nobody answers within the move timeout; the target is cancelled', async () => {
      const moved = call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: MOVE_TIMEOUT_MS });
      await settle();
      jest.advanceTimersByTime(MOVE_TIMEOUT_MS);
      await settle();
      await expect(moved).resolves.toEqual({ ok: false, reason: 'NOT_ANSWERED' });
      expect(world.sip.legTo(QUEUE).sent).toEqual(['INVITE', 'CANCEL']);
    });

    it('SIP_FAILED when the target answers without audio (5 s), and hangs the target up', async () => {
      world.sip.script(QUEUE, Party.answersWithoutAudio);
      const moved = call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: MOVE_TIMEOUT_MS });
      await settle();
      await jest.advanceTimersByTimeAsync(5_000);
      await expect(moved).resolves.toEqual({ ok: false, reason: 'SIP_FAILED' });
      expect(world.sip.legTo(QUEUE).sent).toEqual(['INVITE', 'BYE']);
      expect(call.model.state).toBe('active');
    });

    it('SIP_FAILED when the PBX cannot be reached', async () => {
      src.ua.reachable = false;
      await expect(call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: 1 })).resolves.toEqual({
        ok: false,
        reason: 'SIP_FAILED',
      });
      expect(world.sip.legsTo(QUEUE)).toEqual([]);
    });

    it('SIP_FAILED at once for a second move while the first one rings', async () => {
      const first = call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: MOVE_TIMEOUT_MS });
      await settle();
      await expect(
        call.handOver({ target: 'sip:queue-support@pbx.test', transferId: TRANSFER_ID, timeoutMs: 1 }),
      ).resolves.toEqual({
        ok: false,
        reason: 'SIP_FAILED',
      });
      expect(world.sip.legsTo('sip:queue-support@pbx.test')).toEqual([]);
      world.sip.legTo(QUEUE).peer.reject(486);
      await first;
    });
  });

  it('is refused on a call that is not answered', async () => {
    const b = await world.registeredLine('1004');
    b.ua.receive(CUSTOMER);
    await settle();
    await expect(b.line.call!.handOver(toAgent())).rejects.toThrow(CallNotAnsweredError);
  });
});
