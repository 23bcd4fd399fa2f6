/**
 * Direct media callouts (libs/sip, phase 1) through the real stack: the plain lab Kamailio (no
 * media relay), baresip plain-RTP phones in their own processes, JsSIP + wrtc user agents for
 * WebRTC. The "gateway" is one SipUserAgent whose legs use pass-through peer connections.
 * - The customer's early media (183 with SDP) reaches the device while the customer rings; with
 *   none, a ringback anchored in this process for those seconds only, if asked for.
 * - A WebRTC device called before a WebRTC customer: joined by an offerless re-INVITE of the
 *   device (RFC 3725 flow I), and a device that refuses it.
 */
import {
  AudioAnalyser,
  DirectMediaCall,
  DirectMediaError,
  type DirectMediaEvents,
  DirectMediaState,
  PassThroughPeerConnection,
  RINGBACK_TONE,
  type SipCall,
  SipCallState,
  type SipUserAgent,
  ToneSource,
  describeAudio,
  ulawEncode,
  waitForEvent,
  webRtcPlaceholderOffer,
} from '@callgate/sip';
import { registeredSippUas } from '../apps/lab/src/sipp.js';
import { directMediaLab, ownUdpSockets } from './direct-media-support.js';
import { eventually } from './support/tabs.js';

const T = 120_000;

/** `ms` of a sine at `frequency` Hz as raw mu-law at 8 kHz (what sipp's rtp_stream plays as PCMU). */
function ulawTone(frequency: number, ms: number): Uint8Array {
  const samples = (8_000 * ms) / 1_000;
  const out = new Uint8Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = ulawEncode(Math.round(8_000 * Math.sin((2 * Math.PI * frequency * i) / 8_000)));
  return out;
}

