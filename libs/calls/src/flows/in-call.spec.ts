// What the agent does during an answered call on a server-side line: hold, mute, DTMF.
import { CallNotAnsweredError, type ServerCall } from '../server-call.js';
import { type AgentLine, worldEachTest, BRIDGED } from '../testing/call-world.js';
import { type FakeBridge, type FakeLeg, Party, settle } from '../testing/fake-sip.js';

const DESK = 'sip:desk1001@pbx.test';
const CUSTOMER = '0901234567';

describe('an answered call', () => {
  const world = worldEachTest();
  let a: AgentLine;
  let call: ServerCall;
  let customer: FakeLeg;
  let desk: FakeLeg;
  let bridge: FakeBridge;

  /** An inbound call from a customer scripted as `script`, answered on the desk phone. */
  async function answered(script = {}): Promise<void> {
    world.sip.script(DESK, Party.answers);
    customer = a.ua.receive(CUSTOMER, { script });
    await settle();
    desk = world.sip.legTo(DESK);
    bridge = world.sip.bridges[0]!;
    call = a.line.call!;
    expect(call.model.state).toBe('active');
  }

  beforeEach(async () => {
    a = await world.registeredLine('1001');
  });

  describe('hold', () => {
    it('re-INVITEs the customer, silences the agent towards it, and unholds the same way', async () => {
      await answered();
      await expect(call.toggleHold()).resolves.toBe(true);
      expect(customer.sent).toEqual(['200', 're-INVITE hold']);
      expect(customer.heldLocally).toBe(true);
      expect(bridge.heardByB).toBeUndefined();
      expect(bridge.heardByA).toBe(customer.remoteAudioTrack);

      await expect(call.toggleHold()).resolves.toBe(false);
      expect(customer.sent).toEqual(['200', 're-INVITE hold', 're-INVITE unhold']);
      expect(bridge.heardByB).toBe(desk.remoteAudioTrack);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', BRIDGED],
        ['call.held', {}],
        ['call.unheld', {}],
      ]);
      expect(desk.sent).toEqual(['INVITE']);
    });

    it('holds and unholds twice in a row', async () => {
      await answered();
      for (let i = 0; i < 2; i++) {
        await call.toggleHold();
        await call.toggleHold();
      }
      expect(world.events.types(a.agent).slice(2)).toEqual([
        'call.held',
        'call.unheld',
        'call.held',
        'call.unheld',
      ]);
      expect(call.model.state).toBe('active');
    });

    it('a customer that refuses the re-INVITE (488): the hold is refused, never announced, and the call stays up', async () => {
      await answered(Party.refusesReinvite);
      await expect(call.toggleHold()).rejects.toThrow('re-INVITE 488 refused');
      await settle();
      expect(customer.sent).toEqual(['200', 're-INVITE hold']);
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', BRIDGED],
      ]);
      expect(call.model.state).toBe('active');
      expect(desk.sent).toEqual(['INVITE']);
    });

    it('is refused on a call that still rings', async () => {
      customer = a.ua.receive(CUSTOMER);
      await settle();
      await expect(a.line.call!.toggleHold()).rejects.toThrow(CallNotAnsweredError);
      expect(customer.sent).toEqual([]);
      expect(world.events.types(a.agent)).toEqual(['call.ringing']);
    });

    it('is refused once the call has ended', async () => {
      await answered();
      customer.peer.bye();
      await settle();
      await expect(call.toggleHold()).rejects.toThrow('the call is ended, not answered');
    });
  });

  describe('mute', () => {
    it('the customer stops hearing the agent; the agent still hears the customer; unmute restores it', async () => {
      await answered();
      expect(await call.toggleMute()).toBe(true);
      expect(bridge.heardByB).toBeUndefined();
      expect(bridge.heardByA).toBe(customer.remoteAudioTrack);
      expect(await call.toggleMute()).toBe(false);
      expect(bridge.heardByB).toBe(desk.remoteAudioTrack);
      await settle();
      expect(world.events.types(a.agent)).toEqual([
        'call.ringing',
        'call.accepted',
        'call.muted',
        'call.unmuted',
      ]);
      expect(customer.sent).toEqual(['200']);
    });

    it('a muted call taken off hold stays silent towards the customer', async () => {
      await answered();
      await call.toggleMute();
      await call.toggleHold();
      await call.toggleHold();
      expect(call.model.muted).toBe(true);
      expect(bridge.heardByB).toBeUndefined();
      await call.toggleMute();
      expect(bridge.heardByB).toBe(desk.remoteAudioTrack);
      expect(world.events.types(a.agent).slice(2)).toEqual([
        'call.muted',
        'call.held',
        'call.unheld',
        'call.unmuted',
      ]);
    });

    it('unmuting a held call keeps the customer on hold, in silence', async () => {
      await answered();
      await call.toggleHold();
      await call.toggleMute();
      await call.toggleMute();
      expect(bridge.heardByB).toBeUndefined();
      expect(call.model.state).toBe('held');
    });

    it('is refused on a call that still rings', async () => {
      a.ua.receive(CUSTOMER);
      await settle();
      await expect(a.line.call!.toggleMute()).rejects.toThrow(CallNotAnsweredError);
      expect(world.events.types(a.agent)).toEqual(['call.ringing']);
    });

    it('mutes and holds a callout the customer answered', async () => {
      world.sip.script(DESK, Party.answers).script('0987654321', Party.answers);
      const out = await a.line.dial('0987654321');
      await settle();
      await out.toggleMute();
      await out.toggleHold();
      expect(world.sip.legTo('0987654321').sent).toEqual(['INVITE', 're-INVITE hold']);
      expect(world.events.types(a.agent)).toEqual([
        'callout.started',
        'call.agentRinging',
        'callout.customerRinging',
        'call.customerAccepted',
        'call.muted',
        'call.held',
      ]);
    });
  });

  describe('DTMF', () => {
    it('sends each digit to the customer by SIP INFO, and announces nothing', async () => {
      await answered();
      await call.sendDtmf('12#*');
      expect(customer.sent).toEqual(['200', 'INFO 1', 'INFO 2', 'INFO #', 'INFO *']);
      expect(customer.peer.digits).toBe('12#*');
      expect(desk.peer.digits).toBe('');
      expect(world.events.types(a.agent)).toEqual(['call.ringing', 'call.accepted']);
    });

    it('works on hold too', async () => {
      await answered();
      await call.toggleHold();
      await call.sendDtmf('9');
      expect(customer.peer.digits).toBe('9');
    });

    it('rejects when the customer refuses the INFO, and the call goes on', async () => {
      await answered({ info: 501 });
      await expect(call.sendDtmf('5')).rejects.toThrow('INFO DTMF failed (501)');
      expect(customer.peer.digits).toBe('');
      expect(call.model.state).toBe('active');
      expect(world.events.types(a.agent)).toEqual(['call.ringing', 'call.accepted']);
    });

    it('is refused on a call that still rings', async () => {
      a.ua.receive(CUSTOMER);
      await settle();
      await expect(a.line.call!.sendDtmf('1')).rejects.toThrow(CallNotAnsweredError);
    });
  });
});
