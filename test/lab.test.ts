/**
 * The lab PBX through real processes and real media: each test starts its own Kamailio
 * on free loopback ports, JsSIP + wrtc bots register on it, sipp plays a classic UDP
 * peer. Waits are on events with timeouts, never fixed sleeps.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { AudioBridge, SipCallState, SipError, SipUserAgent, waitForEvent, type SipCall } from '@callgate/sip';
import { startBot, type Bot, type BotOptions } from '../apps/lab/src/bots.js';
import { KamailioError, sipOptionsPing, startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import { labUsers, startLab } from '../apps/lab/src/lab.js';
import { runSipp, uacScenarioFor } from '../apps/lab/src/sipp.js';

/** Per-test budget: Kamailio start, registrations, calls and media windows. */
const T = 60_000;

/** Everything a test started, closed in afterEach even when the test failed. */
const open: { bots: Bot[]; pbxs: Kamailio[]; uas: SipUserAgent[]; bridges: AudioBridge[] } = {
  bots: [],
  pbxs: [],
  uas: [],
  bridges: [],
};
/** PIDs of every Kamailio process (main and workers) the suite started. */
const kamailioPids = new Set<number>();

async function pbx(): Promise<Kamailio> {
  const kamailio = await startKamailio();
  open.pbxs.push(kamailio);
  rememberPids(kamailio);
  return kamailio;
}

function rememberPids(kamailio: Kamailio): void {
  if (kamailio.pid === undefined) return;
  kamailioPids.add(kamailio.pid);
  for (const pid of childrenOf(kamailio.pid)) kamailioPids.add(pid);
}

async function bot(kamailio: Kamailio, user: string, options: Partial<BotOptions> = {}): Promise<Bot> {
  const started = await startBot({ pbx: kamailio, user, kind: 'customer', ...options });
  open.bots.push(started);
  return started;
}

function ua(kamailio: Kamailio, user: string, register = true): SipUserAgent {
  const agent = new SipUserAgent({ wsUri: kamailio.wsUri, sipDomain: kamailio.sipDomain, user, register });
  open.uas.push(agent);
  return agent;
}

afterEach(async () => {
  for (const bridge of open.bridges.splice(0)) bridge.close();
  await Promise.all(open.uas.splice(0).map((u) => u.close()));
  await Promise.all(open.bots.splice(0).map((b) => b.close()));
  await Promise.all(open.pbxs.splice(0).map((k) => k.stop()));
});

afterAll(() => {
  const alive = [...kamailioPids].filter(isAlive);
  expect(alive).toEqual([]);
});

describe('startKamailio()', () => {
  it(
    'listens on free loopback ports, answers SIP over UDP and WebSocket, and stop() ends it by PID',
    async () => {
      const kamailio = await pbx();
      expect(kamailio.sipDomain).toBe('127.0.0.1');
      expect(kamailio.wsUri).toBe(`ws://127.0.0.1:${kamailio.wsPort}`);
      expect(kamailio.wsPort).not.toBe(kamailio.udpPort);
      const pid = kamailio.pid;
      expect(pid).toBeDefined();
      const workers = childrenOf(pid ?? 0);
      expect(workers.length).toBeGreaterThan(0);
      expect(await sipOptionsPing('127.0.0.1', kamailio.udpPort)).toBe(true);
      expect(readFileSync(kamailio.configFile, 'utf8')).not.toMatch(/^alias=/m);

      await kamailio.stop();

      expect(kamailio.running).toBe(false);
      expect(kamailio.pid).toBeUndefined();
      expect(isAlive(pid ?? 0)).toBe(false);
      expect(workers.filter(isAlive)).toEqual([]);
      expect(await sipOptionsPing('127.0.0.1', kamailio.udpPort, 200)).toBe(false);
      await kamailio.stop(); // idempotent
    },
    T,
  );

  it(
    'a missing binary rejects with KAMAILIO_MISSING and the hint to run scripts/ensure-deps.sh',
    async () => {
      const attempt = startKamailio({ binary: '/nonexistent/kamailio' });

      await expect(attempt).rejects.toBeInstanceOf(KamailioError);
      await expect(attempt).rejects.toMatchObject({
        code: 'KAMAILIO_MISSING',
        message: expect.stringContaining('bash scripts/ensure-deps.sh') as unknown,
      });
    },
    T,
  );

  it(
    'two instances run side by side on different ports',
    async () => {
      const [a, b] = await Promise.all([pbx(), pbx()]);
      expect(new Set([a.wsPort, a.udpPort, b.wsPort, b.udpPort]).size).toBe(4);
      expect(await sipOptionsPing('127.0.0.1', a.udpPort)).toBe(true);
      expect(await sipOptionsPing('127.0.0.1', b.udpPort)).toBe(true);
    },
    T,
  );
});

