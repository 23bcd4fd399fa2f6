import { jest } from '@jest/globals';
import { CallDriver, type DrivenSession } from './call-driver.js';
import { SipCallState } from './types.js';
import { SipError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type {
  JsSipIncomingResponse,
  JsSipEndEvent,
  JsSipReferEventHandlers,
  JsSipSession,
  JsSipSessionEvents,
} from '../jssip-types.js';

type ReinviteHandlers = Parameters<DrivenSession['_sendReinvite']>[0]['eventHandlers'];

/**
 * A JsSIP RTCSession stand-in: records what the driver asks of it and lets the test play the
 * peer's side (responses, NOTIFYs, BYE) by firing the session's events.
 */
class FakeSession {
  readonly id = 'call-1';
  readonly remote_identity = {
    uri: { scheme: 'sip', user: '0901000001', host: 'pbx', port: undefined, getHeader: () => undefined },
    display_name: 'Customer',
  };
  readonly local_identity = this.remote_identity;
  connection: RTCPeerConnection | null = null;
  _localHold = false;
  remoteHold = false;
  audioMuted = false;
  ended = false;
  answered = 0;
  terminated: { status_code?: number }[] = [];
  /** the offers sent by re-INVITE: whether each was built on hold (JsSIP reads _localHold) */
  reinviteOffers: boolean[] = [];
  reinvite: ReinviteHandlers | undefined;
  /** the createOffer() constraints of each re-INVITE (undefined: JsSIP's defaults) */
  reinviteConstraints: ({ iceRestart?: boolean } | undefined)[] = [];
  refers: { target: string; handlers: JsSipReferEventHandlers }[] = [];
  dtmfSent: { tone: string; listeners: Map<string, (e: { response?: JsSipIncomingResponse }) => void> }[] =
    [];
  private readonly listeners = new Map<string, Set<(e: never) => void>>();

  constructor(readonly direction: 'incoming' | 'outgoing') {}

  on<K extends keyof JsSipSessionEvents>(event: K, listener: (e: JsSipSessionEvents[K]) => void): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }
  removeListener<K extends keyof JsSipSessionEvents>(
    event: K,
    listener: (e: JsSipSessionEvents[K]) => void,
  ): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }
  fire<K extends keyof JsSipSessionEvents>(event: K, payload: JsSipSessionEvents[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])])
      (listener as (e: typeof payload) => void)(payload);
  }

  answer(): void {
    this.answered += 1;
  }
  terminate(options: { status_code?: number } = {}): void {
    this.terminated.push(options);
  }
  isOnHold(): { local: boolean; remote: boolean } {
    return { local: this._localHold, remote: this.remoteHold };
  }
  isEnded(): boolean {
    return this.ended;
  }
  /** JsSIP's own flag: set, a 2xx crossing our CANCEL is acknowledged and hung up */
  _is_canceled = false;
  inProgress = false;
  isInProgress(): boolean {
    return this.inProgress;
  }
  isEstablished(): boolean {
    return !this.ended;
  }
  isReadyToReOffer(): boolean {
    return this.reinvite === undefined;
  }
  _sendReinvite(options: {
    eventHandlers: ReinviteHandlers;
    rtcOfferConstraints?: { iceRestart?: boolean };
  }): void {
    this.reinviteOffers.push(this._localHold);
    this.reinviteConstraints.push(options.rtcOfferConstraints);
    this.reinvite = options.eventHandlers;
  }
  _onhold(originator: 'local'): void {
    this.fire('hold', { originator });
  }
  _onunhold(originator: 'local'): void {
    this.fire('unhold', { originator });
  }
  mute(): void {
    this.audioMuted = true;
  }
  unmute(): void {
    this.audioMuted = false;
  }
  isMuted(): { audio: boolean } {
    return { audio: this.audioMuted };
  }
  sendDTMF(tone: string): void {
    const listeners = new Map<string, (e: { response?: JsSipIncomingResponse }) => void>();
    const dtmf = {
      tone,
      duration: 100,
      once(event: 'succeeded' | 'failed', listener: (e: { response?: JsSipIncomingResponse }) => void) {
        listeners.set(event, listener);
        return this;
      },
    };
    this.dtmfSent.push({ tone, listeners });
    this.fire('newDTMF', { originator: 'local', dtmf });
  }
  refer(target: string, options: { eventHandlers: JsSipReferEventHandlers }): unknown {
    this.refers.push({ target, handlers: options.eventHandlers });
    return {};
  }

  /** The peer's answer to the pending re-INVITE: 2xx, or a final refusal. */
  answerReinvite(statusCode: number): void {
    const handlers = this.reinvite;
    this.reinvite = undefined;
    if (statusCode < 300) handlers?.succeeded({ status_code: statusCode });
    else handlers?.failed({ status_code: statusCode });
  }
  end(event: 'ended' | 'failed', e: JsSipEndEvent): void {
    this.ended = true;
    this.fire(event, e);
  }
}

