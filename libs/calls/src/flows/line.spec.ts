// A server-side line itself, over the fake SIP port: its registration as the agent's tabs see it,
// which incoming calls it turns away, and closing it.
import { deviceTargetOf } from '../server-line.js';
import { agentConfig, type AgentLine, worldEachTest, PBX, ended, BRIDGED } from '../testing/call-world.js';
import { Party, settle } from '../testing/fake-sip.js';

const CUSTOMER = '0901234567';

describe('a server-side line', () => {
  const world = worldEachTest();

  describe('registration', () => {
    it('registers the agent extension and tells the tabs once', async () => {
      const a = world.line('1001', { codecs: ['opus', 'PCMA'] });
      expect(a.line.registration).toEqual({ state: 'registering' });
      const started = a.line.start();
      await settle();
      await started;
      expect(a.line.registered).toBe(true);
      expect(a.ua.uri).toBe('sip:1001@pbx.test');
      expect(a.ua.spec.codecs).toEqual(['opus', 'PCMA']);
      expect(a.ua.spec.registrationRetry).toEqual({
        initialMs: 2_000,
        maxMs: 300_000,
        factor: 2,
        jitter: 0.2,
      });
      expect(world.events.sequence(a.agent)).toEqual([['agent.sip', { state: 'registered' }]]);
    });

    it('explains a refused REGISTER in words an administrator acts on, and counts it', async () => {
      world.sip.registrar('1001', { status: 401, retryInMs: 4_000 });
      const a = world.line('1001');
      void a.line.start();
      await settle();
      expect(a.registrationFailures).toBe(1);
      expect(world.events.sequence(a.agent)).toEqual([
        [
          'agent.sip',
          {
            state: 'failed',
            reason: "authentication failed (401): check the agent's SIP user, auth user and password",
            statusCode: 401,
            failures: 1,
            retryInMs: 4_000,
          },
        ],
      ]);
      a.ua.registrar.refuse(401, 8_000);
      a.ua.registrar.accept();
      expect(world.events.types(a.agent)).toEqual(['agent.sip', 'agent.sip']);
      expect(a.line.registration).toEqual({ state: 'registered' });
      expect(a.registrationFailures).toBe(2);
    });

    it.each([
      [403, 'forbidden (403): the PBX refuses this account'],
      [404, 'not found (404): the PBX does not know this user or domain'],
      [500, 'registration refused (500)'],
      [undefined, 'the PBX did not answer the REGISTER'],
    ])('a REGISTER answered %s reads "%s"', async (status, reason) => {
      const a = await world.registeredLine('1001');
      a.ua.registrar.refuse(status);
      expect(a.line.registration).toMatchObject({ state: 'failed', reason });
    });

    it('tells the tabs when the PBX connection drops, and why', async () => {
      const a = await world.registeredLine('1001');
      a.ua.registrar.disconnect(undefined, 'ECONNREFUSED');
      expect(world.events.sequence(a.agent)).toEqual([
        [
          'agent.sip',
          { state: 'disconnected', reason: 'cannot connect to the PBX (ws://pbx.test:8080): ECONNREFUSED' },
        ],
      ]);
      a.ua.registrar.accept();
      expect(a.line.registration).toEqual({ state: 'registered' });
    });

    it('does not refresh the registration while fenced', async () => {
      const a = await world.registeredLine('1001');
      expect(a.ua.spec.mayRefreshRegistration()).toBe(true);
      a.serving = false;
      expect(a.ua.spec.mayRefreshRegistration()).toBe(false);
    });
  });

  describe('turns an incoming call away', () => {
    let a: AgentLine;
    beforeEach(async () => {
      a = await world.registeredLine('1001');
    });

    it('with 480 while fenced, announcing nothing and ringing nobody', async () => {
      a.serving = false;
      const customer = a.ua.receive(CUSTOMER);
      await settle();
      expect(customer.sent).toEqual(['480']);
      expect(world.events.published).toEqual([]);
      expect(world.sip.legs.filter((l) => l.direction === 'outgoing')).toEqual([]);
    });

    it.each(['off', 'noAnswer'] as const)('with 480 when the call status is %s', async (callStatus) => {
      a.state = { deviceType: 2, callStatus };
      const customer = a.ua.receive(CUSTOMER);
      await settle();
      expect(customer.sent).toEqual(['480']);
      expect(world.events.published).toEqual([]);
    });

    it('with 480 in browser mode (no server-side device)', async () => {
      a.state = { deviceType: 1, callStatus: 'on' };
      const customer = a.ua.receive(CUSTOMER);
      await settle();
      expect(customer.sent).toEqual(['480']);
      expect(world.logger.at('warn')).toContain(
        `acme/1001: no server-side device (type 1), ${CUSTOMER} refused 480`,
      );
    });

    it('with 486 while a callout is under way', async () => {
      await a.line.dial('0987654321');
      const customer = a.ua.receive(CUSTOMER);
      await settle();
      expect(customer.sent).toEqual(['486']);
      expect(world.events.types(a.agent)).toEqual(['callout.started', 'call.agentRinging']);
    });
  });

  describe('close', () => {
    it('ends the call SHUTDOWN by system and unregisters; a second close does nothing', async () => {
      const a = await world.registeredLine('1001');
      world.sip.script('sip:desk1001@pbx.test', Party.answers);
      const customer = a.ua.receive(CUSTOMER);
      await settle();
      await a.line.close('drain');
      await a.line.close('again');
      await settle();
      expect(world.events.sequence(a.agent)).toEqual([
        ['call.ringing', { phone: CUSTOMER }],
        ['call.accepted', BRIDGED],
        ['call.ended', ended('SHUTDOWN', 'system')],
      ]);
      expect(customer.sent).toEqual(['200', 'BYE']);
      expect(a.ua.closes).toEqual(['drain']);
      expect(a.line.registered).toBe(false);
      expect(a.idle).toBe(1);
    });

    it('publishes no registration change after it closed', async () => {
      const a = await world.registeredLine('1001');
      await a.line.close('drain');
      a.ua.registrar.disconnect('bye');
      expect(world.events.published).toEqual([]);
    });
  });

  it('logs one info line per call event with the agent and the call id', async () => {
    const a = await world.registeredLine('1001');
    world.sip.script('sip:desk1001@pbx.test', Party.answers);
    a.ua.receive(CUSTOMER);
    await settle();
    const callId = a.line.call!.callId;
    expect(world.logger.at('info')).toEqual(
      expect.arrayContaining([
        `acme/1001: call ${callId}: call.ringing (ringing)`,
        `acme/1001: call ${callId}: call.accepted (active)`,
      ]),
    );
  });

  it('logs a publication that failed, and the call goes on', async () => {
    const a = await world.registeredLine('1001');
    world.events.failWith = new Error('bus down');
    world.sip.script('sip:desk1001@pbx.test', Party.answers);
    a.ua.receive(CUSTOMER);
    await settle();
    expect(a.line.call?.model.state).toBe('active');
    expect(world.logger.at('error')).toContain(
      `acme/1001: call ${a.line.call!.callId}: publishing call.ringing failed: Error: bus down`,
    );
    world.events.failWith = undefined;
  });
});

describe('deviceTargetOf', () => {
  const config = agentConfig('1001');

  it.each([
    [{ deviceType: 1, callStatus: 'on' }, undefined],
    [{ deviceType: 2, callStatus: 'on' }, 'sip:desk1001@pbx.test'],
    [{ deviceType: 4, callStatus: 'on' }, 'sip:desk1001@pbx.test'],
    [{ deviceType: 6, callStatus: 'on' }, 'sip:soft1001@pbx.test'],
    [{ deviceType: 3, callStatus: 'on' }, '90912345678'],
    [{ deviceType: 3, callStatus: 'on', mobile: '0977000111' }, '90977000111'],
  ] as const)('for %j rings %s', (state, target) => {
    expect(deviceTargetOf(state, config, PBX)).toBe(target);
  });

  it('has no mobile target when the agent has no mobile', () => {
    const { mobile: _none, ...devices } = config.devices;
    expect(deviceTargetOf({ deviceType: 3, callStatus: 'on' }, { ...config, devices }, PBX)).toBeUndefined();
  });
});
