// The fake SIP port keeps the promises its tests rely on: libs/sip's timing and causes, the PBX's
// routing between its user agents, the direct-media port's scripted refusals.
import { agentConfig, PBX } from './call-world.js';
import { FakeSip, FakeStream, type FakeUserAgent, Party, settle, userOf } from './fake-sip.js';

const spec = (user: string) => ({
  agent: { domain: 'acme', ipphone: user },
  config: agentConfig(user),
  pbx: PBX,
  mayRefreshRegistration: () => true,
});

describe('the fake SIP port', () => {
  let sip: FakeSip;
  let ua: FakeUserAgent;
  const media = { label: 'mic' };

  beforeEach(async () => {
    sip = new FakeSip();
    ua = sip.createUserAgent(spec('1001'));
    const started = ua.start();
    await settle();
    await started;
  });

  it('reports a local reject, CANCEL and BYE at once, as JsSIP does', async () => {
    const ended: string[] = [];
    const incoming = ua.receive('0901');
    incoming.once('failed', (e) => ended.push(`failed ${e.cause} ${e.by} ${e.statusCode}`));
    incoming.reject(486);
    const outgoing = ua.call('0902', { media });
    outgoing.once('failed', (e) => ended.push(`failed ${e.cause} ${e.by}`));
    void outgoing.hangup();
    sip.script('0903', Party.answersAtOnce);
    const answered = ua.call('0903', { media });
    await settle();
    answered.once('ended', (e) => ended.push(`ended ${e.cause} ${e.by}`));
    void answered.hangup();
    expect(ended).toEqual(['failed rejected local 486', 'failed canceled local', 'ended bye local']);
    expect([incoming.sent, outgoing.sent, answered.sent]).toEqual([
      ['486'],
      ['INVITE', 'CANCEL'],
      ['INVITE', 'BYE'],
    ]);
  });

  it('delivers what the far end sends on later microtasks, in script order', async () => {
    sip.script('0904', { invite: ['ring', 'answer'] });
    const leg = ua.call('0904', { media });
    const seen: string[] = [];
    leg.once('progress', (e) => seen.push(`progress ${e.statusCode}`));
    leg.once('accepted', () => seen.push('accepted'));
    leg.once('remoteTrack', () => seen.push('track'));
    expect(seen).toEqual([]);
    await settle();
    expect(seen).toEqual(['progress 180', 'accepted', 'track']);
    expect(leg.state).toBe('established');
  });

  it('routes a call to a registered user agent, with the URI headers and the From user asked for', async () => {
    const callee = sip.createUserAgent(spec('1002'));
    void callee.start();
    await settle();
    const caller = ua.call('sip:1002@pbx.test?X-Callgate-Transfer=abc', { media, fromUser: '0905' });
    await settle();
    const incoming = callee.legs[0]!;
    expect(incoming.remoteUser).toBe('0905');
    expect(incoming.requestHeader('x-callgate-transfer')).toBe('abc');
    expect(caller.state).toBe('ringing');
    await incoming.answer({ media: { label: 'callee mic' } });
    expect(caller.state).toBe('established');
    expect(() => caller.peer.answer()).toThrow('drive its leg');
    incoming.peer.bye(); // the caller hangs up
    expect(caller.ending).toEqual({ cause: 'bye', by: 'local' });
    expect(incoming.ending).toEqual({ cause: 'bye', by: 'remote' });
  });

  it('answers 404 for a user agent that is not registered, and rejects answer() once the caller gave up', async () => {
    sip.createUserAgent(spec('1003'));
    const toNobody = ua.call('1003', { media });
    await settle();
    expect(toNobody.ending).toEqual({ cause: 'notFound', by: 'remote', statusCode: 404 });
    const incoming = ua.receive('0906');
    const answering = incoming.answer({ media });
    incoming.peer.cancel();
    await expect(answering).rejects.toThrow('answer(): the call ended first');
  });

  it('keeps a call whose hold re-INVITE is refused (as the call driver does), and holds only once', async () => {
    sip.script('0907', Party.refusesReinvite);
    const leg = ua.call('0907', { media });
    await settle();
    await expect(leg.hold()).rejects.toThrow('re-INVITE 488 refused');
    expect(leg.ending).toBeUndefined();
    expect(leg.sent).toEqual(['INVITE', 're-INVITE hold']);
    await leg.hangup();
    sip.script('0908', Party.answers);
    const ok = ua.call('0908', { media });
    await settle();
    await ok.hold();
    await ok.hold();
    expect(ok.sent).toEqual(['INVITE', 're-INVITE hold']);
    await ok.hangup();
  });

  it('throws on a call when the PBX cannot be reached, and hangs every leg up on close', async () => {
    const leg = ua.call('0909', { media });
    ua.reachable = false;
    expect(() => ua.call('0910', { media })).toThrow('cannot reach the PBX');
    await ua.close('bye');
    expect(leg.sent).toEqual(['INVITE', 'CANCEL']);
    expect([ua.isRegistered, ua.closes]).toEqual([false, ['bye']]);
  });

  it('direct media: a refused offer is the scripted status and is not routed; only offers of the kinds named are refused', async () => {
    const direct = sip.direct!;
    const callee = sip.createUserAgent(spec('1002'));
    void callee.start();
    await settle();
    direct.refuse('1002', 488, ['rtp']);
    const refused = direct.callDevice(ua, 'sip:1002@pbx.test', 'rtp', []);
    await settle();
    expect(refused.ending).toEqual({ cause: 'incompatibleSdp', by: 'remote', statusCode: 488 });
    expect(callee.legs).toEqual([]);
    const taken = direct.callDevice(ua, 'sip:1002@pbx.test', 'webrtc', []);
    await settle();
    expect(taken.state).toBe('ringing');
    expect(callee.legs).toHaveLength(1);
    expect(direct.placed.map((p) => [p.how, p.leg.media])).toEqual([
      ['device', new FakeStream('direct: rtp placeholder')],
      ['device', new FakeStream('direct: webrtc placeholder')],
    ]);
    await taken.hangup();
  });

  it('direct media: a link answers each operation on a later microtask; a refused one rejects and changes nothing', async () => {
    const direct = sip.direct!;
    const customer = ua.receive('0911');
    sip.script('0912', Party.answers);
    const device = direct.callWithOfferOf(ua, '0912', customer, {});
    await settle();
    const link = await direct.answerCustomer(device, customer);
    expect(customer.state).toBe('established');
    const held = link.hold();
    expect(link.state).toBe('talking');
    await held;
    expect(link.state).toBe('held');
    link.refuse('unhold', 491);
    await expect(link.unhold()).rejects.toThrow('unhold: re-INVITE 491 refused');
    expect([link.state, link.ops]).toEqual(['held', ['hold', 'unhold']]);
    direct.fail('connectCustomer', 'no answer to the re-INVITE');
    const callout = direct.callCustomer(ua, device, '0913', []);
    await expect(direct.connectCustomer(callout)).rejects.toThrow('no answer to the re-INVITE');
    link.close();
    await Promise.all([customer.hangup(), device.hangup(), callout.hangup()]);
  });

  it('names the SIP user of a target', () => {
    expect(['sip:1002@pbx.test', 'sips:a@b;transport=ws', '0901', 'sip:q@h?X-A=1'].map(userOf)).toEqual([
      '1002',
      'a',
      '0901',
      'q',
    ]);
  });
});