function drive(direction: 'incoming' | 'outgoing', iceConnectTimeoutMs = 60_000) {
  const session = new FakeSession(direction);
  const driver = new CallDriver(session as unknown as JsSipSession, {
    logger: silentLogger,
    iceConnectTimeoutMs,
  });
  const seen: string[] = [];
  driver.on('stateChanged', ({ to }) => seen.push(`state:${to}`));
  driver.on('hold', ({ by }) => seen.push(`hold:${by}`));
  driver.on('unhold', ({ by }) => seen.push(`unhold:${by}`));
  driver.on('muted', () => seen.push('muted'));
  driver.on('unmuted', () => seen.push('unmuted'));
  driver.on('ended', ({ cause, by }) => seen.push(`ended:${cause}:${by}`));
  driver.on('failed', ({ cause, by, statusCode }) => seen.push(`failed:${cause}:${by}:${statusCode}`));
  return { session, driver, seen };
}

/** An established call: incoming, answered, ACK received (ICE left alone: no peer connection, long timeout). */
async function established(iceConnectTimeoutMs?: number) {
  const d = drive('incoming', iceConnectTimeoutMs);
  const answered = d.driver.answerWith({ mediaConstraints: { audio: true, video: false } });
  d.session.fire('accepted', { originator: 'local' });
  await answered;
  d.session.fire('confirmed', { originator: 'remote' });
  d.seen.length = 0;
  return d;
}

const refusal = (error: unknown): { code: string; statusCode: number | undefined } => {
  const e = error as SipError;
  return { code: e.code, statusCode: e.statusCode };
};