describe('bots through Kamailio', () => {
  it(
    'call each other with audio both ways: the caller hears 880 Hz, the callee 440 Hz',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice', { tone: 440 });
      const bob = await bot(kamailio, 'bob', { tone: 880 });

      const startedAt = performance.now();
      const call = alice.call('bob');
      const incoming = await bob.waitFor('incoming');
      await waitForEvent(call, 'confirmed');
      const setupMs = performance.now() - startedAt;

      expect(incoming.call.remote.user).toBe('alice');
      expect(incoming.call.direction).toBe('incoming');
      expect(call.direction).toBe('outgoing');
      expect(call.state).toBe(SipCallState.Established);
      const heardByAlice = await alice.hears({ frequency: 880 });
      const firstAudioMs = performance.now() - startedAt;
      const heardByBob = await bob.hears({ frequency: 440 });
      console.log(
        `call setup (call() -> confirmed): ${setupMs.toFixed(0)} ms; first 880 Hz window heard by the caller ${firstAudioMs.toFixed(0)} ms after call(); ` +
          `caller heard ${heardByAlice.frequency?.toFixed(0)} Hz at ${heardByAlice.level.toFixed(3)}, callee heard ${heardByBob.frequency?.toFixed(0)} Hz at ${heardByBob.level.toFixed(3)}`,
      );

      const bobEnded = bob.waitFor('ended');
      await call.hangup();
      const end = await bobEnded;
      expect(end.end).toMatchObject({ cause: 'bye', by: 'remote', established: true });
      expect(alice.history[0]?.end).toMatchObject({ cause: 'bye', by: 'local', established: true });
    },
    T,
  );

  it(
    'a callee rejecting with 486 makes the call fail with statusCode 486',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      await bot(kamailio, 'busy', { behaviour: { incoming: { action: 'reject', statusCode: 486 } } });

      const call = alice.call('busy');
      const failed = await waitForEvent(call, 'failed');

      expect(failed).toEqual({ cause: 'busy', by: 'remote', statusCode: 486 });
      expect(call.state).toBe(SipCallState.Terminated);
    },
    T,
  );

  it.each([480, 603, 404] as const)(
    'a callee rejecting with %i makes the call fail with that statusCode',
    async (code) => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      await bot(kamailio, 'callee', {
        behaviour: { incoming: { action: 'reject', statusCode: code, afterMs: 50 } },
      });

      const call = alice.call('callee');
      const progress = await waitForEvent(call, 'progress');
      const failed = await waitForEvent(call, 'failed');

      expect(progress.statusCode).toBe(180);
      expect(failed.statusCode).toBe(code);
      expect(failed.by).toBe('remote');
    },
    T,
  );

  it(
    'a call to a user nobody registered fails with 404 from Kamailio',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');

      const failed = await waitForEvent(alice.call('nobody'), 'failed');

      expect(failed).toEqual({ cause: 'notFound', by: 'remote', statusCode: 404 });
    },
    T,
  );

  it(
    'a caller that gives up before the answer cancels: the callee sees canceled',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      const bob = await bot(kamailio, 'bob', { behaviour: { incoming: { action: 'ignore' } } });

      const call = alice.call('bob');
      await waitForEvent(call, 'progress');
      const bobEnded = bob.waitFor('ended');
      const end = await call.hangup();

      expect(end).toMatchObject({ cause: 'canceled', by: 'local', established: false });
      expect((await bobEnded).end).toMatchObject({ cause: 'canceled', by: 'remote', established: false });
    },
    T,
  );

  it(
    'hold then unhold, twice: silence while held, and the tones come back each time',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice', { tone: 440 });
      const bob = await bot(kamailio, 'bob', { tone: 880 });
      const call = alice.call('bob');
      await waitForEvent(call, 'confirmed');
      await alice.hears({ frequency: 880 });
      const bobCall = bob.lastCall as SipCall;

      for (let round = 1; round <= 2; round++) {
        const bobHeld = waitForEvent(bobCall, 'hold');
        await call.hold();
        expect(await bobHeld).toEqual({ by: 'remote' });
        expect(call.onHold.local).toBe(true);
        await alice.hearsSilence();
        await bob.hearsSilence();

        const bobUnheld = waitForEvent(bobCall, 'unhold');
        await call.unhold();
        expect(await bobUnheld).toEqual({ by: 'remote' });
        await alice.hears({ frequency: 880 });
        await bob.hears({ frequency: 440 });
      }
      expect(call.state).toBe(SipCallState.Established);
    },
    T,
  );

  it(
    'DTMF sent by SIP INFO reaches the other bot digit by digit',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      const bob = await bot(kamailio, 'bob');
      const bobAnswered = bob.waitFor('answered');
      const call = alice.call('bob');
      await waitForEvent(call, 'confirmed');
      await bobAnswered;

      const digits: string[] = [];
      bob.on('dtmf', ({ digit }) => digits.push(digit));
      await alice.sendDtmf('123#*9');

      expect(digits.join('')).toBe('123#*9');
      expect(bob.receivedDtmf).toBe('123#*9');
    },
    T,
  );

  it(
    'a transferee follows a REFER: it calls the target, which hears its tone',
    async () => {
      const kamailio = await pbx();
      const customer = await bot(kamailio, 'customer', { tone: 500 });
      const agent = await bot(kamailio, 'agent', { tone: 900 });
      const queue = await bot(kamailio, 'queue1', { kind: 'queue', tone: 1300 });
      const agentAnswered = agent.waitFor('answered');
      const call = customer.call('agent');
      await waitForEvent(call, 'confirmed');
      const agentCall = (await agentAnswered).call;

      const referred = customer.waitFor('referred');
      const queueAnswered = queue.waitFor('answered');
      const result = await agentCall.refer(`sip:queue1@${kamailio.sipDomain}`);
      const { newCall, target } = await referred;
      const queueCall = (await queueAnswered).call;

      expect(result).toEqual({ outcome: 'succeeded', statusCode: 200 });
      expect(target).toBe(`sip:queue1@${kamailio.sipDomain}`);
      expect(queueCall.remote.user).toBe('customer');
      await queue.hears({ frequency: 500, call: queueCall });
      await customer.hears({ frequency: 1300, call: newCall });
    },
    T,
  );

  it(
    'close() of a bot hangs up its calls: the peer sees a BYE',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      const bob = await bot(kamailio, 'bob');
      const call = alice.call('bob');
      await waitForEvent(call, 'confirmed');
      const bobEnded = bob.waitFor('ended');

      await alice.close();

      expect(call.end).toMatchObject({ cause: 'bye', by: 'local' });
      expect((await bobEnded).end).toMatchObject({ cause: 'bye', by: 'remote' });
      expect(alice.ua.isClosed).toBe(true);
      await alice.close(); // idempotent
    },
    T,
  );

  it(
    'a bot can change its behaviour at runtime',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice', { tone: 440 });
      const bob = await bot(kamailio, 'bob', {
        behaviour: { incoming: { action: 'reject', statusCode: 603 } },
      });

      expect((await waitForEvent(alice.call('bob'), 'failed')).statusCode).toBe(603);

      bob.setBehaviour({ incoming: { action: 'answer', afterMs: 100 }, tone: 700 });
      const call = alice.call('bob');
      await waitForEvent(call, 'confirmed');
      await alice.hears({ frequency: 700 });
      bob.setTone(1100);
      await alice.hears({ frequency: 1100 });
    },
    T,
  );
});

