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
  JS_PHONE_FUNCTION_NAMES,
  JS_PHONE_STORAGE_KEY,
  installJsPhone,
  type JsPhoneClient,
  type JsPhoneFunctions,
} from './js-phone.js';
import type { TonePlayer } from './tones.js';

/** A client without a network: the test plays the gateway's events and answers. */
class FakeClient implements JsPhoneClient {
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
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.emitter.emit('closed', { reason });
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

/** A tone that records what it was asked to do. */
class FakeTone implements TonePlayer {
  playing = false;
  readonly log: string[] = [];
  play(): void {
    this.playing = true;
    this.log.push('play');
  }
  stop(): void {
    this.playing = false;
    this.log.push('stop');
  }
}

/** A Storage in memory. */
class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
}

const READY: EventDataMap['session.ready'] = {
  domain: 'demo',
  ipphone: '5000',
  name: 'Agent 5000',
  deviceType: 4,
  callStatus: 'on',
  isEnable: true,
  voiceFence: 5,
  otherTabs: 0,
  sessionToken: 'session-token',
};

type Page = JsPhoneFunctions & Record<string, unknown>;
type FakeElement = { value?: string; hidden?: boolean; style: { display: string } };

function setUp(
  options: {
    credentials?: { domain?: string; token?: string };
    gatewayUrl?: string | undefined;
    elements?: Record<string, FakeElement>;
    page?: Record<string, unknown>;
  } = {},
) {
  const page = (options.page ?? {}) as Page;
  const clients: FakeClient[] = [];
  const ring = new FakeTone();
  const ringback = new FakeTone();
  const storage = new MemoryStorage();
  const credentials = options.credentials ?? { domain: 'demo', token: 'session-token-1' };
  const elements = options.elements ?? {};
  const facade = installJsPhone(page, {
    gatewayUrl: 'gatewayUrl' in options ? () => options.gatewayUrl : 'http://gw.test',
    credentials: () => credentials,
    connect: (connectOptions) => {
      const client = new FakeClient(connectOptions);
      clients.push(client);
      return client;
    },
    document: { getElementById: (id: string) => (elements[id] ?? null) as unknown as HTMLElement | null },
    storage: () => storage,
    tones: { ring, ringback },
  });
  const client = (): FakeClient => {
    const last = clients[clients.length - 1];
    if (!last) throw new Error('onRegister was not called');
    return last;
  };
  const register = async () => {
    const registered = page.onRegister();
    client().event('session.ready', READY);
    expect(await registered).toEqual({ ok: true, session: READY });
  };
  return { page, facade, clients, client, ring, ringback, storage, elements, register };
}

