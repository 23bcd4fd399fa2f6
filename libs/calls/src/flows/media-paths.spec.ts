// Where a server-side call's audio flows (pbx.media), over the fake SIP port and its in-memory
// direct-media port: in direct mode the gateway hands each leg's SDP to the other and joins them
// in a link whose operations stand for hold, mute and transfer; a device that refuses the media it
// was offered (488, 415, 606) is rung again, and the call says in call.accepted which path it took.
import { jest } from '@jest/globals';
import { TRANSFER_HEADER } from '@callgate/call-core';
import type { ServerCall } from '../server-call.js';
import {
  type AgentLine,
  BRIDGED,
  DIRECT,
  ended,
  RING_TIMEOUT_MS,
  worldEachTest,
} from '../testing/call-world.js';
import {
  type FakeDirectLink,
  type FakeDirectMedia,
  type FakeLeg,
  FakeStream,
  Party,
  settle,
} from '../testing/fake-sip.js';

const DESK = 'sip:desk1001@pbx.test';
const CUSTOMER = '0901234567';
const NUMBER = '0987654321';
const TX = 'tx-7';
const QUEUE = 'sip:queue-sales@pbx.test';
const TRANSFER_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
/** A callout's customer rings (the fake's parties ring unless scripted otherwise). */
const CUSTOMER_RINGING = ['callout.customerRinging', { number: NUMBER, transactionId: TX }] as const;

/** `call.accepted` of a call whose device refused direct media with `status` and was bridged. */
const refusedThenBridged = (status: number) =>
  ({
    media: {
      path: 'bridge',
      reason: `the device refused direct media (${status}): no common codec or media profile, so the gateway bridges`,
    },
  }) as const;