describe('SipUserAgent', () => {
  it(
    'start() rejects with REGISTRATION_TIMEOUT when the PBX does not answer, and close() still resolves',
    async () => {
      const kamailio = await pbx();
      const wsUri = kamailio.wsUri;
      await kamailio.stop();
      const agent = new SipUserAgent({
        wsUri,
        sipDomain: '127.0.0.1',
        user: 'lonely',
        register: true,
        startTimeoutMs: 1_500,
      });
      open.uas.push(agent);

      await expect(agent.start()).rejects.toMatchObject({ name: 'SipError', code: 'REGISTRATION_TIMEOUT' });
      await agent.close('test over');

      expect(agent.isClosed).toBe(true);
      expect(() => agent.call('anyone', { mediaStream: new MediaStream() })).toThrow(SipError);
    },
    T,
  );

  it(
    'unregister() makes the user unreachable (404) until register()',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      const bob = await bot(kamailio, 'bob');

      await bob.ua.unregister();
      expect(bob.ua.isRegistered).toBe(false);
      expect((await waitForEvent(alice.call('bob'), 'failed')).statusCode).toBe(404);

      await bob.ua.register();
      await waitForEvent(alice.call('bob'), 'confirmed');
    },
    T,
  );

  it(
    'a throwing incomingCall listener does not keep the next listener from answering',
    async () => {
      const kamailio = await pbx();
      const alice = await bot(kamailio, 'alice');
      const gw = ua(kamailio, 'gw');
      await gw.start();
      gw.on('incomingCall', () => {
        throw new Error('listener bug');
      });
      const answered = new Promise<SipCall>((resolve) =>
        gw.on('incomingCall', ({ call }) => {
          const bridge = new AudioBridge();
          open.bridges.push(bridge);
          void call.answer({ mediaStream: bridge.streamToA }).then(() => resolve(call));
        }),
      );

      const call = alice.call('gw');
      await waitForEvent(call, 'confirmed');
      expect((await answered).state).toBe(SipCallState.Established);
    },
    T,
  );
});

