// Transfers (libs/calls' `Transfers`) over the fake PBX and the in-memory shared store: the consent
// request to a target agent and its answers, the refusals, and the blind moves to a queue and to a
// survey IVR. Both agents' lines run on this instance and talk through the fake PBX; each test
// asserts the exact events the source and the target are told.
import { jest } from '@jest/globals';
import { CallgateError, type AgentSummary } from '@callgate/contracts';
import type { ServerCall } from '../server-call.js';
import type { LeasedTransfer } from '../transfer-leases.js';
import { type AgentLine, ended, BRIDGED } from '../testing/call-world.js';
import { type FakeLeg, Party, settle } from '../testing/fake-sip.js';
import {
  LEASE_MS,
  pass,
  QUEUE_URI,
  SURVEY_URI,
  TRANSFER_TIMEOUT_MS,
  transferWorldEachTest,
} from '../testing/transfer-world.js';

const CUSTOMER = '0901234567';
const SRC_DESK = 'sip:desk1001@pbx.test';
const DST_DESK = 'sip:desk1002@pbx.test';

/** The target as the events show it. */
const summary = (ipphone: string, over: Partial<AgentSummary> = {}): AgentSummary => ({
  ipphone,
  name: `Agent ${ipphone}`,
  online: true,
  callStatus: 'on',
  tabs: 1,
  ...over,
});