describe('direct media (pbx.media: direct)', () => {
  const world = worldEachTest({ media: 'direct' });
  let a: AgentLine;
  let direct: FakeDirectMedia;

  beforeEach(async () => {
    a = await world.registeredLine('1001');
    direct = world.sip.direct!;
  });

  /** The customer calls; the desk phone rings. */
  async function ringing(): Promise<{ customer: FakeLeg; desk: FakeLeg }> {
    const customer = a.ua.receive(CUSTOMER);
    await settle();
    return { customer, desk: world.sip.legTo(DESK) };
  }

  /** An inbound call answered on the desk phone, joined by direct media. */
  async function answered(): Promise<{
    call: ServerCall;
    customer: FakeLeg;
    desk: FakeLeg;
    link: FakeDirectLink;
  }> {
    const { customer, desk } = await ringing();
    desk.peer.answer();
    await settle();
    const call = a.line.call!;
    expect(call.model.state).toBe('active');
    expect(direct.links).toHaveLength(1);
    return { call, customer, desk, link: direct.links[0]! };
  }

  describe('an inbound call', () => {
    it("offers the device the customer's SDP, answers the customer through the port, and bridges nothing", async () => {
      const { customer, desk } = await ringing();
      expect(direct.placed).toEqual([{ how: 'offerOf', target: DESK, leg: desk, offerer: customer }]);
      expect(desk.media).toEqual(new FakeStream(`direct: offer of ${CUSTOMER}`));
      expect(customer.state).toBe('ringing');

      desk.peer.answer();
      await settle();
      expect(direct.steps).toEqual([`answerCustomer ${CUSTOMER}`]);
      expect(customer.state).toBe('established');
      expect(customer.sent).toEqual(['200']);
      expect(customer.media).toEqual(new FakeStream('direct: SDP of desk1001'));
      const link = direct.links[0]!;
      expect(link.customer).toBe(customer);
      expect(link.peer).toBe(desk);
      expect(world.sip.bridges).toEqual([]);
      expect(world.sip.tones).toEqual([]);

      customer.peer.bye();
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', DIRECT],
        ['call.ended', ended('NORMAL_CLEARING', 'customer')],
      ]);
      expect(link.closed).toBe(true);
      expect(desk.sent).toEqual(['INVITE', 'BYE']);
    });

    it.each([488, 415, 606])(
      'a device answering %i to the direct offer is rung again bridged, and call.accepted says why',
      async (status) => {
        direct.refuse(DESK, status);
        const { customer } = await ringing();
        const [first, second] = world.sip.legsTo(DESK);
        expect(first?.ending).toMatchObject({ by: 'remote', statusCode: status });
        expect(direct.placed).toEqual([{ how: 'offerOf', target: DESK, leg: first, offerer: customer }]);
        const bridge = world.sip.bridges[0]!;
        expect(second?.media).toBe(bridge.streamToA);
        expect(customer.state).toBe('ringing');

        second!.peer.answer();
        await settle();
        expect(customer.media).toBe(bridge.streamToB);
        expect(bridge.heardByB).toBe(second!.remoteAudioTrack);
        expect(direct.steps).toEqual([]);
        expect(direct.links).toEqual([]);
        expect(world.events.sequence(a.agent)).toEqual([
          ['call.ringing', { phone: CUSTOMER }],
          ['call.accepted', refusedThenBridged(status)],
        ]);
        expect(world.logger.lines).toContainEqual(
          expect.stringContaining(`the device answered ${status} to the direct offer`),
        );
      },
    );

    it("a plain-RTP customer's offer the device refuses (488) is not bridged (the bridge answers WebRTC only): the customer gets the 488, the call ends ERROR", async () => {
      direct.profile(CUSTOMER, 'rtp').refuse(DESK, 488);
      const { customer } = await ringing();
      expect(world.sip.legsTo(DESK)).toHaveLength(1);
      expect(world.sip.bridges).toEqual([]);
      expect(customer.sent).toEqual(['488']);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.ended', ended('ERROR', 'agent')],
      ]);
      expect(world.logger.lines).toContainEqual(expect.stringContaining('which the gateway cannot bridge'));
    });

    it('a device answering 486 is busy, not refusing media: the call ends BUSY as in bridge mode', async () => {
      direct.refuse(DESK, 486);
      const { customer } = await ringing();
      expect(world.sip.legsTo(DESK)).toHaveLength(1);
      expect(world.sip.bridges).toEqual([]);
      expect(customer.sent).toEqual(['486']);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.ended', ended('BUSY', 'agent')],
      ]);
    });

    it('a device that rings out is not rung again, whatever it would have answered', async () => {
      const { customer, desk } = await ringing();
      jest.advanceTimersByTime(RING_TIMEOUT_MS);
      await settle();
      expect(desk.sent).toEqual(['INVITE', 'CANCEL']);
      expect(world.sip.legsTo(DESK)).toHaveLength(1);
      expect(customer.sent).toEqual(['480']);
      expect(world.events.last('call.ended').data).toEqual(ended('NO_ANSWER', 'agent'));
    });

    it('answering the customer through the port fails: MEDIA_FAILED, both legs down', async () => {
      direct.fail('answerCustomer');
      const { customer, desk } = await ringing();
      desk.peer.answer();
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.ended', ended('MEDIA_FAILED', 'system')],
      ]);
      expect(customer.sent).toEqual(['480']);
      expect(desk.sent).toEqual(['INVITE', 'BYE']);
    });
  });

  describe('a callout', () => {
    /** The agent dials; the desk phone, scripted to answer a bridged offer, is rung. */
    async function dialled(): Promise<void> {
      world.sip.script(DESK, Party.answers);
      await a.line.dial(NUMBER, TX);
      await settle();
    }

    it("offers the device a plain-RTP placeholder, the customer the device's SDP, and connects them when it answers", async () => {
      await dialled();
      const desk = world.sip.legTo(DESK);
      const customer = world.sip.legTo(NUMBER);
      expect(direct.placed).toEqual([
        { how: 'device', target: DESK, leg: desk, profile: 'rtp' },
        { how: 'customer', target: NUMBER, leg: customer, device: desk },
      ]);
      expect(desk.media).toEqual(new FakeStream('direct: rtp placeholder'));
      expect(customer.media).toEqual(new FakeStream('direct: SDP of desk1001'));
      expect(world.sip.tones).toEqual([]);

      customer.peer.ring();
      await settle();
      customer.peer.answer();
      await settle();
      expect(direct.steps).toEqual([`connectCustomer ${NUMBER}`]);
      expect(direct.links[0]?.peer).toBe(desk);
      expect(world.sip.bridges).toEqual([]);
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        ['callout.customerRinging', { number: NUMBER, transactionId: TX }],
        ['call.customerAccepted', DIRECT],
      ]);
    });

    it('a device refusing the plain-RTP placeholder takes a WebRTC one', async () => {
      direct.refuse(DESK, 488, ['rtp']);
      await dialled();
      const [first, second] = world.sip.legsTo(DESK);
      expect(direct.placedTo(DESK)).toEqual([
        { how: 'device', target: DESK, leg: first, profile: 'rtp' },
        { how: 'device', target: DESK, leg: second, profile: 'webrtc' },
      ]);
      const customer = world.sip.legTo(NUMBER);
      customer.peer.answer();
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        CUSTOMER_RINGING,
        [
          'call.customerAccepted',
          {
            media: {
              path: 'direct',
              reason: 'direct media; the device refused a plain-RTP offer (488) and took a WebRTC one',
            },
          },
        ],
      ]);
    });

    it('the WebRTC placeholder a device took is offered first on its next callout (it rings once); refused then, the plain one follows', async () => {
      const talkAndHangUp = async (): Promise<void> => {
        world.sip.legTo(NUMBER).peer.answer();
        await settle();
        world.sip.legTo(NUMBER).peer.bye();
        await settle();
        expect(world.events.last('call.ended').data).toEqual(ended('NORMAL_CLEARING', 'customer'));
      };
      const devicePlacements = (): unknown[] => direct.placed.filter((p) => p.how === 'device');
      direct.refuse(DESK, 488, ['rtp']);
      await dialled();
      await talkAndHangUp();

      direct.placed.length = 0;
      await dialled();
      expect(devicePlacements()).toEqual([
        { how: 'device', target: DESK, leg: world.sip.legTo(DESK), profile: 'webrtc' },
      ]);
      expect(world.sip.legsTo(DESK)).toHaveLength(3);
      await talkAndHangUp();

      // the desk phone is now a plain one: it refuses WebRTC and takes plain RTP
      direct.refuse(DESK, 488, ['webrtc']);
      direct.placed.length = 0;
      await dialled();
      const desks = world.sip.legsTo(DESK).slice(3);
      expect(devicePlacements()).toEqual([
        { how: 'device', target: DESK, leg: desks[0], profile: 'webrtc' },
        { how: 'device', target: DESK, leg: desks[1], profile: 'rtp' },
      ]);
      world.sip.legTo(NUMBER).peer.answer();
      await settle();
      expect(world.events.last('call.customerAccepted').data).toEqual({
        media: {
          path: 'direct',
          reason: 'direct media; the device refused a WebRTC offer (488) and took a plain-RTP one',
        },
      });
    });

    it('a device refusing both placeholders (488) is bridged; the callout is announced once', async () => {
      direct.refuse(DESK, 488, ['rtp', 'webrtc']);
      await dialled();
      const desks = world.sip.legsTo(DESK);
      expect(desks).toHaveLength(3);
      expect(direct.placed).toEqual([
        { how: 'device', target: DESK, leg: desks[0], profile: 'rtp' },
        { how: 'device', target: DESK, leg: desks[1], profile: 'webrtc' },
      ]);
      const bridge = world.sip.bridges[0]!;
      expect(desks[2]?.media).toBe(bridge.streamToA);
      const customer = world.sip.legTo(NUMBER);
      expect(customer.media).toBe(bridge.streamToB);
      expect(bridge.heardByA).toBe(world.sip.tones[0]?.track);

      customer.peer.answer();
      await settle();
      expect(bridge.heardByA).toBe(customer.remoteAudioTrack);
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        CUSTOMER_RINGING,
        ['call.customerAccepted', refusedThenBridged(488)],
      ]);
    });

    it('connecting the answered customer fails: call.ended MEDIA_FAILED', async () => {
      direct.fail('connectCustomer');
      await dialled();
      const desk = world.sip.legTo(DESK);
      const customer = world.sip.legTo(NUMBER);
      customer.peer.answer();
      await settle();
      expect(direct.steps).toEqual([`connectCustomer ${NUMBER}`]);
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        CUSTOMER_RINGING,
        ['call.ended', ended('MEDIA_FAILED', 'system')],
      ]);
      expect(customer.sent).toEqual(['INVITE', 'BYE']);
      expect(desk.sent).toEqual(['INVITE', 'BYE']);
    });

    it('a customer that does not answer is abandoned through the port; callout.failed as in bridge mode', async () => {
      await dialled();
      world.sip.legTo(NUMBER).peer.reject(486);
      await settle();
      expect(direct.steps).toEqual([`abandonCustomer ${NUMBER}`]);
      expect(direct.links).toEqual([]);
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        CUSTOMER_RINGING,
        ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: 486, transactionId: TX }],
        ['call.ended', ended('BUSY', 'customer')],
      ]);
      expect(world.sip.legTo(DESK).sent).toEqual(['INVITE', 'BYE']);
    });

    it('abandoning the customer fails: logged, and the call ends as it would', async () => {
      direct.fail('abandonCustomer', 'the early media would not stop');
      await dialled();
      world.sip.legTo(NUMBER).peer.reject(480);
      await settle();
      expect(direct.steps).toEqual([`abandonCustomer ${NUMBER}`]);
      expect(world.events.sequence(a.agent)).toEqual([
        ['callout.started', { number: NUMBER, transactionId: TX }],
        ['call.agentRinging', {}],
        CUSTOMER_RINGING,
        ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: 480, transactionId: TX }],
        ['call.ended', ended('NO_ANSWER', 'customer')],
      ]);
      expect(world.logger.lines).toContainEqual(expect.stringContaining('the early media would not stop'));
    });
  });

  describe('hold and mute', () => {
    it('hold and unhold are the link’s, announced as in bridge mode; the customer leg is not re-INVITEd by itself', async () => {
      const { call, customer, link } = await answered();
      await expect(call.toggleHold()).resolves.toBe(true);
      expect(link.state).toBe('held');
      await expect(call.toggleHold()).resolves.toBe(false);
      expect(link.ops).toEqual(['hold', 'unhold']);
      expect(link.state).toBe('talking');
      expect(customer.sent).toEqual(['200']);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', DIRECT],
        ['call.held', {}],
        ['call.unheld', {}],
      ]);
    });

    it('mute and unmute are the link’s', async () => {
      const { call, link } = await answered();
      await expect(call.toggleMute()).resolves.toBe(true);
      expect(link.state).toBe('muted');
      await expect(call.toggleMute()).resolves.toBe(false);
      expect(link.ops).toEqual(['mute', 'unmute']);
      expect(world.events.types(a.agent).slice(2)).toEqual(['call.muted', 'call.unmuted']);
    });

    it('a mute while held does nothing on the link; the unhold of a muted call is a mute', async () => {
      const { call, link } = await answered();
      await call.toggleHold();
      await expect(call.toggleMute()).resolves.toBe(true);
      expect(link.ops).toEqual(['hold']);
      await expect(call.toggleHold()).resolves.toBe(false);
      expect(link.ops).toEqual(['hold', 'mute']);
      expect(link.state).toBe('muted');
      await call.toggleMute();
      expect(link.ops).toEqual(['hold', 'mute', 'unmute']);
      expect(world.events.types(a.agent).slice(2)).toEqual([
        'call.held',
        'call.muted',
        'call.unheld',
        'call.unmuted',
      ]);
    });

    it('an unmute while held does nothing on the link; the call resumes unmuted', async () => {
      const { call, link } = await answered();
      await call.toggleMute();
      await call.toggleHold();
      await call.toggleMute();
      await call.toggleHold();
      expect(link.ops).toEqual(['mute', 'hold', 'unhold']);
      expect(link.state).toBe('talking');
      expect(call.model.muted).toBe(false);
    });

    it.each(['hold', 'mute'] as const)(
      'a refused %s leaves the call up: the command rejects and nothing is announced',
      async (op) => {
        const { call, customer, link } = await answered();
        link.refuse(op);
        const command = op === 'hold' ? call.toggleHold() : call.toggleMute();
        await expect(command).rejects.toThrow(`${op}: re-INVITE 488 refused`);
        await settle();
        expect(link.ops).toEqual([op]);
        expect(link.state).toBe('talking');
        expect(call.model.state).toBe('active');
        expect(call.model.muted).toBe(false);
        expect(customer.isTerminated).toBe(false);
        expect(world.events.sequence(a.agent)).toEqual([
          ['call.ringing', { phone: CUSTOMER }],
          ['call.accepted', DIRECT],
        ]);
      },
    );

    it('two toggles at once run one after the other: the link ends as the model says', async () => {
      const { call, link } = await answered();
      const both = await Promise.all([call.toggleMute(), call.toggleMute()]);
      expect(both).toEqual([true, false]);
      expect(link.ops).toEqual(['mute', 'unmute']);
      expect(link.state).toBe('talking');
      expect(call.model.muted).toBe(false);
      await Promise.all([call.toggleHold(), call.toggleMute()]);
      expect(link.ops).toEqual(['mute', 'unmute', 'hold']);
      await call.toggleHold();
      expect(link.ops).toEqual(['mute', 'unmute', 'hold', 'mute']);
      expect(link.state).toBe('muted');
      expect(world.events.types(a.agent).slice(2)).toEqual([
        'call.muted',
        'call.unmuted',
        'call.held',
        'call.muted',
        'call.unheld',
      ]);
    });

    it('a refused unhold leaves the call held', async () => {
      const { call, link } = await answered();
      await call.toggleHold();
      link.refuse('unhold');
      await expect(call.toggleHold()).rejects.toThrow('unhold: re-INVITE 488 refused');
      expect(call.model.state).toBe('held');
      expect(world.events.types(a.agent).slice(2)).toEqual(['call.held']);
    });
  });

  describe('a transfer (handOver)', () => {
    const handOver = (call: ServerCall) =>
      call.handOver({ target: QUEUE, transferId: TRANSFER_ID, timeoutMs: RING_TIMEOUT_MS });

    it("places the target with the customer's offer, retargets the customer, resumes it, and ends TRANSFERRED", async () => {
      const { call, customer, desk, link } = await answered();
      world.sip.script(QUEUE, Party.answers);
      await expect(handOver(call)).resolves.toEqual({ ok: true });
      const queue = world.sip.legTo(QUEUE);
      expect(direct.placedTo(QUEUE)).toEqual([
        { how: 'target', target: QUEUE, leg: queue, customer, placeholder: false },
      ]);
      expect(queue.headers).toEqual([`${TRANSFER_HEADER}: ${TRANSFER_ID}`]);
      expect(queue.fromUser).toBe(CUSTOMER);
      expect(link.ops).toEqual(['retarget queue-sales', 'unhold']);
      expect(link.peer).toBe(queue);
      expect(desk.sent).toEqual(['INVITE', 'BYE']);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', DIRECT],
        ['call.ended', ended('TRANSFERRED', 'agent')],
      ]);
      expect(link.closed).toBe(false);

      customer.peer.bye();
      await settle();
      expect(link.closed).toBe(true);
      expect(queue.sent).toEqual(['INVITE', 'BYE']);
    });

    it('a WebRTC customer: the target is offered a plain-RTP placeholder first (what a relay anchoring WebSocket legs can join), then the customer is retargeted', async () => {
      // the relay answers for the target with ICE, as rtpengine does towards the gateway
      direct.profile(CUSTOMER, 'webrtc').profile('queue-sales', 'webrtc');
      const { call, customer, link } = await answered();
      world.sip.script(QUEUE, Party.answers);
      await expect(handOver(call)).resolves.toEqual({ ok: true });
      const queue = world.sip.legTo(QUEUE);
      expect(direct.placedTo(QUEUE)).toEqual([
        { how: 'target', target: QUEUE, leg: queue, customer, placeholder: true },
      ]);
      expect(queue.media).toEqual(new FakeStream('direct: transfer placeholder'));
      expect(link.ops).toEqual(['retarget queue-sales', 'unhold']);
      expect(link.peer).toBe(queue);
    });

    it("a target refusing the placeholder (488: a WebRTC end with no relay) is called again, once, with the customer's own offer", async () => {
      direct.profile(CUSTOMER, 'webrtc').refuse(QUEUE, 488, ['rtp']);
      const { call, link } = await answered();
      world.sip.script(QUEUE, Party.answers);
      await expect(handOver(call)).resolves.toEqual({ ok: true });
      const placed = direct.placedTo(QUEUE);
      expect(placed.map((p) => (p.how === 'target' ? p.placeholder : p.how))).toEqual([true, false]);
      expect(placed[1]?.leg.media).toEqual(new FakeStream(`direct: offer of ${CUSTOMER}`));
      expect(link.peer).toBe(placed[1]?.leg);
      expect(world.events.types(a.agent)).toEqual(['call.ringing', 'call.accepted', 'call.ended']);
    });

    it("a target refusing the customer's own offer as well: SIP_FAILED with its 488 after two tries, the customer stays with the agent", async () => {
      direct.profile(CUSTOMER, 'webrtc').refuse(QUEUE, 488, ['rtp', 'customer']);
      const { call, link } = await answered();
      await expect(handOver(call)).resolves.toEqual({ ok: false, reason: 'SIP_FAILED', sipCode: 488 });
      expect(direct.placedTo(QUEUE)).toHaveLength(2);
      expect(link.ops).toEqual([]);
      expect(call.model.state).toBe('active');
    });

    it("a target answering the placeholder with plain RTP (no relay between) is hung up and called again with the customer's own offer; refusing it, the transfer fails and the customer stays", async () => {
      direct.profile(CUSTOMER, 'webrtc').refuse(QUEUE, 488, ['customer']);
      const { call, link } = await answered();
      world.sip.script(QUEUE, Party.answers);
      await expect(handOver(call)).resolves.toEqual({ ok: false, reason: 'SIP_FAILED', sipCode: 488 });
      const placed = direct.placedTo(QUEUE);
      expect(placed.map((p) => (p.how === 'target' ? p.placeholder : p.how))).toEqual([true, false]);
      expect(placed[0]?.leg.sent).toEqual(['INVITE', 'BYE']);
      expect(link.ops).toEqual([]);
      expect(call.model.state).toBe('active');
      expect(world.logger.lines).toContainEqual(
        expect.stringContaining('answered the placeholder with media the customer cannot take'),
      );
    });

    it('a target refusing the placeholder for another reason (486 busy) is not called again', async () => {
      direct.profile(CUSTOMER, 'webrtc');
      const { call } = await answered();
      world.sip.script(QUEUE, { invite: [486] });
      await expect(handOver(call)).resolves.toMatchObject({ ok: false, sipCode: 486 });
      expect(direct.placedTo(QUEUE)).toHaveLength(1);
      expect(call.model.state).toBe('active');
    });

    it("another agent's line, offered the placeholder with no relay in between, asks for the customer's own offer (488) before announcing anything; the transfer goes on with it", async () => {
      direct.profile(CUSTOMER, 'webrtc');
      const b = await world.registeredLine('1002');
      const { call, link } = await answered();
      const target = 'sip:1002@pbx.test';
      const moving = call.handOver({ target, transferId: TRANSFER_ID, timeoutMs: RING_TIMEOUT_MS });
      await settle();
      const placed = direct.placedTo(target);
      expect(placed.map((p) => (p.how === 'target' ? p.placeholder : p.how))).toEqual([true, false]);
      expect(placed[0]?.leg.ending).toMatchObject({ by: 'remote', statusCode: 488 });
      expect(world.logger.lines).toContainEqual(
        expect.stringContaining('offered a placeholder no media relay rewrote: refused 488'),
      );
      const desks = world.sip.legsTo('sip:desk1002@pbx.test');
      expect(desks).toHaveLength(1);
      desks[0]!.peer.answer();
      await expect(moving).resolves.toEqual({ ok: true });
      expect(link.peer).toBe(placed[1]?.leg);
      expect(world.events.types(b.agent)).toEqual(['call.ringing', 'call.accepted']);
    });

    it('a held call is retargeted, then resumed', async () => {
      const { call, link } = await answered();
      await call.toggleHold();
      world.sip.script(QUEUE, Party.answers);
      await expect(handOver(call)).resolves.toEqual({ ok: true });
      expect(link.ops).toEqual(['hold', 'retarget queue-sales', 'unhold']);
      expect(link.state).toBe('talking');
    });

    it('a failing retarget: SIP_FAILED, and the call ends MEDIA_FAILED', async () => {
      const { call, customer, desk, link } = await answered();
      world.sip.script(QUEUE, Party.answers);
      link.refuse('retarget');
      await expect(handOver(call)).resolves.toEqual({ ok: false, reason: 'SIP_FAILED' });
      await settle();
      expect(link.ops).toEqual(['retarget queue-sales']);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', DIRECT],
        ['call.ended', ended('MEDIA_FAILED', 'system')],
      ]);
      expect(world.sip.legTo(QUEUE).sent).toEqual(['INVITE', 'BYE']);
      expect(customer.sent).toEqual(['200', 'BYE']);
      expect(desk.sent).toEqual(['INVITE', 'BYE']);
      expect(link.closed).toBe(true);
    });
  });
});