describe('AudioBridge', () => {
  it(
    'bridges a customer leg and a device leg in this process; a muted direction carries silence',
    async () => {
      const kamailio = await pbx();
      const customer = await bot(kamailio, 'customer', { tone: 440 });
      const device = await bot(kamailio, 'device', { kind: 'ipPhone', tone: 880 });
      const gw = ua(kamailio, 'gw');
      await gw.start();
      const bridge = new AudioBridge();
      open.bridges.push(bridge);

      const customerLeg = new Promise<SipCall>((resolve) =>
        gw.once('incomingCall', ({ call }) => resolve(call)),
      );
      const call = customer.call('gw');
      const legA = await customerLeg;
      const legB = gw.call('device', { mediaStream: bridge.streamToB });
      await waitForEvent(legB, 'confirmed');
      await legA.answer({ mediaStream: bridge.streamToA });
      await waitForEvent(call, 'confirmed');
      bridge.connect(legA.remoteAudioTrack as MediaStreamTrack, legB.remoteAudioTrack as MediaStreamTrack);

      await customer.hears({ frequency: 880, call });
      await device.hears({ frequency: 440 });
      expect(bridge.framesForwarded.aToB).toBeGreaterThan(0);
      expect(bridge.framesForwarded.bToA).toBeGreaterThan(0);

      bridge.mute('aToB');
      await device.hearsSilence();
      await customer.hears({ frequency: 880, call });
      bridge.mute('aToB', false);
      await device.hears({ frequency: 440 });

      bridge.close();
      expect(bridge.isClosed).toBe(true);
      await Promise.all([legA.hangup(), legB.hangup()]);
    },
    T,
  );
});