/** The CallgateError code a promise rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CallgateError) return err.code;
    throw err;
  }
  throw new Error('it did not reject');
}

describe('transfers', () => {
  const world = transferWorldEachTest();
  let src: AgentLine;
  let dst: AgentLine;
  let call: ServerCall;
  let customer: FakeLeg;

  beforeEach(async () => {
    src = await world.line('1001');
    dst = await world.line('1002');
    world.calls.sip.script(SRC_DESK, Party.answers);
    customer = src.ua.receive(CUSTOMER);
    await settle();
    call = src.line.call!;
    expect(call.model.state).toBe('active');
    world.calls.events.clear();
  });

  /** The ids every event of the transfer `transferId` to `to` carries. */
  const ids = (transferId: string, to = '1002') => ({
    transferId,
    customerCallId: call.customerCallId,
    from: '1001',
    to,
  });

  /** The `transfer.failed` of agent transfer `transferId` to 1002, as the source and the target see it. */
  const agentFailed = (transferId: string, error: string, reason: string, over: object = {}) => [
    'transfer.failed',
    { ...ids(transferId), error, reason, callId: call.callId, agent: summary('1002'), ...over },
  ];

  /** Asks 1002 to take the call; the request is on its way. */
  async function asked(): Promise<string> {
    const { transferId, callId } = await world.transfers.toAgent(src.agent, { ipphone: '1002' });
    expect(callId).toBe(call.callId);
    return transferId;
  }

  describe('to an agent, with its consent', () => {
    it('asks the target: transfer.request to its tabs only, with the call, the customer and the deadline', async () => {
      const transferId = await asked();
      expect(world.calls.events.sequence(src.agent)).toEqual([]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([
        [
          'transfer.request',
          {
            ...ids(transferId),
            callId: call.callId,
            phone: CUSTOMER,
            dropAgentId: '1001',
            expiresAt: new Date(Date.now() + TRANSFER_TIMEOUT_MS).toISOString(),
          },
        ],
      ]);
      expect(world.calls.events.last('transfer.request', dst.agent).meta).toEqual({ callId: call.callId });
      expect(await world.coordination.transfers.reservedBy(dst.agent)).toBe(transferId);
      await world.transfers.respond(dst.agent, { accept: false });
    });

    it('accepted: OK to both, the customer is re-bridged to the target, transfer.succeeded to the source', async () => {
      const transferId = await asked();
      world.calls.events.clear();
      await expect(world.transfers.respond(dst.agent, { accept: true, transferId })).resolves.toEqual({
        callId: call.callId,
        transferId,
      });
      await settle();
      const toTarget = world.calls.sip.legTo('1002');
      expect(toTarget.fromUser).toBe(CUSTOMER);
      jest.advanceTimersByTime(2_000);
      world.calls.sip.legTo(DST_DESK).peer.answer();
      await settle();

      const response = ['transfer.response', { ...ids(transferId), status: 'OK', callId: call.callId }];
      expect(world.calls.events.sequence(src.agent)).toEqual([
        response,
        ['call.ended', ended('TRANSFERRED', 'agent', 2)],
        ['transfer.succeeded', { ...ids(transferId), callId: call.callId, agent: summary('1002') }],
      ]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([
        response,
        [
          'call.ringing',
          {
            phone: CUSTOMER,
            customerCallId: call.customerCallId,
            transferId,
            transferredFrom: '1001',
          },
        ],
        ['call.accepted', BRIDGED],
      ]);
      // The target's copy of the response stays off the CRM backends (the source's copy goes there).
      expect(world.calls.events.last('transfer.response', dst.agent).meta.backends).toBe(false);
      expect(customer.state).toBe('established');
      expect(await world.coordination.transfers.reservedBy(dst.agent)).toBeNull();
    });

    it('declined: NOK to both, then transfer.failed REJECTED to both; the customer stays with the source', async () => {
      const transferId = await asked();
      world.calls.events.clear();
      await world.transfers.respond(dst.agent, { accept: false });
      await settle();
      const response = ['transfer.response', { ...ids(transferId), status: 'NOK', callId: call.callId }];
      const failed = agentFailed(transferId, 'TRANSFER_CALL_FAILED', 'REJECTED');
      expect(world.calls.events.sequence(src.agent)).toEqual([response, failed]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([response, failed]);
      expect(world.calls.sip.legsTo('1002')).toEqual([]);
      expect(call.model.state).toBe('active');
      expect(await world.coordination.transfers.reservedBy(dst.agent)).toBeNull();
    });

    it('timed out: transfer.failed TIMEOUT to both when the request lapses; a late answer finds nothing', async () => {
      const transferId = await asked();
      world.calls.events.clear();
      await pass(TRANSFER_TIMEOUT_MS - 1);
      expect(world.calls.events.sequence(src.agent)).toEqual([]);
      await pass(1);
      const failed = agentFailed(transferId, 'TRANSFER_CALL_FAILED', 'TIMEOUT');
      expect(world.calls.events.sequence(src.agent)).toEqual([failed]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([failed]);
      expect(await codeOf(world.transfers.respond(dst.agent, { accept: true }))).toBe(
        'COULD_NOT_GET_CALL_INFO',
      );
      expect(call.model.state).toBe('active');
    });

    it('withdrawn: the customer hangs up while the target thinks, transfer.failed CALL_ENDED to both', async () => {
      const transferId = await asked();
      world.calls.events.clear();
      customer.peer.bye();
      await settle();
      const failed = agentFailed(transferId, 'NOT_IN_A_CALL', 'CALL_ENDED');
      expect(world.calls.events.sequence(src.agent)).toEqual([
        ['call.ended', ended('NORMAL_CLEARING', 'customer')],
        failed,
      ]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([failed]);
    });

    it('the move fails (the target declines on its desk phone): transfer.failed SIP_FAILED 486, the call stays', async () => {
      const transferId = await asked();
      await world.transfers.respond(dst.agent, { accept: true });
      await settle();
      world.calls.events.clear();
      world.calls.sip.legTo(DST_DESK).peer.reject(486);
      await settle();
      const failed = agentFailed(transferId, 'TRANSFER_CALL_FAILED', 'SIP_FAILED', { sipCode: 486 });
      expect(world.calls.events.sequence(src.agent)).toEqual([failed]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([
        ['call.ended', ended('BUSY', 'agent')],
        failed,
      ]);
      expect(call.model.state).toBe('active');
    });
  });

  describe('to an agent that cannot take the call: refused before anything is asked', () => {
    /** Asks `ipphone`; the command fails TRANSFER_CALL_FAILED and the source alone is told. */
    async function refused(ipphone: string): Promise<[string, unknown][]> {
      const before = world.calls.events.published.length;
      expect(await codeOf(world.transfers.toAgent(src.agent, { ipphone }))).toBe('TRANSFER_CALL_FAILED');
      expect(world.calls.events.published.slice(before).every((e) => e.agent.ipphone === '1001')).toBe(true);
      return world.calls.events.sequence(src.agent);
    }

    const refusal = (to: string, reason: string, agent?: AgentSummary) => [
      'transfer.failed',
      {
        customerCallId: call.customerCallId,
        from: '1001',
        to,
        error: 'TRANSFER_CALL_FAILED',
        reason,
        callId: call.callId,
        ...(agent ? { agent } : {}),
      },
    ];

    it('TARGET_BUSY: the target is in a call', async () => {
      world.calls.sip.script(DST_DESK, Party.answers);
      const other = dst.ua.receive('0907654321');
      await settle();
      world.calls.events.clear();
      expect(await refused('1002')).toEqual([
        refusal('1002', 'TARGET_BUSY', summary('1002', { callStatus: 'on' })),
      ]);
      other.peer.bye();
      await settle();
    });

    it('TARGET_BUSY: another agent asked the target first (its reservation)', async () => {
      const third = await world.line('1003');
      world.calls.sip.script('sip:desk1003@pbx.test', Party.answers);
      const secondCustomer = third.ua.receive('0907654321');
      await settle();
      const first = await world.transfers.toAgent(third.agent, { ipphone: '1002' });
      world.calls.events.clear();
      expect(await refused('1002')).toEqual([refusal('1002', 'TARGET_BUSY', summary('1002'))]);
      await world.transfers.respond(dst.agent, { accept: false, transferId: first.transferId });
      secondCustomer.peer.bye();
      await settle();
    });

    it('TARGET_OFFLINE: the target has no tab open', async () => {
      await world.coordination.presence.leave(dst.agent, 'tab-1002');
      expect(await refused('1002')).toEqual([
        refusal('1002', 'TARGET_OFFLINE', summary('1002', { online: false, tabs: 0 })),
      ]);
    });

    it('TARGET_OFF: the target turned its calls off', async () => {
      await world.coordination.agents.setCallStatus(dst.agent, 'off');
      expect(await refused('1002')).toEqual([
        refusal('1002', 'TARGET_OFF', summary('1002', { callStatus: 'off' })),
      ]);
    });

    it('TARGET_UNKNOWN, without target info: no such agent in the domain', async () => {
      expect(await refused('9999')).toEqual([refusal('9999', 'TARGET_UNKNOWN')]);
    });

    it('TARGET_IS_SOURCE: the agent asks itself', async () => {
      expect(await refused('1001')).toEqual([refusal('1001', 'TARGET_IS_SOURCE', summary('1001'))]);
    });

    it('ALREADY_TRANSFERRING: a second transfer of the same call', async () => {
      const first = await asked();
      world.calls.events.clear();
      expect(await codeOf(world.transfers.toQueue(src.agent, { queueId: 'sales' }))).toBe(
        'TRANSFER_CALL_FAILED',
      );
      expect(world.calls.events.sequence(src.agent)).toEqual([
        refusal('queue:sales', 'ALREADY_TRANSFERRING'),
      ]);
      await world.transfers.respond(dst.agent, { accept: false, transferId: first });
    });

    it('NOT_IN_A_CALL: the source has no answered call; nothing is announced', async () => {
      customer.peer.bye();
      await settle();
      world.calls.events.clear();
      expect(await codeOf(world.transfers.toAgent(src.agent, { ipphone: '1002' }))).toBe('NOT_IN_A_CALL');
      expect(world.calls.events.published).toEqual([]);
    });
  });

  describe('blind moves to a fixed target', () => {
    const fixedTargets = [
      { what: 'a queue', uri: QUEUE_URI, to: 'queue:sales', named: { queueId: 'sales' } },
      { what: 'a survey IVR', uri: SURVEY_URI, to: 'survey:csat', named: { surveyId: 'csat' } },
    ].map((target) => {
      const { queueId, surveyId } = target.named;
      return {
        ...target,
        start: () =>
          queueId !== undefined
            ? world.transfers.toQueue(src.agent, { queueId })
            : world.transfers.toSurvey(src.agent, { surveyId: surveyId ?? '' }),
        check: {
          number: target.uri.slice('sip:'.length, target.uri.indexOf('@')),
          command: queueId !== undefined ? 'transfer.toQueue' : 'transfer.toSurvey',
        },
      };
    });

    it.each(fixedTargets)(
      'to $what: the source line calls it with the customer number; transfer.succeeded names it',
      async ({ uri, to, start, check, named }) => {
        world.calls.sip.script(uri, Party.answers);
        const { transferId } = await start();
        await settle();
        expect(world.dialChecks).toEqual([{ agent: src.agent, purpose: 'queue', ...check }]);
        expect(world.calls.events.sequence(src.agent)).toEqual([
          ['call.ended', ended('TRANSFERRED', 'agent')],
          ['transfer.succeeded', { ...ids(transferId, to), callId: call.callId, ...named }],
        ]);
        expect(world.calls.events.sequence(dst.agent)).toEqual([]);
        expect(world.calls.sip.legTo(uri).fromUser).toBe(CUSTOMER);
      },
    );

    it('to a queue that does not answer: transfer.failed SIP_FAILED with its status, the call stays', async () => {
      world.calls.sip.script(QUEUE_URI, Party.busy);
      const { transferId } = await world.transfers.toQueue(src.agent, { queueId: 'sales' });
      await settle();
      expect(world.calls.events.sequence(src.agent)).toEqual([
        [
          'transfer.failed',
          {
            ...ids(transferId, 'queue:sales'),
            error: 'TRANSFER_CALL_FAILED',
            reason: 'SIP_FAILED',
            callId: call.callId,
            queueId: 'sales',
            sipCode: 486,
          },
        ],
      ]);
      expect(call.model.state).toBe('active');
    });

    it('UNKNOWN_QUEUE: refused and announced, nothing dialled', async () => {
      expect(await codeOf(world.transfers.toQueue(src.agent, { queueId: 'support' }))).toBe(
        'TRANSFER_CALL_FAILED',
      );
      expect(world.calls.events.sequence(src.agent)).toEqual([
        [
          'transfer.failed',
          {
            customerCallId: call.customerCallId,
            from: '1001',
            to: 'queue:support',
            error: 'TRANSFER_CALL_FAILED',
            reason: 'UNKNOWN_QUEUE',
            callId: call.callId,
            queueId: 'support',
          },
        ],
      ]);
      expect(world.dialChecks).toEqual([]);
    });

    it('UNKNOWN_SURVEY: refused before anything happens, nothing announced', async () => {
      expect(await codeOf(world.transfers.toSurvey(src.agent, { surveyId: 'nps' }))).toBe('UNKNOWN_SURVEY');
      expect(world.calls.events.published).toEqual([]);
      expect(world.dialChecks).toEqual([]);
    });
  });

  describe('transfers whose instance died (leases in the shared store)', () => {
    const ORPHAN_ID = '6f1c2b9e-0d4a-4e8b-9a51-2c7d3e4f5a60';
    const BROWSER_SOURCE = { domain: 'acme', ipphone: '1003' };
    const BROWSER_TARGET = { domain: 'acme', ipphone: '1004' };

    /** A transfer from browser-mode agent 1003 to 1004 left in the store by instance gw-0, which died. */
    async function orphan(state: LeasedTransfer['state'], expiresInMs = 8_000): Promise<void> {
      const dead = await world.instance('gw-0');
      dead.transfers.close();
      const leased: LeasedTransfer = {
        transferId: ORPHAN_ID,
        customerCallId: 'c-0',
        domain: 'acme',
        from: '1003',
        to: '1004',
        targetUser: '1004',
        source: { side: 'browser', callId: 'c-1', customerCallId: 'c-0', phone: CUSTOMER },
        expiresAtMs: Date.now() + expiresInMs,
        state,
      };
      await dead.coordination.transfers.reserve(BROWSER_TARGET, ORPHAN_ID, JSON.stringify(leased));
      await world.coordination.presence.join(BROWSER_TARGET, 'tab-1004');
    }

    const orphanIds = { transferId: ORPHAN_ID, customerCallId: 'c-0', from: '1003', to: '1004' };
    const orphanFailed = (error: string, reason: string) => [
      'transfer.failed',
      { ...orphanIds, error, reason, callId: 'c-1', agent: summary('1004') },
    ];

    it('a server-side source: its call died with its instance, the adopter ends the transfer CALL_ENDED', async () => {
      const transferId = await asked();
      await world.instance('gw-2');
      world.transfers.close(); // gw-1 stops renewing, as a dead instance would
      world.calls.events.clear();
      await pass(LEASE_MS + 1_000);
      const failed = agentFailed(transferId, 'NOT_IN_A_CALL', 'CALL_ENDED');
      expect(world.calls.events.sequence(src.agent)).toEqual([failed]);
      expect(world.calls.events.sequence(dst.agent)).toEqual([failed]);
      expect(await world.coordination.transfers.reservedBy(dst.agent)).toBeNull();
    });

    it('a browser-mode source still waiting: the instance of its voice tab adopts it, and the target answers there', async () => {
      await orphan('pending');
      const gw2 = await world.instance('gw-2');
      gw2.location.setVoiceTab(BROWSER_SOURCE, { instanceId: 'gw-2', tabId: 'voice-1003' });
      await pass(LEASE_MS + 1_000);
      expect(world.calls.events.published).toEqual([]);
      await gw2.transfers.respond(BROWSER_TARGET, { accept: false });
      const response = ['transfer.response', { ...orphanIds, status: 'NOK', callId: 'c-1' }];
      const failed = orphanFailed('TRANSFER_CALL_FAILED', 'REJECTED');
      expect(world.calls.events.sequence(BROWSER_SOURCE)).toEqual([response, failed]);
      expect(world.calls.events.sequence(BROWSER_TARGET)).toEqual([response, failed]);
    });

    it('a browser-mode source still waiting, adopted: the request lapses on time there (TIMEOUT)', async () => {
      await orphan('pending', 8_000);
      const gw2 = await world.instance('gw-2');
      gw2.location.setVoiceTab(BROWSER_SOURCE, { instanceId: 'gw-2', tabId: 'voice-1003' });
      await pass(7_750);
      expect(world.calls.events.published).toEqual([]);
      await pass(250);
      const failed = orphanFailed('TRANSFER_CALL_FAILED', 'TIMEOUT');
      expect(world.calls.events.sequence(BROWSER_SOURCE)).toEqual([failed]);
      expect(world.calls.events.sequence(BROWSER_TARGET)).toEqual([failed]);
    });

    it("not adopted while the source's voice tab talks to another live instance", async () => {
      await orphan('pending');
      const gw2 = await world.instance('gw-2');
      gw2.location.setVoiceTab(BROWSER_SOURCE, { instanceId: 'gw-1', tabId: 'voice-1003' });
      await pass(LEASE_MS + 1_000);
      expect(world.calls.events.published).toEqual([]);
      expect(await codeOf(gw2.transfers.respond(BROWSER_TARGET, { accept: true }))).toBe(
        'COULD_NOT_GET_CALL_INFO',
      );
    });

    it('a browser-mode source whose move was under way: its call is no longer the current one, CALL_ENDED', async () => {
      await orphan('accepted');
      const gw2 = await world.instance('gw-2');
      gw2.location.setVoiceTab(BROWSER_SOURCE, { instanceId: 'gw-2', tabId: 'voice-1003' });
      await pass(LEASE_MS + 1_000);
      const failed = orphanFailed('NOT_IN_A_CALL', 'CALL_ENDED');
      expect(world.calls.events.sequence(BROWSER_SOURCE)).toEqual([failed]);
      expect(world.calls.events.sequence(BROWSER_TARGET)).toEqual([failed]);
      expect(await world.coordination.transfers.reservedBy(BROWSER_TARGET)).toBeNull();
    });
  });

  describe("several instances: a transfer runs on its source's home", () => {
    const REMOTE_SOURCE = { domain: 'acme', ipphone: '1003' };
    const answer = { callId: 'c-9', transferId: '0b7e5f8a-3c1d-4e2f-8a9b-1c2d3e4f5a6b' };

    it('a command for a source whose line runs on another instance is forwarded there, and its answer returned', async () => {
      world.location.setLineOwner(REMOTE_SOURCE, 'gw-2');
      world.peers.answer = () => Promise.resolve(answer);
      await expect(world.transfers.toAgent(REMOTE_SOURCE, { ipphone: '1002' })).resolves.toEqual(answer);
      await expect(world.transfers.toQueue(REMOTE_SOURCE, { queueId: 'sales' })).resolves.toEqual(answer);
      expect(world.peers.requests).toEqual([
        {
          instanceId: 'gw-2',
          route: 'transfers.toAgent',
          message: { agent: REMOTE_SOURCE, payload: { ipphone: '1002' } },
        },
        {
          instanceId: 'gw-2',
          route: 'transfers.toQueue',
          message: { agent: REMOTE_SOURCE, payload: { queueId: 'sales' } },
        },
      ]);
      expect(world.calls.events.published).toEqual([]);
    });

    it('an answer to a request held elsewhere is asked of every other live instance; the holder answers', async () => {
      world.location.setLiveInstances(['gw-1', 'gw-2', 'gw-3']);
      world.peers.answer = (request) =>
        request.instanceId === 'gw-3'
          ? Promise.resolve(answer)
          : Promise.reject(new Error('COULD_NOT_GET_CALL_INFO'));
      await expect(world.transfers.respond(dst.agent, { accept: true })).resolves.toEqual(answer);
      expect(world.peers.requests.map((r) => [r.instanceId, r.route])).toEqual([
        ['gw-2', 'transfers.respond'],
        ['gw-3', 'transfers.respond'],
      ]);
    });

    it('held nowhere: refused here with the reason', async () => {
      world.location.setLiveInstances(['gw-1', 'gw-2']);
      expect(await codeOf(world.transfers.respond(dst.agent, { accept: true }))).toBe(
        'COULD_NOT_GET_CALL_INFO',
      );
      expect(world.peers.requests.map((r) => r.instanceId)).toEqual(['gw-2']);
    });

    it('a request held here is answered here, without asking anyone', async () => {
      world.location.setLiveInstances(['gw-1', 'gw-2']);
      const transferId = await asked();
      await world.transfers.respond(dst.agent, { accept: false, transferId });
      expect(world.peers.requests).toEqual([]);
      expect(world.calls.events.types(src.agent)).toEqual(['transfer.response', 'transfer.failed']);
    });
  });
});
