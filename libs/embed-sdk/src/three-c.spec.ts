import { jest } from '@jest/globals';
import type {
  CommandName,
  CommandPayload,
  EventDataMap,
  EventEnvelope,
  EventType,
} from '@callgate/contracts';
import type { ClientEventMap, CommandAnswer, ConnectOptions } from './client.js';
import { TypedEmitter, type Listener } from './emitter.js';
import {
  THREE_C_CALLBACK_NAMES,
  installThreeC,
  type ThreeCClient,
  type ThreeCFunctions,
  type ThreeCVoice,
} from './three-c.js';

/** A client without a network: the test plays the gateway's events and answers. */
class FakeClient implements ThreeCClient {
  readonly sent: Array<{ name: CommandName; payload: unknown }> = [];
  readonly answers = new Map<CommandName, (payload: unknown) => unknown>();
  closedWith: string | undefined;
  private readonly emitter = new TypedEmitter<ClientEventMap>('fake');

  constructor(readonly options: ConnectOptions) {}

  on<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): () => void {
    return this.emitter.on(type, handler);
  }

  command<K extends CommandName>(name: K, payload: CommandPayload<K>): Promise<CommandAnswer<K>> {
    this.sent.push({ name, payload });
    const answer = this.answers.get(name);
    return Promise.resolve(
      (answer
        ? answer(payload)
        : { ok: false, code: 'NOT_IMPLEMENTED', message: 'not in this test' }) as CommandAnswer<K>,
    );
  }

  close(reason = 'CLIENT_CLOSED'): void {
    this.closedWith ??= reason;
  }

  emit<K extends keyof ClientEventMap>(type: K, payload: ClientEventMap[K]): void {
    this.emitter.emit(type, payload);
  }

  event<K extends EventType>(type: K, data: EventDataMap[K], callId?: string): void {
    const envelope: EventEnvelope<K> = {
      id: String(++eventIds),
      type,
      domain: 'demo',
      ipphone: '5000',
      at: new Date().toISOString(),
      data,
      ...(callId ? { callId } : {}),
    };
    const emit = this.emitter.emit.bind(this.emitter) as (type: K, payload: EventEnvelope<K>) => void;
    emit(type, envelope);
  }
}
let eventIds = 0;

const READY: EventDataMap['session.ready'] = {
  domain: 'demo',
  ipphone: '5000',
  name: 'Agent 5000',
  deviceType: 1,
  callStatus: 'on',
  isEnable: true,
  voiceFence: 5,
  otherTabs: 0,
  sessionToken: 'session-token',
};

type Page = ThreeCFunctions & { csVoice: ThreeCVoice; calls: unknown[][] } & Record<string, unknown>;

/** A page object like `window`, defining every 3C callback (or none) as a recorder. */
function setUp(options: { callbacks?: boolean; gatewayUrl?: string | undefined } = {}) {
  const page = { calls: [] } as unknown as Page;
  if (options.callbacks ?? true) {
    for (const name of THREE_C_CALLBACK_NAMES) {
      page[name] = (...args: unknown[]) => page.calls.push([name, ...args]);
    }
  }
  const clients: FakeClient[] = [];
  installThreeC(page, {
    gatewayUrl: 'gatewayUrl' in options ? () => options.gatewayUrl : 'http://gw.test',
    connect: (connectOptions) => {
      const client = new FakeClient(connectOptions);
      clients.push(client);
      return client;
    },
  });
  const client = (): FakeClient => {
    const last = clients[clients.length - 1];
    if (!last) throw new Error('csInit was not called');
    return last;
  };
  return { page, clients, client };
}