describe('sipp as a classic UDP peer', () => {
  it(
    'reaches a registered JsSIP bot that answers (200, ACK, BYE)',
    async () => {
      const kamailio = await pbx();
      const target = await bot(kamailio, 'target');
      const ended = target.waitFor('ended', { timeoutMs: 20_000 });

      const result = await runSipp({
        host: '127.0.0.1',
        port: kamailio.udpPort,
        scenario: uacScenarioFor(200),
        service: 'target',
      });

      expect({ exitCode: result.exitCode, errors: result.errors }).toEqual({ exitCode: 0, errors: '' });
      const record = await ended;
      expect(record.remoteUser).toBe('sipp');
      expect(record.end).toMatchObject({ cause: 'bye', by: 'remote', established: true });
    },
    T,
  );

  it.each([486, 480, 603] as const)(
    'gets %i from a bot that rejects with it',
    async (code) => {
      const kamailio = await pbx();
      await bot(kamailio, 'target', { behaviour: { incoming: { action: 'reject', statusCode: code } } });

      const result = await runSipp({
        host: '127.0.0.1',
        port: kamailio.udpPort,
        scenario: uacScenarioFor(code),
        service: 'target',
      });

      expect({ exitCode: result.exitCode, errors: result.errors }).toEqual({ exitCode: 0, errors: '' });
    },
    T,
  );

  it(
    'gets 404 from Kamailio for a user nobody registered',
    async () => {
      const kamailio = await pbx();

      const result = await runSipp({
        host: '127.0.0.1',
        port: kamailio.udpPort,
        scenario: uacScenarioFor(404),
        service: 'nobody',
      });

      expect({ exitCode: result.exitCode, errors: result.errors }).toEqual({ exitCode: 0, errors: '' });
    },
    T,
  );
});

describe('Kamailio restart', () => {
  it(
    'a registered bot re-registers by itself and is reachable again',
    async () => {
      const kamailio = await pbx();
      const callee = await bot(kamailio, 'callee', { tone: 880 });
      const caller = await bot(kamailio, 'caller', { tone: 440 });
      const oldPid = kamailio.pid;

      const reRegistered = Promise.all([
        waitForEvent(callee.ua, 'registered', { timeoutMs: 20_000 }),
        waitForEvent(caller.ua, 'registered', { timeoutMs: 20_000 }),
      ]);
      const disconnected = waitForEvent(callee.ua, 'disconnected', { timeoutMs: 10_000 });
      const startedAt = performance.now();
      await kamailio.restart();
      const restartedMs = performance.now() - startedAt;
      rememberPids(kamailio);
      await disconnected;
      await reRegistered;
      const reRegisteredMs = performance.now() - startedAt;
      console.log(
        `Kamailio restart: up again after ${restartedMs.toFixed(0)} ms; both bots re-registered ${reRegisteredMs.toFixed(0)} ms after the restart began (JsSIP reconnect back-off min 1 s)`,
      );

      expect(kamailio.pid).not.toBe(oldPid);
      expect(isAlive(oldPid ?? 0)).toBe(false);
      const call = caller.call('callee');
      await waitForEvent(call, 'confirmed');
      await caller.hears({ frequency: 880 });
    },
    T,
  );
});

describe('startLab()', () => {
  it(
    'starts Kamailio and named bots by the lab conventions; close() stops them all',
    async () => {
      const lab = await startLab({
        customers: 2,
        ipPhones: ['5003'],
        mobiles: ['0930000004'],
        queues: ['1'],
        mobilePrefix: '9',
      });
      rememberPids(lab.pbx);
      try {
        expect(lab.bots.map((b) => b.user)).toEqual([
          '0901000001',
          '0901000002',
          '5003-desk',
          '90930000004',
          'queue1',
        ]);
        expect(lab.bots.every((b) => b.isRegistered)).toBe(true);
        expect(labUsers.ipPhone('5000')).toBe('5000-desk');
        const customer = lab.bot('0901000001');
        const call = customer.call(labUsers.ipPhone('5003'));
        await waitForEvent(call, 'confirmed');
        await customer.hears({ frequency: lab.bot('5003-desk').behaviour.tone ?? 0 });
      } finally {
        await lab.close();
      }
      expect(lab.pbx.running).toBe(false);
      expect(lab.bots.every((b) => b.ua.isClosed)).toBe(true);
    },
    T,
  );
});

function childrenOf(pid: number): number[] {
  const result: number[] = [];
  for (const line of readProcStats()) {
    if (line.ppid === pid) result.push(line.pid);
  }
  return result;
}

function readProcStats(): { pid: number; ppid: number }[] {
  const rows: { pid: number; ppid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      rows.push({ pid: Number(entry), ppid: Number(fields[1]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return rows;
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is gone for our purpose.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
