/**
 * Direct media callouts (libs/sip, phase 1) through the real stack: the plain lab Kamailio (no
 * media relay), baresip plain-RTP phones in their own processes, JsSIP + wrtc user agents for
 * WebRTC. The "gateway" is one SipUserAgent whose legs use pass-through peer connections.
 * - The customer's early media (183 with SDP) reaches the device while the customer rings; with
 *   none, a ringback anchored in this process for those seconds only, if asked for.
 * - A WebRTC device called before its customer (see the README, "Direct media").
 */
import {
  DirectMediaCall,
  DirectMediaError,
  DirectMediaState,
  RINGBACK_TONE,
  SipCallState,
  SipUserAgent,
  ToneSource,
  describeAudio,
  ulawEncode,
  webRtcPlaceholderOffer,
} from '@callgate/sip';
import { BaresipPhone, type BaresipOptions } from '../apps/lab/src/baresip.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import { freeUdpPort } from '../apps/lab/src/ports.js';
import { runSipp } from '../apps/lab/src/sipp.js';
import { ownUdpSockets } from './direct-media-support.js';
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
  let pbx: Kamailio;
  const open: { phones: BaresipPhone[]; uas: SipUserAgent[]; tones: ToneSource[] } = {
    phones: [],
    uas: [],
    tones: [],
  };

  beforeAll(async () => {
    pbx = await startKamailio();
  }, T);

  afterEach(async () => {
    await Promise.all(open.uas.splice(0).map((u) => u.close()));
    for (const t of open.tones.splice(0)) t.stop();
    await Promise.all(open.phones.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await pbx.stop();
  });

  async function phone(
    user: string,
    tone: number,
    extra: Partial<BaresipOptions> = {},
  ): Promise<BaresipPhone> {
    const started = await BaresipPhone.start({
      user,
      domain: pbx.sipDomain,
      proxy: { host: pbx.host, port: pbx.udpPort },
      tone,
      ...extra,
    });
    open.phones.push(started);
    return started;
  }

  async function agent(user: string): Promise<SipUserAgent> {
    const ua = new SipUserAgent({ wsUri: pbx.wsUri, sipDomain: pbx.sipDomain, user, register: true });
    open.uas.push(ua);
    await ua.start();
    return ua;
  }

  it(
    "early media: the desk phone hears the customer's 183 audio (a 400 Hz tone) while it rings, and is told to only receive; after the 200 OK the legs are joined",
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000);
      const uasPort = await freeUdpPort(pbx.host);
      const customer = runSipp({
        host: pbx.host,
        port: pbx.udpPort,
        scenario: 'uas-early-media',
        service: 'x',
        localPort: uasPort,
        files: { 'tone.ulaw': ulawTone(400, 1_000) },
        timeoutMs: 60_000,
      });
      const registered = await runSipp({
        host: pbx.host,
        port: pbx.udpPort,
        scenario: 'register-contact',
        service: '0901000001',
        keys: { contact_port: String(uasPort) },
      });
      expect(registered.exitCode).toBe(0);
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
        ringback: { address: pbx.host },
      });
      await customer.waitFor('CALL_INCOMING');
      // the desk hears the ringback, from this process (its one UDP socket), before the answer
      await desk.hears(RINGBACK_TONE.frequency, 15_000);
      expect(ownUdpSockets()).toBe(1);
      const deviceLeg = gateway.activeCalls.find((c) => c.remote.user === '5003-desk');
      expect(describeAudio(deviceLeg?.passThrough?.localSdp ?? '')).toMatchObject({
        address: pbx.host,
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

  it(
    'a WebRTC device called first: it accepts the WebRTC placeholder (ICE credentials, fingerprint), but with a WebRTC customer each re-INVITE restarts ICE at both ends: SDP_NOT_CONVERGING, both legs up',
    async () => {
      const gateway = await agent('5003');
      const device = await agent('5003-web');
      const customer = await agent('0901000002');
      const deviceTone = new ToneSource({ frequency: 1000 });
      const customerTone = new ToneSource({ frequency: 400 });
      open.tones.push(deviceTone, customerTone);
      for (const [ua, tone] of [
        [device, deviceTone],
        [customer, customerTone],
      ] as const) {
        ua.on('incomingCall', ({ call }) => void call.answer({ mediaStream: tone.stream }));
      }

      const failure = await DirectMediaCall.callout(gateway, '5003-web', '0901000002', {
        placeholderOffer: webRtcPlaceholderOffer(),
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DirectMediaError);
      const error = failure as DirectMediaError;
      expect(error.code).toBe('SDP_NOT_CONVERGING');
      expect(error.message).toMatch(/ICE restart/);
      const call = error.call;
      expect(call?.state).toBe(DirectMediaState.MediaFailed);
      expect(call?.deviceCall.state).toBe(SipCallState.Established);
      expect(call?.customerCall.state).toBe(SipCallState.Established);
      // the device took the placeholder: it answered with its own ICE credentials and fingerprint
      expect(describeAudio(call?.deviceCall.passThrough?.remoteSdp ?? '')?.profile).toBe('webrtc');
      await call?.hangup();
      expect(call?.state).toBe(DirectMediaState.Ended);
    },
    T,
  );
});