describe('CallDriver', () => {
  it('an incoming call rings, is answered, and is established once the 2xx is sent', async () => {
    const { session, driver, seen } = drive('incoming');
    expect(driver.state).toBe(SipCallState.Ringing);
    expect(driver.remote).toMatchObject({ user: '0901000001', displayName: 'Customer' });
    const answered = driver.answerWith({ mediaConstraints: { audio: true, video: false } });
    expect(driver.state).toBe(SipCallState.Answering);
    expect(session.answered).toBe(1);
    session.fire('accepted', { originator: 'local' });
    await answered;
    expect(driver.state).toBe(SipCallState.Established);
    expect(seen).toEqual(['state:answering', 'state:established']);
    await expect(driver.answerWith({})).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('an outgoing call goes calling → ringing → established on 1xx and 2xx', () => {
    const { session, driver, seen } = drive('outgoing');
    expect(driver.state).toBe(SipCallState.Calling);
    const progress: number[] = [];
    driver.on('progress', ({ statusCode }) => progress.push(statusCode));
    session.fire('progress', {
      originator: 'remote',
      response: { status_code: 180, reason_phrase: 'Ringing' },
    });
    session.fire('accepted', { originator: 'remote', response: { status_code: 200, reason_phrase: 'OK' } });
    expect(progress).toEqual([180]);
    expect(seen).toEqual(['state:ringing', 'state:established']);
  });

  it('an outgoing call hung up before its answer is marked so that a 2xx crossing the CANCEL gets ACK and BYE; an answered one is not', () => {
    const ringing = drive('outgoing');
    ringing.session.inProgress = true;
    void ringing.driver.hangup();
    expect(ringing.session.terminated).toEqual([{}]);
    expect(ringing.session._is_canceled).toBe(true);

    const incoming = drive('incoming');
    incoming.session.inProgress = true;
    void incoming.driver.hangup();
    expect(incoming.session.terminated).toEqual([{}]);
    expect(incoming.session._is_canceled).toBe(false);
  });

  it('hold is reported only once the peer answered the re-INVITE 2xx, with an offer built on hold', async () => {
    const { session, driver, seen } = await established();
    const held = driver.hold();
    expect(session.reinviteOffers).toEqual([true]);
    await Promise.resolve();
    expect(seen).toEqual([]);
    session.answerReinvite(200);
    await held;
    expect(seen).toEqual(['hold:local']);
    expect(driver.onHold.local).toBe(true);

    const unheld = driver.unhold();
    expect(session.reinviteOffers).toEqual([true, false]);
    expect(seen).toEqual(['hold:local']);
    session.answerReinvite(200);
    await unheld;
    expect(seen).toEqual(['hold:local', 'unhold:local']);
    expect(driver.onHold.local).toBe(false);
  });

  it('restartIce() sends a re-INVITE asking for new ICE credentials; reoffer() uses the defaults', async () => {
    const { session, driver } = await established();
    const restarted = driver.restartIce();
    session.answerReinvite(200);
    await restarted;
    const offered = driver.reoffer();
    session.answerReinvite(200);
    await offered;
    expect(session.reinviteConstraints).toEqual([{ iceRestart: true }, undefined]);
    const refused = driver.restartIce();
    session.answerReinvite(488);
    expect(refusal(await refused.catch((e: unknown) => e))).toEqual({
      code: 'REQUEST_FAILED',
      statusCode: 488,
    });
    expect(driver.state).toBe(SipCallState.Established);
  });

  it('a hold the peer refuses (488) rejects with the status, reports nothing and leaves the call up, not held', async () => {
    const { session, driver, seen } = await established();
    const held = driver.hold();
    session.answerReinvite(488);
    expect(refusal(await held.catch((e: unknown) => e))).toEqual({ code: 'REQUEST_FAILED', statusCode: 488 });
    expect(seen).toEqual([]);
    expect(driver.onHold.local).toBe(false);
    expect(driver.state).toBe(SipCallState.Established);
    expect(session.terminated).toEqual([]);
    // and the call can be held later
    const again = driver.hold();
    session.answerReinvite(200);
    await again;
    expect(seen).toEqual(['hold:local']);
  });

  it('an unhold the peer refuses leaves the call held', async () => {
    const { session, driver, seen } = await established();
    const held = driver.hold();
    session.answerReinvite(200);
    await held;
    const unheld = driver.unhold();
    session.answerReinvite(491);
    expect(refusal(await unheld.catch((e: unknown) => e))).toEqual({
      code: 'REQUEST_FAILED',
      statusCode: 491,
    });
    expect(seen).toEqual(['hold:local']);
    expect(driver.onHold.local).toBe(true);
  });

  it('a second hold while one is in progress is refused; a hold pending when the call ends rejects CALL_TERMINATED', async () => {
    const { session, driver, seen } = await established();
    const held = driver.hold();
    await expect(driver.hold()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    session.end('ended', { originator: 'remote', cause: 'Terminated' });
    await expect(held).rejects.toMatchObject({ code: 'CALL_TERMINATED' });
    expect(seen).toEqual(['state:terminated', 'ended:bye:remote']);
  });

  it("the peer's hold is reported as remote; JsSIP's own local hold event is not reported twice", async () => {
    const { session, driver, seen } = await established();
    session.fire('hold', { originator: 'remote' });
    session.fire('unhold', { originator: 'remote' });
    const held = driver.hold();
    session.answerReinvite(200);
    await held;
    expect(seen).toEqual(['hold:remote', 'unhold:remote', 'hold:local']);
  });

  it('mute and unmute are reported once the local audio is off or on again', async () => {
    const { session, driver, seen } = await established();
    driver.mute();
    expect(session.audioMuted).toBe(true);
    expect(driver.isMuted).toBe(true);
    driver.mute();
    driver.unmute();
    expect(seen).toEqual(['muted', 'unmuted']);
  });

  it('mute is refused before the call is established', () => {
    const { driver, seen } = drive('incoming');
    expect(() => driver.mute()).toThrow(SipError);
    expect(seen).toEqual([]);
  });

  it('DTMF resolves once each INFO was answered, and rejects with the status of a refused one', async () => {
    const { session, driver } = await established();
    const sent = driver.sendInfoDtmf('1', { gapMs: 0 });
    expect(session.dtmfSent.map((d) => d.tone)).toEqual(['1']);
    session.dtmfSent[0]?.listeners.get('succeeded')?.({});
    await sent;
    const refused = driver.sendInfoDtmf('2', { gapMs: 0 });
    session.dtmfSent[1]?.listeners.get('failed')?.({
      response: { status_code: 415, reason_phrase: 'Unsupported Media Type' },
    });
    expect(refusal(await refused.catch((e: unknown) => e))).toEqual({
      code: 'REQUEST_FAILED',
      statusCode: 415,
    });
    await expect(driver.sendInfoDtmf('x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a REFER reports its progress and resolves with the outcome of the NOTIFYs', async () => {
    const { session, driver } = await established();
    const stages: string[] = [];
    driver.on('referProgress', ({ stage, statusCode }) => stages.push(`${stage}:${statusCode}`));
    const result = driver.refer('sip:5001@pbx');
    const refer = session.refers[0];
    refer?.handlers.requestSucceeded?.({ response: { status_code: 202, reason_phrase: 'Accepted' } });
    refer?.handlers.trying?.({ status_line: { status_code: 100, reason_phrase: 'Trying' } });
    refer?.handlers.failed?.({ status_line: { status_code: 486, reason_phrase: 'Busy' } });
    expect(await result).toEqual({ outcome: 'failed', stage: 'notify', statusCode: 486 });
    expect(stages).toEqual(['requestAccepted:202', 'trying:100']);

    const second = driver.refer('sip:5002@pbx');
    session.end('ended', { originator: 'remote', cause: 'Terminated' });
    expect(await second).toEqual({ outcome: 'failed', stage: 'callEnded' });
  });

  it('ends and failures carry the cause, who, and the status', async () => {
    const rejected = drive('incoming');
    rejected.driver.reject(486);
    expect(rejected.session.terminated).toEqual([{ status_code: 486 }]);
    rejected.session.end('failed', { originator: 'local', cause: 'Rejected' });
    expect(rejected.seen).toEqual(['state:terminated', 'failed:rejected:local:486']);
    expect(await rejected.driver.terminated).toEqual({
      cause: 'rejected',
      by: 'local',
      statusCode: 486,
      established: false,
    });

    const busy = drive('outgoing');
    busy.session.end('failed', {
      originator: 'remote',
      cause: 'Busy',
      message: { status_code: 486, reason_phrase: 'Busy Here' },
    });
    expect(busy.seen).toEqual(['state:terminated', 'failed:busy:remote:486']);
  });

  it('an answered call whose ICE never connects is hung up and ends iceFailed, by the system', async () => {
    const { session, driver, seen } = await established(5);
    // the watchdog hangs up; JsSIP then ends the call (here: the fake's BYE sent)
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (session.terminated.length === 0 && Date.now() - started < 2_000) return;
        clearInterval(poll);
        if (session.terminated.length === 0) reject(new Error('the watchdog did not hang up within 2 s'));
        else resolve();
      }, 1);
    });
    session.end('ended', { originator: 'local', cause: 'Terminated' });
    expect(await driver.terminated).toEqual({ cause: 'iceFailed', by: 'system', established: true });
    expect(seen).toEqual(['state:terminated', 'ended:iceFailed:system']);
  });

  it('a call whose media is elsewhere (a direct-media leg) has no ICE watchdog: it stays up', async () => {
    class Elsewhere extends CallDriver {
      protected override mediaElsewhere(): boolean {
        return true;
      }
    }
    jest.useFakeTimers();
    try {
      const session = new FakeSession('incoming');
      const driver = new Elsewhere(session as unknown as JsSipSession, {
        logger: silentLogger,
        iceConnectTimeoutMs: 5,
      });
      const answered = driver.answerWith({ mediaConstraints: { audio: false, video: false } });
      session.fire('accepted', { originator: 'local' });
      await answered;
      jest.advanceTimersByTime(60_000);
      expect(session.terminated).toEqual([]);
      expect(driver.state).toBe(SipCallState.Established);
    } finally {
      jest.useRealTimers();
    }
  });
});