describe('JS-PHONE facade', () => {
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

  it('installs every function of the JS-PHONE table and keeps a name the page defines already', () => {
    const own = (): string => 'the page’s own';
    const { page } = setUp({ page: { onCall: own } });
    for (const name of JS_PHONE_FUNCTION_NAMES) expect(typeof page[name]).toBe('function');
    expect(page.onCall).toBe(own);
    expect(spies.warn).toHaveBeenCalledWith(
      '[callgate]',
      'the page defines onCall already: it is kept (the JS-PHONE one is callgate.jsPhone.onCall)',
    );
  });

  it('onRegister connects with the configured domain and token and resolves on session.ready', async () => {
    const { page, facade, clients, client, register } = setUp();
    expect(facade.registered).toBe(false);
    await register();
    expect(client().options).toEqual({
      gatewayUrl: 'http://gw.test',
      domain: 'demo',
      token: 'session-token-1',
    });
    expect(facade.registered).toBe(true);
    expect(facade.session).toEqual(READY);
    expect(facade.voice).toBe(true);
    // registering again with the same credentials keeps the connection, and gives its latest state
    const later = { ...READY, callStatus: 'off' as const };
    client().event('session.ready', later);
    expect(await page.onRegister()).toEqual({ ok: true, session: later });
    expect(clients).toHaveLength(1);
    expect(client().closedWith).toBeUndefined();
    // while the connection is down, registering again starts a new one at once
    client().emit('connection.lost', { reason: 'transport close', willRetry: true });
    void page.onRegister();
    expect(clients).toHaveLength(2);
    expect(clients[0]?.closedWith).toBe('REINIT');
  });

  it('onRegister takes voice when another tab holds it, and resolves once it has it', async () => {
    const { page, facade, client } = setUp();
    const registered = page.onRegister();
    client().answers.set('voice.enable', () => ({ ok: true, isEnable: true, fence: 9 }));
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined });
    expect(await registered).toEqual({ ok: true, session: { ...READY, isEnable: true, voiceFence: 9 } });
    expect(client().sent).toEqual([{ name: 'voice.enable', payload: {} }]);
    expect(facade.voice).toBe(true);
    // a reconnection without voice does not take it back
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined });
    expect(client().sent).toHaveLength(1);
    expect(facade.voice).toBe(false);
  });

  it('onRegister takes voice on the first session.ready even after the gateway was unreachable for a while', async () => {
    const { page, facade, client } = setUp();
    const registered = page.onRegister();
    client().emit('connection.error', { code: 'CONNECT_FAILED', message: 'ECONNREFUSED' });
    expect(await registered).toMatchObject({ ok: false, code: 'CONNECT_FAILED' });
    client().answers.set('voice.enable', () => ({ ok: true, isEnable: true, fence: 3 }));
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined });
    await Promise.resolve();
    expect(client().sent).toEqual([{ name: 'voice.enable', payload: {} }]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(facade.voice).toBe(true);
  });

  it('onRegister still registers when voice cannot be taken, and says why', async () => {
    const { page, facade, client } = setUp();
    const registered = page.onRegister();
    client().answers.set('voice.enable', () => ({
      ok: false,
      code: 'COORDINATION_UNAVAILABLE',
      message: 'redis down',
    }));
    client().event('session.ready', { ...READY, isEnable: false, voiceFence: undefined });
    expect(await registered).toMatchObject({ ok: true, session: { isEnable: false } });
    expect(facade.registered).toBe(true);
    expect(facade.voice).toBe(false);
    expect(spies.warn).toHaveBeenCalledWith(
      '[callgate]',
      'onRegister: this tab could not take voice: COORDINATION_UNAVAILABLE redis down',
    );
  });

  it('onRegister without a token, or without a gateway URL, says so and opens nothing', async () => {
    const noToken = setUp({ credentials: { domain: 'demo' } });
    expect(await noToken.page.onRegister()).toMatchObject({ ok: false, code: 'NOT_LOGGED_IN' });
    expect(noToken.clients).toHaveLength(0);
    const noUrl = setUp({ gatewayUrl: undefined });
    expect(await noUrl.page.onRegister()).toMatchObject({ ok: false, code: 'CONNECT_FAILED' });
    expect(noUrl.clients).toHaveLength(0);
    expect(spies.error).toHaveBeenCalledTimes(2);
  });

  it('a refused registration resolves to its code; the next onRegister opens a new connection', async () => {
    const { page, facade, clients, client } = setUp();
    const first = page.onRegister();
    client().event('session.error', { code: 'INVALID_TOKEN', message: 'bad signature' });
    expect(await first).toEqual({ ok: false, code: 'INVALID_TOKEN', message: 'bad signature' });
    expect(facade.registered).toBe(false);
    const second = page.onRegister();
    expect(clients).toHaveLength(2);
    client().emit('connection.refused', { code: 'ORIGIN_NOT_ALLOWED', message: 'no' });
    expect(await second).toMatchObject({ ok: false, code: 'ORIGIN_NOT_ALLOWED' });
  });

  it('an unreachable gateway resolves onRegister to CONNECT_FAILED; the client retries and registers later', async () => {
    const { page, facade, client } = setUp();
    const registered = page.onRegister();
    client().emit('connection.error', { code: 'CONNECT_FAILED', message: 'ECONNREFUSED' });
    expect(await registered).toMatchObject({ ok: false, code: 'CONNECT_FAILED' });
    client().event('session.ready', READY);
    expect(facade.registered).toBe(true);
  });

  it('onCall dials the trimmed number of #alohub_call_dial (or #txtPhoneNumber, or the one given)', async () => {
    const elements: Record<string, FakeElement> = {
      alohub_call_dial: { value: '  0901000001 ', style: { display: '' } },
      txtPhoneNumber: { value: '0901000002', style: { display: '' } },
    };
    const { page, client, register } = setUp({ elements });
    await register();
    client().answers.set('call.dial', () => ({ ok: true, callId: 'c1' }));
    expect(await page.onCall()).toEqual({ ok: true, callId: 'c1' });
    elements.alohub_call_dial = { value: '', style: { display: '' } };
    await page.onCall();
    await page.onCall(' 0901000003 ');
    await page.onCall('  '); // nothing given: the input's number
    // wired as an event handler, onCall gets an Event: the input's number is used
    await (page.onCall as (arg: unknown) => Promise<unknown>)({ type: 'click' });
    expect(client().sent).toEqual([
      { name: 'call.dial', payload: { number: '0901000001', voiceFence: 5 } },
      { name: 'call.dial', payload: { number: '0901000002', voiceFence: 5 } },
      { name: 'call.dial', payload: { number: '0901000003', voiceFence: 5 } },
      { name: 'call.dial', payload: { number: '0901000002', voiceFence: 5 } },
      { name: 'call.dial', payload: { number: '0901000002', voiceFence: 5 } },
    ]);
  });

  it('onCall with no number refuses locally with INVALID_NUMBER; commands before onRegister answer NOT_CONNECTED', async () => {
    const { page, client, register } = setUp({
      elements: { alohub_call_dial: { value: '   ', style: { display: '' } } },
    });
    expect(await page.onAnswer()).toMatchObject({ ok: false, code: 'NOT_CONNECTED' });
    expect(await page.onHangUp()).toMatchObject({ ok: false, code: 'NOT_CONNECTED' });
    await register();
    expect(await page.onCall()).toMatchObject({ ok: false, code: 'INVALID_NUMBER' });
    expect(client().sent).toEqual([]);
  });

  it('onAnswer sends call.answer and onHangUp call.hangup; a refusal resolves with its code and a warning', async () => {
    const { page, client, register } = setUp();
    await register();
    client().event('voice.changed', { isEnable: false, fence: 6 });
    client().answers.set('call.answer', () => ({
      ok: false,
      code: 'DEVICE_NOT_AVAILABLE',
      message: 'answer it on the device',
    }));
    client().answers.set('call.hangup', () => ({ ok: true, callId: 'c1' }));
    expect(await page.onAnswer()).toEqual({
      ok: false,
      code: 'DEVICE_NOT_AVAILABLE',
      message: 'answer it on the device',
    });
    expect(await page.onHangUp()).toEqual({ ok: true, callId: 'c1' });
    // without voice the commands carry no fencing token
    expect(client().sent).toEqual([
      { name: 'call.answer', payload: {} },
      { name: 'call.hangup', payload: {} },
    ]);
    expect(spies.warn).toHaveBeenCalledWith(
      '[callgate]',
      'onAnswer refused: DEVICE_NOT_AVAILABLE answer it on the device',
    );
  });

  it('call.ringing rings until the call is accepted; a refused onAnswer keeps it ringing', async () => {
    const { page, client, ring, ringback, register } = setUp();
    await register();
    client().event('call.ringing', { phone: '0901000001' }, 'c1');
    expect(ring.playing).toBe(true);
    expect(ringback.playing).toBe(false);
    client().answers.set('call.answer', () => ({ ok: false, code: 'DEVICE_NOT_AVAILABLE', message: 'x' }));
    await page.onAnswer();
    expect(ring.playing).toBe(true);
    client().event('call.accepted', {}, 'c1');
    expect(ring.playing).toBe(false);
  });

  it('callout.started plays the ringback; the customer answering stops it', async () => {
    const { client, ring, ringback, register } = setUp();
    await register();
    client().event('callout.started', { number: '0901000001' }, 'c2');
    client().event('call.agentRinging', {}, 'c2');
    expect(ringback.playing).toBe(true);
    client().event('call.customerAccepted', {}, 'c2');
    expect(ringback.playing).toBe(false);
    expect(ring.playing).toBe(false);
  });

  it.each([
    ['callout.failed', { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: 486 }],
    ['call.ended', { cause: 'NORMAL_CLEARING' }],
  ] as const)('%s stops the tones', async (type, data) => {
    const { client, ring, ringback, register } = setUp();
    await register();
    client().event('callout.started', { number: '0901000001' }, 'c3');
    client().event(type, data, 'c3');
    expect(ringback.playing).toBe(false);
    client().event('call.ringing', { phone: '0901000001' }, 'c4');
    client().event(type, data, 'c4');
    expect(ring.playing).toBe(false);
  });

  it('a dropped connection stops a ringing tone and is no longer registered', async () => {
    const { facade, client, ring, register } = setUp();
    await register();
    client().event('call.ringing', { phone: '0901000001' }, 'c5');
    client().emit('connection.lost', { reason: 'transport close', willRetry: true });
    expect(ring.playing).toBe(false);
    expect(facade.registered).toBe(false);
    expect(facade.voice).toBe(false);
  });

  it('a successful onHangUp stops the tones at once', async () => {
    const { page, client, ringback, register } = setUp();
    await register();
    client().event('callout.started', { number: '0901000001' }, 'c6');
    client().answers.set('call.hangup', () => ({ ok: true, callId: 'c6' }));
    await page.onHangUp();
    expect(ringback.playing).toBe(false);
  });

  it('startRingTone, stopRingTone and stopRingbackTone drive the tones directly', () => {
    const { page, ring, ringback } = setUp();
    ringback.play();
    page.startRingTone();
    expect(ring.playing).toBe(true);
    expect(ringback.playing).toBe(false);
    page.stopRingTone();
    expect(ring.playing).toBe(false);
    ringback.play();
    page.stopRingbackTone();
    expect(ringback.playing).toBe(false);
  });

  it('on(): handlers added before onRegister see the events and the connection events; off() removes them', async () => {
    const { facade, client, register } = setUp();
    const phones: string[] = [];
    const off = facade.on('call.ringing', (event) => phones.push(event.data.phone));
    const opened: boolean[] = [];
    const onOpen = ({ reconnected }: { reconnected: boolean }): void => void opened.push(reconnected);
    facade.on('connection.open', onOpen);
    await register();
    client().emit('connection.open', { reconnected: false });
    client().event('call.ringing', { phone: '0901000001' });
    const accounts: unknown[] = [];
    facade.on('voice.sip', (event) => accounts.push(event));
    client().event('voice.sip', {
      wsUri: 'ws://pbx',
      sipDomain: 'pbx',
      user: '5000',
      password: 'sip-secret',
      displayName: 'Agent 5000',
    });
    expect(accounts).toEqual([]);
    off();
    facade.off('connection.open', onOpen);
    client().emit('connection.open', { reconnected: true });
    client().event('call.ringing', { phone: '0901000002' });
    expect(phones).toEqual(['0901000001']);
    expect(opened).toEqual([false]);
  });

  it('a new onRegister with other credentials closes the old connection and ignores its events', async () => {
    const credentials = { domain: 'demo', token: 'token-a' };
    const { page, facade, clients, ring } = setUp({ credentials });
    const seen: string[] = [];
    facade.on('call.ringing', (event) => seen.push(event.data.phone));
    const first = page.onRegister();
    credentials.token = 'token-b';
    const second = page.onRegister();
    expect(await first).toMatchObject({ ok: false, code: 'REINIT' });
    expect(clients).toHaveLength(2);
    expect(clients[0]?.closedWith).toBe('REINIT');
    expect(clients[1]?.options.token).toBe('token-b');
    clients[0]?.event('call.ringing', { phone: '0901000009' });
    expect(ring.playing).toBe(false);
    expect(seen).toEqual([]);
    clients[1]?.event('session.ready', READY);
    expect(await second).toMatchObject({ ok: true });
  });

  it('onTogglePhone hides and shows #alohub_shipjs_container', () => {
    const container: FakeElement = { hidden: false, style: { display: '' } };
    const { page } = setUp({ elements: { alohub_shipjs_container: container } });
    expect(page.onTogglePhone()).toBe(false);
    expect(container.style.display).toBe('none');
    expect(page.onTogglePhone()).toBe(true);
    expect(container.style.display).toBe('');
    container.hidden = true;
    expect(page.onTogglePhone()).toBe(true);
    expect(container.hidden).toBe(false);
  });

  it('onTogglePhone without the container warns and answers false', () => {
    const { page } = setUp();
    expect(page.onTogglePhone()).toBe(false);
    expect(spies.warn).toHaveBeenCalled();
  });

  it('saveCredentials stores the gateway URL, domain, extension and name, never a token or password', async () => {
    const { page, storage, register } = setUp();
    expect(page.loadCredentials()).toBeNull();
    await register();
    const saved = page.saveCredentials();
    expect(saved).toEqual({
      gatewayUrl: 'http://gw.test',
      domain: 'demo',
      ipphone: '5000',
      name: 'Agent 5000',
    });
    expect(JSON.parse(storage.getItem(JS_PHONE_STORAGE_KEY) ?? 'null')).toEqual(saved);
    expect(page.loadCredentials()).toEqual(saved);

    // what the page passes is whitelisted: no token, password or secret in the URL survives
    const given = page.saveCredentials({
      name: 'Lan',
      token: 'session-token-1',
      password: 'secret',
      gatewayUrl: 'https://user:pw@gw.example.com/callgate/?token=abc#x',
    } as unknown as Parameters<JsPhoneFunctions['saveCredentials']>[0]);
    expect(given).toEqual({
      gatewayUrl: 'https://gw.example.com/callgate',
      domain: 'demo',
      ipphone: '5000',
      name: 'Lan',
    });
    const stored = storage.getItem(JS_PHONE_STORAGE_KEY) ?? '';
    for (const secret of ['session-token', 'secret', 'pw', 'abc']) expect(stored).not.toContain(secret);
    expect(page.loadCredentials()).toEqual(given);
  });

  it('loadCredentials ignores damaged or foreign values and unknown fields', () => {
    const { page, storage } = setUp();
    storage.setItem(JS_PHONE_STORAGE_KEY, '{not json');
    expect(page.loadCredentials()).toBeNull();
    storage.setItem(JS_PHONE_STORAGE_KEY, JSON.stringify({ domain: 'demo', token: 'x', ipphone: 5000 }));
    expect(page.loadCredentials()).toEqual({ domain: 'demo' });
  });

  it('saveCredentials and loadCredentials answer null where localStorage is blocked', () => {
    const page = {} as Page;
    installJsPhone(page, {
      gatewayUrl: 'http://gw.test',
      credentials: () => ({}),
      storage: () => {
        throw new Error('SecurityError');
      },
      tones: { ring: new FakeTone(), ringback: new FakeTone() },
    });
    expect(page.saveCredentials()).toBeNull();
    expect(page.loadCredentials()).toBeNull();
  });
});
