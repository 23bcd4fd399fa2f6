import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import type {
  AgentHandshake,
  ClientToServerEvents,
  EventDataMap,
  EventEnvelope,
  EventType,
  ServerToClientEvents,
} from '@callgate/contracts';
import { connect, socketTarget, type CallgateClient, type ClientEventMap } from './client.js';

type Tab = ServerSocket<ClientToServerEvents, ServerToClientEvents>;

/** A bare Socket.IO server playing the gateway's `/agent` namespace. */
class FakeGateway {
  readonly handshakes: AgentHandshake[] = [];
  readonly tabs: Tab[] = [];
  private readonly connectionWaiters: Array<(tab: Tab) => void> = [];

  private constructor(
    readonly io: Server<ClientToServerEvents, ServerToClientEvents>,
    readonly url: string,
  ) {
    io.of('/agent').on('connection', (tab: Tab) => {
      this.handshakes.push(tab.handshake.auth as AgentHandshake);
      this.tabs.push(tab);
      for (const wake of this.connectionWaiters.splice(0)) wake(tab);
    });
  }

  static async start(): Promise<FakeGateway> {
    const http = createServer();
    const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, { transports: ['websocket'] });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    return new FakeGateway(io, `http://127.0.0.1:${port}`);
  }

  /** The next tab to connect (or the `n`-th, counting from 1, when it already did). */
  tab(n: number): Promise<Tab> {
    const tab = this.tabs[n - 1];
    if (tab) return Promise.resolve(tab);
    return new Promise((resolve) => this.connectionWaiters.push(() => resolve(this.tab(n))));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      void this.io.close(() => resolve());
    });
  }
}

let nextId = 1;
function envelope<K extends EventType>(type: K, data: EventDataMap[K]): EventEnvelope<K> {
  return { id: String(nextId++), type, domain: 'demo', ipphone: '5000', at: new Date().toISOString(), data };
}

function ready(overrides: Partial<EventDataMap['session.ready']> = {}): EventEnvelope<'session.ready'> {
  return envelope('session.ready', {
    domain: 'demo',
    ipphone: '5000',
    name: 'Agent 5000',
    deviceType: 1,
    callStatus: 'on',
    isEnable: true,
    voiceFence: 1,
    otherTabs: 0,
    sessionToken: 'session-token-1',
    ...overrides,
  });
}

function next<K extends keyof ClientEventMap>(client: CallgateClient, type: K): Promise<ClientEventMap[K]> {
  return new Promise((resolve) => client.once(type, resolve));
}