describe('pbx.media: direct on a SIP stack without direct media', () => {
  const world = worldEachTest({ media: 'direct', direct: false });

  it('bridges the call and says why', async () => {
    const a = await world.registeredLine('1001');
    expect(world.sip.direct).toBeUndefined();
    const customer = a.ua.receive(CUSTOMER);
    await settle();
    const desk = world.sip.legTo(DESK);
    const bridge = world.sip.bridges[0]!;
    expect(desk.media).toBe(bridge.streamToA);
    desk.peer.answer();
    await settle();
    expect(customer.media).toBe(bridge.streamToB);
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: CUSTOMER }],
      ['call.accepted', { media: { path: 'bridge', reason: 'the SIP stack has no direct media' } }],
    ]);
  });
});

describe('pbx.media: bridge with a SIP stack that has direct media', () => {
  const world = worldEachTest({ media: 'bridge' });

  it('bridges, and the direct-media port is never used', async () => {
    const a = await world.registeredLine('1001');
    a.ua.receive(CUSTOMER);
    await settle();
    world.sip.legTo(DESK).peer.answer();
    await settle();
    expect(world.sip.direct?.placed).toEqual([]);
    expect(world.events.sequence(a.agent)).toEqual([
      ['call.ringing', { phone: CUSTOMER }],
      ['call.accepted', BRIDGED],
    ]);
  });
});