describe('3C facade', () => {
  const spyConsole = () => ({
    warn: jest.spyOn(console, 'warn').mockImplementation(() => undefined),
    error: jest.spyOn(console, 'error').mockImplementation(() => undefined),
  });
  let spies: ReturnType<typeof spyConsole>;
  beforeEach(() => {
    spies = spyConsole();
  });
  afterEach(() => {
    spies.warn.mockRestore();
    spies.error.mockRestore();
  });

  it('csInit connects with the token and the domain; session.ready shows voice, status and device, then csInitComplete', async () => {
    const { page, client } = setUp();
    const init = page.csInit('token-1', 'demo');
    expect(client().options).toEqual({ gatewayUrl: 'http://gw.test', domain: 'demo', token: 'token-1' });
    client().event('session.ready', READY);
    expect(await init).toEqual({ ok: true, session: READY });
    expect(page.calls).toEqual([
      ['csShowEnableVoice', true],
      ['csShowCallStatus', 'Online'],
      ['csShowDeviceType', 1],
      ['csInitComplete'],
    ]);
    expect(page.csVoice).toMatchObject({ enableVoice: true, deviceType: 1, callStatus: 'Online' });
    expect(page.getExtension()).toBe('5000');
  });

  it('a second session.ready (after a reconnection) refreshes the state and fires csInitComplete again', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined, callStatus: 'off' });
    expect(page.calls).toEqual([
      ['csShowEnableVoice', false],
      ['csShowCallStatus', 'Offline'],
      ['csShowDeviceType', 1],
      ['csInitComplete'],
    ]);
  });

  it('a page that defines no callbacks loses nothing: events are skipped and csVoice is kept current', async () => {
    const { page, client } = setUp({ callbacks: false });
    const init = page.csInit('t', 'demo');
    client().event('session.ready', READY);
    client().event('call.ringing', { phone: '0912' }, 'call-1');
    client().event('voice.changed', { isEnable: false, fence: 6 });
    expect(await init).toMatchObject({ ok: true });
    expect(page.csVoice.enableVoice).toBe(false);
    expect(spies.error).not.toHaveBeenCalled();
  });

  it('a callback that throws is reported with console.error, and the next callbacks still run', () => {
    const { page, client } = setUp();
    page.csShowEnableVoice = () => {
      throw new Error('page bug');
    };
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    expect(page.calls).toEqual([['csShowCallStatus', 'Online'], ['csShowDeviceType', 1], ['csInitComplete']]);
    expect(spies.error).toHaveBeenCalledWith(
      '[callgate]',
      "the page's csShowEnableVoice() threw",
      new Error('page bug'),
    );
  });

  it('session.error calls csInitError(code) and csInit resolves to the failure', async () => {
    const { page, client } = setUp();
    const init = page.csInit('bad', 'demo');
    client().event('session.error', { code: 'INVALID_TOKEN', message: 'bad signature' });
    expect(await init).toEqual({ ok: false, code: 'INVALID_TOKEN', message: 'bad signature' });
    expect(page.calls).toEqual([['csInitError', 'INVALID_TOKEN']]);
  });

  it('a refusal that may pass (store down) is retried with the same token until it gets through', () => {
    jest.useFakeTimers();
    try {
      const { page, clients, client } = setUp();
      void page.csInit('crm-jwt', 'demo');
      client().event('session.error', { code: 'COORDINATION_UNAVAILABLE', message: 'store down' });
      expect(page.calls).toEqual([['csInitError', 'COORDINATION_UNAVAILABLE']]);
      jest.advanceTimersByTime(2_000);
      expect(clients).toHaveLength(2);
      expect(client().options.token).toBe('crm-jwt');
      client().event('session.ready', READY);
      expect(page.calls.map(([name]) => name)).toContain('csInitComplete');
      // a refusal for good is not retried
      void page.csInit('bad', 'demo');
      client().event('session.error', { code: 'INVALID_TOKEN', message: 'bad signature' });
      jest.advanceTimersByTime(60_000);
      expect(clients).toHaveLength(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a refused handshake calls csInitError(code)', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().emit('connection.refused', { code: 'ORIGIN_NOT_ALLOWED', message: 'no' });
    expect(page.calls).toEqual([['csInitError', 'ORIGIN_NOT_ALLOWED']]);
  });

  it('an unreachable gateway calls csInitError(CONNECT_FAILED) once; csInitComplete follows when it gets through', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().emit('connection.error', { code: 'CONNECT_FAILED', message: 'ECONNREFUSED' });
    client().emit('connection.error', { code: 'CONNECT_FAILED', message: 'ECONNREFUSED' });
    client().event('session.ready', READY);
    expect(page.calls.map(([name]) => name)).toEqual([
      'csInitError',
      'csShowEnableVoice',
      'csShowCallStatus',
      'csShowDeviceType',
      'csInitComplete',
    ]);
    expect(page.calls[0]).toEqual(['csInitError', 'CONNECT_FAILED']);
  });

  it('csInit without a known gateway URL calls csInitError(CONNECT_FAILED) and says why', async () => {
    const { page, clients } = setUp({ gatewayUrl: undefined });
    expect(await page.csInit('t', 'demo')).toMatchObject({ ok: false, code: 'CONNECT_FAILED' });
    expect(page.calls).toEqual([['csInitError', 'CONNECT_FAILED']]);
    expect(clients).toHaveLength(0);
    expect(spies.error).toHaveBeenCalled();
  });

  it('csEnableCall() takes voice from its answer, and shows it once even when voice.changed follows', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined });
    page.calls.length = 0;
    client().answers.set('voice.enable', () => ({ ok: true, isEnable: true, fence: 7 }));
    expect(await page.csEnableCall()).toEqual({ ok: true, isEnable: true, fence: 7 });
    expect(page.csVoice.enableVoice).toBe(true);
    client().event('voice.changed', { isEnable: true, fence: 7 });
    expect(page.calls).toEqual([['csShowEnableVoice', true]]);
  });

  it('voice.changed with a fence older than the newest one seen is ignored', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().event('voice.changed', { isEnable: false, fence: 4 });
    expect(page.csVoice.enableVoice).toBe(true);
    client().event('voice.changed', { isEnable: false, fence: 6 });
    expect(page.csVoice.enableVoice).toBe(false);
    expect(page.calls).toEqual([['csShowEnableVoice', false]]);
  });

  it('a dropped connection gives up voice; each retry calls csNotifyReconnecting(n, 20), csOndisconnected once after the 20th', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().emit('connection.lost', { reason: 'transport close', willRetry: true });
    for (let attempt = 1; attempt <= 23; attempt++) client().emit('connection.retrying', { attempt });
    expect(page.csVoice.enableVoice).toBe(false);
    expect(page.calls[0]).toEqual(['csShowEnableVoice', false]);
    expect(page.calls[1]).toEqual(['csNotifyReconnecting', 1, 20]);
    expect(page.calls[20]).toEqual(['csNotifyReconnecting', 20, 20]);
    expect(page.calls.slice(21)).toEqual([['csOndisconnected']]);
    // it got through after all: csInitComplete, and a later outage is reported again
    client().event('session.ready', READY);
    expect(page.calls.at(-1)).toEqual(['csInitComplete']);
    client().emit('connection.lost', { reason: 'io server disconnect', willRetry: false });
    expect(page.calls.at(-1)).toEqual(['csOndisconnected']);
  });

  it('changeDevice() sends the type as a number with the mobile; an invalid type is refused without a command', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().answers.set('agent.setDevice', (payload) => ({ ok: true, ...(payload as object) }));
    expect(await page.changeDevice('3', '0931234567')).toEqual({ ok: true, type: 3, mobile: '0931234567' });
    expect(await page.changeDevice(7)).toMatchObject({ ok: false, code: 'INVALID_DEVICE_TYPE' });
    expect(client().sent).toEqual([{ name: 'agent.setDevice', payload: { type: 3, mobile: '0931234567' } }]);
  });

  it('a command the gateway refuses resolves to the refusal and is logged with its code, without a callback', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().answers.set('agent.setDevice', () => ({
      ok: false,
      code: 'INVALID_MOBILE',
      message: 'not a mobile',
    }));
    expect(await page.changeDevice(3, '09x; DROP')).toEqual({
      ok: false,
      code: 'INVALID_MOBILE',
      message: 'not a mobile',
    });
    expect(spies.warn).toHaveBeenCalledWith(
      '[callgate]',
      'changeDevice refused: INVALID_MOBILE not a mobile',
    );
    expect(page.calls).toEqual([]);
  });

  it('changeCallStatus, reConfigDeviceType and getTransferAgent send their commands; the list goes to csListTransferAgent', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    const available = {
      ipphone: '401_202',
      name: 'Agent B',
      online: true,
      callStatus: 'on' as const,
      tabs: 1,
    };
    const agents = [
      { ipphone: '5000', name: 'Agent 5000', online: true, callStatus: 'on' as const, tabs: 1 },
      available,
      { ipphone: '5002', name: 'Agent off', online: true, callStatus: 'off' as const, tabs: 1 },
      { ipphone: '5003', name: 'Agent away', online: false, callStatus: 'on' as const, tabs: 0 },
    ];
    client().answers.set('transfer.listAgents', () => ({ ok: true, agents }));
    await page.changeCallStatus();
    await page.reConfigDeviceType();
    await page.getTransferAgent();
    expect(client().sent.map((s) => s.name)).toEqual([
      'agent.toggleCallStatus',
      'agent.resetDevice',
      'transfer.listAgents',
    ]);
    // available agents only (not this one), with 3C's ipPhone and userName next to callgate's fields
    expect(page.calls).toEqual([
      ['csListTransferAgent', [{ ...available, ipPhone: '401_202', userName: 'Agent B' }]],
    ]);
  });

  it('the agent and call events call their 3C callbacks in the voice tab', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    const agent = { ipphone: '5001', name: 'Agent 5001', online: true, callStatus: 'on' as const, tabs: 1 };
    const c = client();
    c.event('session.ready', READY);
    page.calls.length = 0;
    c.event('agent.callStatus', { status: 'off' });
    c.event('agent.device', { type: 3, mobile: '0930000000' });
    c.event('transfer.agents', { agents: [agent] });
    c.event('call.ringing', { phone: '0912000111' }, 'call-1');
    expect(page.csVoice).toMatchObject({
      isCallout: false,
      hasCall: true,
      isRinging: true,
      callInfo: { caller: '0912000111', callerName: '0912000111', callId: 'call-1', direction: 'inbound' },
    });
    expect(page.getCurrentCallId()).toBe('call-1');
    c.event('call.agentRinging', {}, 'call-2');
    c.event('callout.started', { number: '0912000222' }, 'call-2');
    expect(page.isCsCallout()).toBe(true);
    expect(page.csVoice.callInfo).toMatchObject({ caller: '0912000222', direction: 'outbound' });
    c.event('callout.customerRinging', { number: '0912000222' }, 'call-2');
    c.event('callout.failed', { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: 486 }, 'call-2');
    c.event('call.accepted', {}, 'call-1');
    c.event('call.customerAccepted', {}, 'call-2');
    c.event('call.held', {});
    c.event('call.unheld', {});
    c.event('call.muted', {});
    c.event('call.unmuted', {});
    c.event('call.ended', { cause: 'NORMAL' });
    // this agent (5000) transfers to 5001: the source's events
    const out = { transferId: 't-1', customerCallId: 'call-3', from: '5000', to: '5001', callId: 'call-3' };
    // 5001 transfers to this agent: its request, and the copies this side gets (no source callbacks)
    const inbound = {
      transferId: 't-2',
      customerCallId: 'call-9',
      from: '5001',
      to: '5000',
      callId: 'call-9',
    };
    const request = { ...inbound, phone: '0912', dropAgentId: '5001', expiresAt: '2026-01-01T00:00:30Z' };
    c.event('transfer.request', request);
    c.event('transfer.response', { ...inbound, status: 'OK' });
    c.event('transfer.failed', { ...inbound, error: 'TRANSFER_CALL_FAILED', reason: 'TIMEOUT' });
    c.event('transfer.response', { ...out, status: 'NOK' });
    c.event('transfer.succeeded', { ...out, agent });
    c.event('transfer.succeeded', { ...out, to: 'queue:1', queueId: '1' });
    c.event('transfer.failed', { error: 'TRANSFER_CALL_FAILED' });
    expect(page.calls).toEqual([
      ['csShowCallStatus', 'Offline'],
      ['csShowDeviceType', 3],
      ['csListTransferAgent', [{ ...agent, ipPhone: '5001', userName: 'Agent 5001' }]],
      ['csCallRinging', '0912000111'],
      ['csCurrentCallId', 'call-1'],
      ['csCallRingingAgent'],
      ['csCurrentCallId', 'call-2'],
      ['csCallRinging', '0912000222'],
      ['showCalloutError', 'IPCC_NOT_CONNECT_CUSTOMER', 486],
      ['csAcceptCall'],
      ['csCustomerAccept'],
      ['csHoldCall'],
      ['csUnHoldCall'],
      ['csMuteCall'],
      ['csUnMuteCall'],
      ['csEndCall'],
      ['csNewCallTransferRequest', { ...request, newAgentId: '5000' }],
      ['csTransferRequestClosed', 't-2', 'accepted'],
      ['csTransferRequestClosed', 't-2', 'failed', 'TIMEOUT'],
      ['csTransferCallResponse', 'NOK'],
      ['csTransferCallSuccess', { ...agent, superAgent: '5000', ipphone: '5001' }],
      ['csTransferCallSuccess', { queueId: '1', superAgent: '5000', ipphone: 'queue:1' }],
      ['csTransferCallError', 'TRANSFER_CALL_FAILED', null],
    ]);
    expect(page.csVoice).toMatchObject({ hasCall: false, isRinging: false, isMute: false, isHold: false });
    expect(page.isCsHasCall()).toBe(false);
  });

  it('a transfer request that lapsed unanswered reaches the source as csTransferCallResponse(NOK), then the error', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    const ids = { transferId: 't-5', customerCallId: 'c', from: '5000', to: '5001', callId: 'c' };
    client().event('transfer.failed', { ...ids, error: 'TRANSFER_CALL_FAILED', reason: 'TIMEOUT' });
    expect(page.calls).toEqual([
      ['csTransferCallResponse', 'NOK'],
      ['csTransferCallError', 'TRANSFER_CALL_FAILED', { superAgent: '5000', ipphone: '5001' }],
    ]);
  });

  it('changeDevice(8) is refused with a message saying why, and the page is shown the active device; (6) goes to the gateway', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', { ...READY, deviceType: 4 });
    page.calls.length = 0;
    expect(await page.changeDevice(8)).toMatchObject({
      ok: false,
      code: 'INVALID_DEVICE_TYPE',
      message: expect.stringContaining("the vendor's mobile app") as unknown,
    });
    expect(await page.changeDevice(7)).toMatchObject({
      code: 'INVALID_DEVICE_TYPE',
      message: expect.stringContaining('1, 2, 3, 4 or 6') as unknown,
    });
    client().answers.set('agent.setDevice', () => ({
      ok: false,
      code: 'DEVICE_NOT_AVAILABLE',
      message: 'no softphone',
    }));
    expect(await page.changeDevice('6')).toMatchObject({ ok: false, code: 'DEVICE_NOT_AVAILABLE' });
    client().answers.set('agent.setDevice', () => ({ ok: false, code: 'INVALID_MOBILE', message: 'no' }));
    expect(await page.changeDevice(3, 'x')).toMatchObject({ ok: false, code: 'INVALID_MOBILE' });
    expect(page.calls).toEqual([
      ['csShowDeviceType', 4],
      ['csShowDeviceType', 4],
      ['csShowDeviceType', 4],
      ['csShowDeviceType', 4],
    ]);
    expect(client().sent.map((c) => [c.name, c.payload])).toEqual([
      ['agent.setDevice', { type: 6 }],
      ['agent.setDevice', { type: 3, mobile: 'x' }],
    ]);
  });

  it('transferSurvey answers csTransferSurveyResponse: a free SIP URI or no id is refused, never sent', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    expect(await page.transferSurvey({ id: 1, sipurl: 'sip:evil@elsewhere' })).toMatchObject({
      code: 'INVALID_PAYLOAD',
    });
    expect(await page.transferSurvey({})).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(await page.transferSurvey()).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(page.calls).toEqual([
      ['csTransferSurveyResponse', 'INVALID_PAYLOAD'],
      ['csTransferSurveyResponse', 'INVALID_PAYLOAD'],
      ['csTransferSurveyResponse', 'INVALID_PAYLOAD'],
    ]);
    expect(client().sent).toEqual([]);
  });

  it("transferSurvey({id}) sends transfer.toSurvey and answers 'OK' or the gateway's code; a failed move answers again", async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().answers.set('transfer.toSurvey', (payload) =>
      (payload as { surveyId: string }).surveyId === 'csat'
        ? { ok: true, callId: 'c1', transferId: 't1' }
        : { ok: false, code: 'UNKNOWN_SURVEY', message: 'no such survey' },
    );
    expect(await page.transferSurvey({ id: 'csat', sipurl: '' })).toMatchObject({
      ok: true,
      transferId: 't1',
    });
    expect(await page.transferSurvey({ id: 7 })).toMatchObject({ ok: false, code: 'UNKNOWN_SURVEY' });
    expect(client().sent.map((c) => [c.name, (c.payload as { surveyId?: string }).surveyId])).toEqual([
      ['transfer.toSurvey', 'csat'],
      ['transfer.toSurvey', '7'],
    ]);
    client().event('transfer.succeeded', {
      transferId: 't1',
      customerCallId: 'c1',
      from: READY.ipphone,
      to: 'survey:csat',
      callId: 'c1',
      surveyId: 'csat',
    });
    client().event('transfer.failed', {
      transferId: 't2',
      customerCallId: 'c1',
      from: READY.ipphone,
      to: 'survey:csat',
      error: 'TRANSFER_CALL_FAILED',
      reason: 'NOT_ANSWERED',
      callId: 'c1',
      surveyId: 'csat',
    });
    expect(page.calls).toEqual([
      ['csTransferSurveyResponse', 'OK'],
      ['csTransferSurveyResponse', 'UNKNOWN_SURVEY'],
      ['csTransferSurveyResponse', 'TRANSFER_CALL_FAILED'],
    ]);
  });

  it("a call status noAnswer is shown as 'No Answer' (and kept in csVoice.callStatus)", () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().event('agent.callStatus', { status: 'noAnswer' });
    expect(page.calls).toEqual([['csShowCallStatus', 'No Answer']]);
    expect(page.csVoice.callStatus).toBe('No Answer');
  });

  it('a tab without voice keeps csVoice current but gets no call callbacks (as the vendor)', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined });
    page.calls.length = 0;
    client().event('call.ringing', { phone: '0912000111' }, 'call-1');
    client().event('call.accepted', {}, 'call-1');
    client().event('call.held', {}, 'call-1');
    client().event('call.ended', { cause: 'NORMAL' }, 'call-1');
    expect(page.calls).toEqual([]);
    expect(page.csVoice.callInfo.callId).toBe('call-1');
  });

  it('a callout whose PBX sends no 180 still opens the panel: csCurrentCallId + csCallRinging before csCustomerAccept', () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().event('callout.started', { number: '0912000333' }, 'call-7');
    client().event('call.customerAccepted', {}, 'call-7');
    expect(page.calls).toEqual([
      ['csCurrentCallId', 'call-7'],
      ['csCallRinging', '0912000333'],
      ['csCustomerAccept'],
    ]);
  });

  it('csCallout fires showCalloutInfo synchronously, sends the service id, and a refusal reaches showCalloutError', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    page.calls.length = 0;
    client().answers.set('call.dial', () => ({
      ok: false,
      code: 'CALLOUT_AGENT_BUSY',
      message: 'busy',
    }));
    const answer = page.csCallout('0912000444', 2);
    expect(page.calls).toEqual([['showCalloutInfo', '0912000444']]);
    expect(await answer).toMatchObject({ ok: false, code: 'CALLOUT_AGENT_BUSY' });
    expect(page.calls).toEqual([
      ['showCalloutInfo', '0912000444'],
      ['showCalloutError', 'CALLOUT_AGENT_BUSY', undefined],
    ]);
    expect(client().sent[0]?.payload).toMatchObject({ number: '0912000444', serviceId: '2' });
  });

  it('the call functions send their commands, with the voice fence while this tab holds voice', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    await page.csCallout('0912000111');
    await page.onAcceptCall();
    await page.holdCall();
    await page.muteCall();
    await page.endCall();
    await page.csTransferCallAgent('5001');
    await page.csTransferCallAcd(1);
    await page.responseTransferAgent(1);
    await page.responseTransferAgent(0);
    expect(client().sent).toEqual([
      { name: 'call.dial', payload: { number: '0912000111', voiceFence: 5 } },
      { name: 'call.answer', payload: { voiceFence: 5 } },
      { name: 'call.toggleHold', payload: { voiceFence: 5 } },
      { name: 'call.toggleMute', payload: { voiceFence: 5 } },
      { name: 'call.hangup', payload: { voiceFence: 5 } },
      { name: 'transfer.toAgent', payload: { ipphone: '5001', voiceFence: 5 } },
      { name: 'transfer.toQueue', payload: { queueId: '1', voiceFence: 5 } },
      { name: 'transfer.respond', payload: { accept: true } },
      { name: 'transfer.respond', payload: { accept: false } },
    ]);
    client().event('voice.changed', { isEnable: false, fence: 6 });
    await page.csCallout('0912000111');
    expect(client().sent.at(-1)).toEqual({ name: 'call.dial', payload: { number: '0912000111' } });
  });

  it('a refused transfer reaches csTransferCallError(code, null), once; TRANSFER_CALL_FAILED waits for its event', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    client().answers.set('transfer.toAgent', () => ({
      ok: false,
      code: 'NOT_IN_A_CALL',
      message: 'no call',
    }));
    client().answers.set('transfer.toQueue', () => ({
      ok: false,
      code: 'TRANSFER_CALL_FAILED',
      message: 'no such queue',
    }));
    expect(await page.csTransferCallAgent('5001')).toMatchObject({ ok: false, code: 'NOT_IN_A_CALL' });
    expect(await page.csTransferCallAcd('9')).toMatchObject({ ok: false, code: 'TRANSFER_CALL_FAILED' });
    expect(page.calls.filter(([name]) => name === 'csTransferCallError')).toEqual([
      ['csTransferCallError', 'NOT_IN_A_CALL', null],
    ]);
  });

  it('csUnregister() lets the 3C unload snippet reset the device first, keeps csVoice until then, and closes', async () => {
    const { page, client } = setUp();
    void page.csInit('t', 'demo');
    client().event('session.ready', READY);
    client().answers.set('session.unregister', () => ({ ok: true }));
    const unregistered = page.csUnregister();
    expect(page.csVoice.enableVoice).toBe(true);
    void page.reConfigDeviceType();
    expect(await unregistered).toEqual({ ok: true });
    expect(client().sent.map((s) => s.name)).toEqual(['agent.resetDevice', 'session.unregister']);
    expect(client().closedWith).toBe('UNREGISTERED');
    expect(page.csVoice.enableVoice).toBe(false);
  });

  it('a function called before csInit resolves NOT_CONNECTED and logs a warning', async () => {
    const { page } = setUp();
    expect(await page.csEnableCall()).toMatchObject({ ok: false, code: 'NOT_CONNECTED' });
    expect(spies.warn).toHaveBeenCalledWith(
      '[callgate]',
      'csEnableCall: not connected; call csInit(token, domain) first',
    );
  });

  it('a second csInit closes the first connection and ignores its events', async () => {
    const { page, clients } = setUp();
    const first = page.csInit('t1', 'demo');
    const second = page.csInit('t2', 'demo');
    expect(await first).toMatchObject({ ok: false, code: 'REINIT' });
    expect(clients[0]?.closedWith).toBe('REINIT');
    clients[0]?.event('session.ready', READY);
    expect(page.calls).toEqual([]);
    clients[1]?.event('session.ready', READY);
    expect(await second).toMatchObject({ ok: true });
  });
});