describe('CallgateClient', () => {
  let gateway: FakeGateway;
  const clients: CallgateClient[] = [];
  const open = (
    options: {
      token?: string;
      lastEventId?: string;
      seenEventIds?: string[];
      commandTimeoutMs?: number;
    } = {},
  ) => {
    const client = connect({
      gatewayUrl: gateway.url,
      domain: 'demo',
      token: options.token ?? 'crm-token',
      reconnectionDelayMs: 20,
      ...(options.lastEventId ? { lastEventId: options.lastEventId } : {}),
      ...(options.seenEventIds ? { seenEventIds: options.seenEventIds } : {}),
      ...(options.commandTimeoutMs ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
    });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    gateway = await FakeGateway.start();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await gateway.close();
  });

  it('connect() authenticates on /agent with the domain, the token and lastEventId', async () => {
    open({ token: 't1', lastEventId: '41' });
    await gateway.tab(1);
    expect(gateway.handshakes).toEqual([{ domain: 'demo', token: 't1', lastEventId: '41' }]);
  });

  it('on() hands each envelope to its handlers, and lastEventId follows the envelopes', async () => {
    const client = open();
    const tab = await gateway.tab(1);
    const readyEvent = ready();
    const gotReady = next(client, 'session.ready');
    tab.emit('session.ready', readyEvent);
    expect(await gotReady).toEqual(readyEvent);
    const device = envelope('agent.device', { type: 4 });
    const gotDevice = next(client, 'agent.device');
    tab.emit('agent.device', device);
    expect((await gotDevice).data).toEqual({ type: 4 });
    expect(client.lastEventId).toBe(device.id);
  });

  it('a live event older than the newest (made on another instance) still counts, once; lastEventId stays the newest', async () => {
    const client = open({ lastEventId: '1764640000000-2' }); // resumes: its floor
    const tab = await gateway.tab(1);
    const gotReady = next(client, 'session.ready');
    tab.emit('session.ready', { ...ready(), id: '1764640000001-0' });
    await gotReady;
    const seen: number[] = [];
    const done = new Promise<void>((resolve) => {
      client.on('agent.device', (event) => {
        seen.push(event.data.type);
        if (event.data.type === 3) resolve();
      });
    });
    const device = (type: 1 | 2 | 3 | 4, id: string) => ({ ...envelope('agent.device', { type }), id });
    tab.emit('agent.device', device(4, '1764640000005-0'));
    tab.emit('agent.device', device(2, '1764640000003-0')); // older, not seen yet: counts
    tab.emit('agent.device', device(4, '1764640000005-0')); // seen: dropped
    tab.emit('agent.device', device(2, '1764640000003-0')); // seen: dropped
    tab.emit('agent.device', device(1, '1764640000000-0')); // at or below the resume point: dropped
    tab.emit('agent.device', device(3, '1764640000004-0'));
    await done;
    expect(seen).toEqual([4, 2, 3]);
    expect(client.lastEventId).toBe('1764640000005-0');
  });

  /** Collects the `agent.device` types the page is handed, until one of type `last`. */
  const devices = (client: CallgateClient, last: 1 | 2 | 3 | 4) => {
    const seen: number[] = [];
    const done = new Promise<number[]>((resolve) => {
      client.on('agent.device', (event) => {
        seen.push(event.data.type);
        if (event.data.type === last) resolve(seen);
      });
    });
    return { seen, done };
  };
  const device = (type: 1 | 2 | 3 | 4, id: string) => ({ ...envelope('agent.device', { type }), id });

  it('a resume after N+1 (received live before N) hands the page N from the replay window, once, and nothing twice', async () => {
    const client = open();
    const first = await gateway.tab(1);
    const gotReady = next(client, 'session.ready');
    first.emit('session.ready', { ...ready(), id: '1764640000000-1' });
    await gotReady;
    const page = devices(client, 3);
    const gotNewer = next(client, 'agent.device');
    first.emit('agent.device', device(4, '1764640000000-3')); // N+1, live before N
    await gotNewer;
    first.conn.close(); // N (-2) never reached this tab
    const second = await gateway.tab(2);
    expect(gateway.handshakes[1]).toMatchObject({ lastEventId: '1764640000000-3' });
    // The gateway replays from a few seconds before the resume point: N, then N+1 again.
    second.emit('agent.device', device(2, '1764640000000-2'));
    second.emit('agent.device', device(4, '1764640000000-3')); // seen: dropped
    second.emit('session.ready', { ...ready(), id: '1764640000000-4' });
    second.emit('agent.device', device(2, '1764640000000-2')); // live again: dropped
    second.emit('agent.device', device(3, '1764640000000-5'));
    expect(await page.done).toEqual([4, 2, 3]);
    expect(client.lastEventId).toBe('1764640000000-5');
    expect(client.seenEventIds).toEqual([
      '1764640000000-1',
      '1764640000000-3',
      '1764640000000-2',
      '1764640000000-4',
      '1764640000000-5',
    ]);
  });

  it('a resume window reaching back before the snapshot that started the page drops what the snapshot covers', async () => {
    const client = open();
    const first = await gateway.tab(1);
    const page = devices(client, 3);
    first.emit('session.ready', { ...ready(), id: '1764640000000-5' }); // a fresh start: the page's snapshot
    first.emit('agent.device', device(4, '1764640000000-6'));
    await new Promise((resolve) => client.once('agent.device', resolve));
    first.conn.close();
    const second = await gateway.tab(2);
    second.emit('agent.device', device(1, '1764640000000-3')); // before the snapshot: dropped
    second.emit('agent.device', device(4, '1764640000000-6')); // seen: dropped
    second.emit('session.ready', { ...ready({ resumed: { replayed: 0 } }), id: '1764640000000-7' });
    second.emit('agent.device', device(3, '1764640000000-8'));
    expect(await page.done).toEqual([4, 3]);
  });

  it('an id it no longer remembers (past 1,024) counts as seen: a long replay window hands nothing twice', async () => {
    const client = open();
    const first = await gateway.tab(1);
    let received = 0;
    const all = new Promise<void>((resolve) =>
      client.on('agent.device', () => {
        received += 1;
        if (received === 1030) resolve();
      }),
    );
    for (let seq = 1; seq <= 1030; seq++) first.emit('agent.device', device(4, `1764640000000-${seq}`));
    await all;
    expect(client.seenEventIds).toHaveLength(1024);
    first.conn.close();
    const second = await gateway.tab(2);
    const page = devices(client, 3);
    for (let seq = 1; seq <= 1030; seq++) second.emit('agent.device', device(1, `1764640000000-${seq}`));
    second.emit('session.ready', { ...ready({ resumed: { replayed: 0 } }), id: '1764640000001-0' });
    second.emit('agent.device', device(3, '1764640000001-1'));
    expect(await page.done).toEqual([3]);
  });

  it('a new client given lastEventId and seenEventIds drops only those ids from the replay window', async () => {
    const client = open({
      lastEventId: '1764640000000-5',
      seenEventIds: ['1764640000000-1', '1764640000000-5'],
    });
    const tab = await gateway.tab(1);
    const page = devices(client, 3);
    tab.emit('agent.device', device(1, '1764640000000-1')); // seen by the previous client: dropped
    tab.emit('agent.device', device(2, '1764640000000-2')); // missed by it: counts
    tab.emit('agent.device', device(4, '1764640000000-5')); // seen: dropped
    tab.emit('session.ready', { ...ready(), id: '1764640000000-6' });
    tab.emit('agent.device', device(3, '1764640000000-7'));
    expect(await page.done).toEqual([2, 3]);
    expect(client.lastEventId).toBe('1764640000000-7');
  });

  it('a new client given lastEventId alone (no record of what it saw) drops the replay window at or below it, and no later id', async () => {
    const client = open({ lastEventId: '1764640000000-5' });
    const first = await gateway.tab(1);
    const page = devices(client, 3);
    first.emit('agent.device', device(1, '1764640000000-4')); // at or below: dropped
    first.emit('agent.device', device(4, '1764640000000-5')); // at or below: dropped
    first.emit('session.ready', { ...ready(), id: '1764640000000-6' });
    first.emit('agent.device', device(4, '1764640000000-8')); // N+1 live
    await new Promise((resolve) => client.once('agent.device', resolve));
    first.conn.close();
    const second = await gateway.tab(2);
    expect(gateway.handshakes[1]).toMatchObject({ lastEventId: '1764640000000-8' });
    second.emit('agent.device', device(1, '1764640000000-4')); // still below its floor: dropped
    second.emit('agent.device', device(2, '1764640000000-7')); // N, missed: counts
    second.emit('agent.device', device(4, '1764640000000-8')); // seen: dropped
    second.emit('session.ready', { ...ready(), id: '1764640000000-9' });
    second.emit('agent.device', device(3, '1764640000001-0'));
    expect(await page.done).toEqual([4, 2, 3]);
  });

  it('a resume answered by a restarted log (session.ready below the resume point) hands the page every later event', async () => {
    const client = open();
    const first = await gateway.tab(1);
    const page = devices(client, 3);
    first.emit('session.ready', { ...ready(), id: '1764640000009-0' });
    first.emit('agent.device', device(4, '1764640000009-1'));
    await new Promise((resolve) => client.once('agent.device', resolve));
    first.conn.close();
    const second = await gateway.tab(2);
    expect(gateway.handshakes[1]).toMatchObject({ lastEventId: '1764640000009-1' });
    // A new log, its ids below the old ones (a store that lost its data, a clock set back).
    second.emit('session.ready', { ...ready(), id: '1764640000001-0' });
    second.emit('agent.device', device(2, '1764640000001-1'));
    second.emit('agent.device', device(2, '1764640000001-1')); // twice: dropped
    second.emit('agent.device', device(3, '1764640000009-1')); // an old id, new in this log: counts
    expect(await page.done).toEqual([4, 2, 3]);
    expect(client.lastEventId).toBe('1764640000009-1');
  });

  it('a dropped connection reconnects with the session token and resumes after the last event id', async () => {
    const client = open({ token: 'crm-token' });
    const first = await gateway.tab(1);
    const readyEvent = ready({ sessionToken: 'session-42' });
    const gotReady = next(client, 'session.ready');
    first.emit('session.ready', readyEvent);
    await gotReady;

    const lost = next(client, 'connection.lost');
    const retrying = next(client, 'connection.retrying');
    const reopened = next(client, 'connection.open');
    first.conn.close();
    expect(await lost).toEqual({ reason: 'transport close', willRetry: true });
    expect(await retrying).toEqual({ attempt: 1 });
    expect(await reopened).toEqual({ reconnected: true });
    await gateway.tab(2);
    expect(gateway.handshakes[1]).toEqual({
      domain: 'demo',
      token: 'session-42',
      lastEventId: readyEvent.id,
    });
  });

  it('session.error is surfaced, then the client closes with its code and stops reconnecting', async () => {
    const client = open();
    const tab = await gateway.tab(1);
    const error = next(client, 'session.error');
    const closed = next(client, 'closed');
    tab.emit('session.error', envelope('session.error', { code: 'INVALID_TOKEN', message: 'bad signature' }));
    tab.disconnect(true);
    expect((await error).data.code).toBe('INVALID_TOKEN');
    expect(await closed).toEqual({ reason: 'INVALID_TOKEN' });
    expect(client.closed).toBe(true);
    expect(client.closedReason).toBe('INVALID_TOKEN');
    expect(await client.command('voice.enable', {})).toMatchObject({ ok: false, code: 'NOT_CONNECTED' });
  });

  it('a session.error with id "0" after events were received still reaches the handlers', async () => {
    const client = open();
    const tab = await gateway.tab(1);
    const first = next(client, 'session.ready');
    tab.emit('session.ready', { ...ready(), id: '1764640000000-5' });
    await first;
    const error = next(client, 'session.error');
    tab.emit('session.error', {
      ...envelope('session.error', { code: 'TOKEN_EXPIRED', message: 'expired' }),
      id: '0',
    });
    expect((await error).data.code).toBe('TOKEN_EXPIRED');
    expect(client.lastEventId).toBe('1764640000000-5');
    expect(client.closedReason).toBe('TOKEN_EXPIRED');
  });

  it('a handshake refused by the middleware surfaces connection.refused with its code and closes', async () => {
    gateway.io.of('/agent').use((_socket, nextMiddleware) => {
      nextMiddleware(Object.assign(new Error('origin refused'), { data: { code: 'ORIGIN_NOT_ALLOWED' } }));
    });
    const client = open();
    expect(await next(client, 'connection.refused')).toEqual({
      code: 'ORIGIN_NOT_ALLOWED',
      message: 'origin refused',
    });
    expect(client.closedReason).toBe('ORIGIN_NOT_ALLOWED');
  });

  it('a gateway that cannot be reached gives connection.error CONNECT_FAILED and the client keeps trying', async () => {
    const url = gateway.url;
    await gateway.close();
    gateway = await FakeGateway.start();
    const client = connect({ gatewayUrl: url, domain: 'demo', token: 't', reconnectionDelayMs: 20 });
    clients.push(client);
    expect(await next(client, 'connection.error')).toMatchObject({ code: 'CONNECT_FAILED' });
    expect(client.closed).toBe(false);
  });

  it("command() resolves to the gateway's acknowledgement", async () => {
    const client = open();
    const tab = await gateway.tab(1);
    tab.on('agent.setDevice', (payload, ack) => {
      if (payload.mobile === 'bad')
        ack({ ok: false, code: 'INVALID_MOBILE', message: 'not a mobile number' });
      else ack({ ok: true, type: payload.type });
    });
    expect(await client.command('agent.setDevice', { type: 4 })).toEqual({ ok: true, type: 4 });
    expect(await client.command('agent.setDevice', { type: 3, mobile: 'bad' })).toEqual({
      ok: false,
      code: 'INVALID_MOBILE',
      message: 'not a mobile number',
    });
  });

  it('command() resolves COMMAND_TIMEOUT when the gateway does not answer in time', async () => {
    const client = open({ commandTimeoutMs: 100 });
    await gateway.tab(1);
    expect(await client.command('agent.toggleCallStatus', {})).toMatchObject({
      ok: false,
      code: 'COMMAND_TIMEOUT',
    });
  });

  it('command() resolves NOT_CONNECTED when the connection drops before the answer', async () => {
    const client = open();
    const tab = await gateway.tab(1);
    tab.on('agent.toggleCallStatus', () => tab.conn.close());
    expect(await client.command('agent.toggleCallStatus', {})).toMatchObject({
      ok: false,
      code: 'NOT_CONNECTED',
    });
  });

  it('close() is idempotent: closed is emitted once, with the first reason', async () => {
    const client = open();
    await gateway.tab(1);
    const reasons: string[] = [];
    client.on('closed', ({ reason }) => reasons.push(reason));
    client.close();
    client.close('AGAIN');
    expect(reasons).toEqual(['CLIENT_CLOSED']);
    expect(client.connected).toBe(false);
  });
});

describe('socketTarget()', () => {
  it('uses the default engine path for a gateway at the root', () => {
    expect(socketTarget('https://gw.example.com/')).toEqual({
      origin: 'https://gw.example.com',
      path: '/socket.io',
    });
  });
  it('keeps a path prefix in the engine path, not in the namespace', () => {
    expect(socketTarget('https://example.com/callgate')).toEqual({
      origin: 'https://example.com',
      path: '/callgate/socket.io',
    });
  });
});