describe('direct media callouts', () => {
  const lab = directMediaLab(T);
  const { open, phone, agent } = lab;

  it(
    "early media: the desk phone hears the customer's 183 audio (a 400 Hz tone) while it rings, and is told to only receive; after the 200 OK the legs are joined",
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000);
      const { done: customer } = await registeredSippUas({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uas-early-media',
        user: '0901000001',
        files: { 'tone.ulaw': ulawTone(400, 1_000) },
        timeoutMs: 60_000,
      });
      const progress: { statusCode: number; earlyMedia: boolean }[] = [];

      let settled = false;
      const outcome = DirectMediaCall.callout(gateway, '5003-desk', '0901000001', {
        fromUser: '0281000000',
        onCustomerProgress: (p) => progress.push(p),
      }).finally(() => {
        settled = true;
      });

      const early = await eventually(() => progress.find((p) => p.statusCode === 183), 20_000, 'the 183');
      expect(early.earlyMedia).toBe(true);
      // the agent hears the customer's early audio; the customer answers 6 s after its 183
      await desk.hears(400, 5_000);
      expect(settled).toBe(false);
      const deviceLeg = gateway.activeCalls.find((c) => c.remote.user === '5003-desk');
      const customerLeg = gateway.activeCalls.find((c) => c.remote.user === '0901000001');
      expect(customerLeg?.state).not.toBe(SipCallState.Established);
      // the device was told the customer only sends: it answered recvonly (the agent is not heard)
      expect(describeAudio(deviceLeg?.passThrough?.localSdp ?? '')).toMatchObject({
        direction: 'sendonly',
        port: describeAudio(customerLeg?.passThrough?.remoteSdp ?? '')?.port,
      });
      expect(describeAudio(deviceLeg?.passThrough?.remoteSdp ?? '')?.direction).toBe('recvonly');

      const call = await outcome;
      expect(call.state).toBe(DirectMediaState.Connected);
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.direction).toBe('sendrecv');
      expect(describeAudio(call.deviceCall.passThrough?.remoteSdp ?? '')?.direction).toBe('sendrecv');
      await desk.hears(400, 10_000);

      await call.hangup();
      expect(call.end?.by).toBe('local');
      expect((await customer).exitCode).toBe(0);
    },
    T,
  );

  it(
    'a customer without early media (180 only): the callout connects as before and onCustomerProgress reports no early media',
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000);
      const customer = await phone('0901000001', 400, { autoAnswer: false });
      const progress: { statusCode: number; earlyMedia: boolean }[] = [];
      const outcome = DirectMediaCall.callout(gateway, '5003-desk', '0901000001', {
        onCustomerProgress: (p) => progress.push(p),
      });
      await customer.waitFor('CALL_INCOMING');
      await eventually(() => progress.length > 0 || undefined, 10_000, 'a provisional response');
      await customer.accept();
      const call = await outcome;
      expect(progress.every((p) => !p.earlyMedia)).toBe(true);
      await desk.hears(400, 20_000);
      await customer.hears(1000, 20_000);
      await call.hangup();
    },
    T,
  );

  it(
    'a customer without early media and ringback asked for: the gateway plays a 425 Hz ringback to the desk phone from one UDP socket while the customer rings, and closes it once the legs are joined',
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000);
      const customer = await phone('0901000001', 400, { autoAnswer: false });
      expect(ownUdpSockets()).toBe(0);
      const outcome = DirectMediaCall.callout(gateway, '5003-desk', '0901000001', {
        ringback: { address: lab.pbx.host },
      });
      await customer.waitFor('CALL_INCOMING');
      // the desk hears the ringback, from this process (its one UDP socket), before the answer
      await desk.hears(RINGBACK_TONE.frequency, 15_000);
      expect(ownUdpSockets()).toBe(1);
      const deviceLeg = gateway.activeCalls.find((c) => c.remote.user === '5003-desk');
      expect(describeAudio(deviceLeg?.passThrough?.localSdp ?? '')).toMatchObject({
        address: lab.pbx.host,
        direction: 'sendonly',
        codecs: ['PCMU'],
      });

      await customer.accept();
      const call = await outcome;
      expect(call.state).toBe(DirectMediaState.Connected);
      // handed off: the socket is closed, the endpoints hear each other directly
      expect(ownUdpSockets()).toBe(0);
      await desk.hears(400, 20_000);
      await customer.hears(1000, 20_000);
      await call.hangup();
    },
    T,
  );

  interface Bot {
    /** The bot's side of the call, once it has been called. */
    leg: () => SipCall | undefined;
    /** What the bot receives, once it has a remote track. */
    hears: () => Promise<AudioAnalyser>;
    /** When the bot sent its 2xx (performance.now()). */
    answeredAt: () => number | undefined;
  }

  /**
   * A WebRTC end (a JsSIP + wrtc user agent) that answers every call with a tone at `frequency`
   * and listens to what it receives; `refuse`: it answers re-INVITEs with that status.
   */
  async function bot(user: string, frequency: number, refuse?: number): Promise<Bot> {
    const ua = await agent(user);
    const tone = new ToneSource({ frequency });
    open.tones.push(tone);
    let leg: SipCall | undefined;
    let answeredAt: number | undefined;
    let heard!: (analyser: AudioAnalyser) => void;
    const track = new Promise<AudioAnalyser>((resolve) => (heard = resolve));
    ua.on('incomingCall', ({ call }) => {
      leg = call;
      if (refuse !== undefined) call.refuseReinvites(refuse);
      call.once('accepted', () => (answeredAt = performance.now()));
      call.once('remoteTrack', ({ track: remote }) => {
        const analyser = new AudioAnalyser(remote);
        open.analysers.push(analyser);
        heard(analyser);
      });
      void call.answer({ mediaStream: tone.stream });
    });
    return { leg: () => leg, hears: () => track, answeredAt: () => answeredAt };
  }

  /** The gateway, a WebRTC device (1000 Hz; `refuse`: its re-INVITE answer) and a WebRTC customer (400 Hz). */
  async function webRtcPair(refuse?: number): Promise<{ gateway: SipUserAgent; device: Bot; customer: Bot }> {
    const gateway = await agent('5003');
    const device = await bot('5003-web', 1000, refuse);
    const customer = await bot('0901000002', 400);
    return { gateway, device, customer };
  }

  it(
    'a WebRTC device called first and a WebRTC customer: joined by an offerless re-INVITE of the device (RFC 3725 flow I) in one round; both hear each other, hold and unhold work, the hang-up is clean',
    async () => {
      const { gateway, device, customer } = await webRtcPair();
      const call = await DirectMediaCall.callout(gateway, '5003-web', '0901000002', {
        placeholderOffer: webRtcPlaceholderOffer(),
      });
      expect(call.state).toBe(DirectMediaState.Connected);
      // one round: the offerless re-INVITE of the device and the re-INVITE of the customer
      expect(call.reinvites).toBe(2);
      const deviceSdp = call.deviceCall.passThrough?.remoteSdp ?? '';
      const customerSdp = call.customerCall.passThrough?.remoteSdp ?? '';
      // DTLS and ICE end to end: each leg was given the other end's credentials and fingerprint
      expect(describeAudio(deviceSdp)?.profile).toBe('webrtc');
      expect(describeAudio(call.customerCall.passThrough?.localSdp ?? '')).toMatchObject({
        iceUfrag: describeAudio(deviceSdp)?.iceUfrag,
        fingerprint: describeAudio(deviceSdp)?.fingerprint,
      });
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')).toMatchObject({
        iceUfrag: describeAudio(customerSdp)?.iceUfrag,
        fingerprint: describeAudio(customerSdp)?.fingerprint,
      });

      const [deviceEar, customerEar] = await Promise.all([device.hears(), customer.hears()]);
      const heard = await Promise.all([
        deviceEar.waitFor({ frequency: 400, timeoutMs: 20_000 }),
        customerEar.waitFor({ frequency: 1000, timeoutMs: 20_000 }),
      ]);
      const twoWayMs = performance.now() - (customer.answeredAt() ?? Number.NaN);
      console.log(
        `webrtc callout direct: device heard ${heard[0].frequency?.toFixed(0)} Hz @${heard[0].level.toFixed(3)}, ` +
          `customer ${heard[1].frequency?.toFixed(0)} Hz @${heard[1].level.toFixed(3)}, ${call.reinvites} re-INVITEs, ` +
          `customer's 2xx to both tones detected ${twoWayMs.toFixed(0)} ms`,
      );

      await call.hold();
      expect(call.mode).toBe('held');
      await Promise.all([
        deviceEar.waitForSilence({ timeoutMs: 15_000 }),
        customerEar.waitForSilence({ timeoutMs: 15_000 }),
      ]);
      await call.unhold();
      expect(call.state).toBe(DirectMediaState.Connected);
      await Promise.all([
        deviceEar.waitFor({ frequency: 400, timeoutMs: 20_000 }),
        customerEar.waitFor({ frequency: 1000, timeoutMs: 20_000 }),
      ]);

      await call.hangup();
      expect(call.state).toBe(DirectMediaState.Ended);
      expect(call.end?.by).toBe('local');
      const deviceLeg = device.leg();
      const customerLeg = customer.leg();
      await Promise.all([deviceLeg?.terminated, customerLeg?.terminated]);
      expect(deviceLeg?.end).toMatchObject({ by: 'remote', established: true });
      expect(customerLeg?.end).toMatchObject({ by: 'remote', established: true });
      expect(gateway.activeCalls).toHaveLength(0);
    },
    T,
  );

  it(
    'a WebRTC customer that restarts ICE mid-call: the device is joined again by an offerless re-INVITE, keeping its own ICE credentials; hold, unhold and both tones work after it',
    async () => {
      const { gateway, device, customer } = await webRtcPair();
      const call = await DirectMediaCall.callout(gateway, '5003-web', '0901000002', {
        placeholderOffer: webRtcPlaceholderOffer(),
      });
      const [deviceEar, customerEar] = await Promise.all([device.hears(), customer.hears()]);
      await Promise.all([
        deviceEar.waitFor({ frequency: 400, timeoutMs: 20_000 }),
        customerEar.waitFor({ frequency: 1000, timeoutMs: 20_000 }),
      ]);
      const ufrag = (sdp: string | undefined): string | undefined => describeAudio(sdp ?? '')?.iceUfrag;
      const deviceUfrag = ufrag(call.deviceCall.passThrough?.remoteSdp);
      const customerUfrag = ufrag(call.customerCall.passThrough?.remoteSdp);
      const before = call.reinvites;
      const offers: DirectMediaEvents['remoteOffer'][] = [];
      call.on('remoteOffer', (e) => offers.push(e));

      await customer.leg()?.restartIce();
      // followed: the offerless re-INVITE of the device, then the customer re-INVITEd with its offer
      await eventually(
        () => (call.reinvites - before === 2 && call.state === DirectMediaState.Connected) || undefined,
        20_000,
        'the device joined again',
      );
      expect(offers).toEqual([{ leg: 'customer' }]);
      const restarted = ufrag(call.customerCall.passThrough?.remoteSdp);
      expect(restarted).not.toBe(customerUfrag);
      expect(ufrag(call.deviceCall.passThrough?.localSdp)).toBe(restarted);
      expect(ufrag(call.deviceCall.passThrough?.remoteSdp)).toBe(deviceUfrag);
      expect(ufrag(call.customerCall.passThrough?.localSdp)).toBe(deviceUfrag);
      // the media follows the new session: hold silences both ends, unhold brings both tones back
      // (the tones alone would not show it: the old candidate pair may carry them meanwhile)
      await call.hold();
      await Promise.all([
        deviceEar.waitForSilence({ timeoutMs: 15_000 }),
        customerEar.waitForSilence({ timeoutMs: 15_000 }),
      ]);
      await call.unhold();
      await Promise.all([
        deviceEar.waitFor({ frequency: 400, timeoutMs: 20_000 }),
        customerEar.waitFor({ frequency: 1000, timeoutMs: 20_000 }),
      ]);

      await call.hangup();
      await Promise.all([device.leg()?.terminated, customer.leg()?.terminated]);
      expect(gateway.activeCalls).toHaveLength(0);
    },
    T,
  );

  it(
    'a WebRTC customer re-targeted to another WebRTC leg: the target is re-INVITEd without SDP and the customer takes its offer; they hear each other',
    async () => {
      const { gateway, device, customer } = await webRtcPair();
      const target = await bot('5004-web', 1600);
      const call = await DirectMediaCall.callout(gateway, '5003-web', '0901000002', {
        placeholderOffer: webRtcPlaceholderOffer(),
      });
      const customerEar = await customer.hears();
      await customerEar.waitFor({ frequency: 1000, timeoutMs: 20_000 });

      const targetLeg = gateway.call('5004-web', {
        passThrough: new PassThroughPeerConnection(() => webRtcPlaceholderOffer()),
      });
      await waitForEvent(targetLeg, 'accepted', { timeoutMs: 15_000 });
      const before = call.reinvites;
      const previous = await call.retarget(targetLeg);
      expect(call.reinvites - before).toBe(2);
      expect(call.state).toBe(DirectMediaState.Connected);
      expect(call.deviceCall).toBe(targetLeg);
      expect(previous.state).toBe(SipCallState.Established);
      await previous.hangup();
      await device.leg()?.terminated;
      expect(call.state).toBe(DirectMediaState.Connected);

      const targetEar = await target.hears();
      await Promise.all([
        customerEar.waitFor({ frequency: 1600, timeoutMs: 20_000 }),
        targetEar.waitFor({ frequency: 400, timeoutMs: 20_000 }),
      ]);

      await call.hangup();
      await Promise.all([customer.leg()?.terminated, target.leg()?.terminated]);
      expect(gateway.activeCalls).toHaveLength(0);
    },
    T,
  );

  it(
    'a WebRTC device that answers the offerless re-INVITE with 488: MediaFailed with REINVITE_REJECTED, both legs up',
    async () => {
      const { gateway, device, customer } = await webRtcPair(488);
      const failures: DirectMediaEvents['failed'][] = [];
      const failure = await DirectMediaCall.callout(gateway, '5003-web', '0901000002', {
        placeholderOffer: webRtcPlaceholderOffer(),
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DirectMediaError);
      const error = failure as DirectMediaError;
      expect(error).toMatchObject({ code: 'REINVITE_REJECTED', statusCode: 488, leg: 'device' });
      const call = error.call;
      call?.on('failed', (e) => failures.push(e));
      expect(call?.state).toBe(DirectMediaState.MediaFailed);
      // the refused offerless re-INVITE changed nothing: no re-INVITE reached the customer
      expect(call?.reinvites).toBe(1);
      expect(call?.deviceCall.state).toBe(SipCallState.Established);
      expect(call?.customerCall.state).toBe(SipCallState.Established);
      expect(device.leg()?.state).toBe(SipCallState.Established);
      expect(customer.leg()?.state).toBe(SipCallState.Established);
      // still refused: reconnect() fails the same way, and says so
      await expect(call?.reconnect()).rejects.toMatchObject({ code: 'REINVITE_REJECTED', statusCode: 488 });
      expect(failures).toEqual([
        expect.objectContaining({ code: 'REINVITE_REJECTED', statusCode: 488, leg: 'device' }),
      ]);

      await call?.hangup();
      expect(call?.state).toBe(DirectMediaState.Ended);
      await Promise.all([device.leg()?.terminated, customer.leg()?.terminated]);
      expect(gateway.activeCalls).toHaveLength(0);
    },
    T,
  );
});
