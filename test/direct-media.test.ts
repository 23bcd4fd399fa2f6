/**
 * Direct media (libs/sip, phase 1) through the real stack: the plain lab Kamailio (no media relay
 * at all, no rtpengine), baresip plain-RTP phones in their own processes, sipp for the faults,
 * and JsSIP + wrtc user agents for WebRTC on both sides. The "gateway" here is one SipUserAgent
 * whose legs use pass-through peer connections (DirectMediaCall). Waits are on events, bounded.
 */
import {
  AudioAnalyser,
  DirectMediaCall,
  DirectMediaError,
  DirectMediaState,
  PassThroughPeerConnection,
  type SipCall,
  SipCallState,
  type SipUserAgent,
  ToneSource,
  describeAudio,
  waitForEvent,
} from '@callgate/sip';
import { registeredSippUas, runSipp } from '../apps/lab/src/sipp.js';
import { directMediaLab, ownUdpSockets } from './direct-media-support.js';

const T = 120_000;

describe('direct media between two legs of one user agent', () => {
  const lab = directMediaLab(T);
  const { open, phone, agent } = lab;

  function nextIncoming(ua: SipUserAgent): Promise<SipCall> {
    return waitForEvent(ua, 'incomingCall', { timeoutMs: 15_000 }).then((e) => e.call);
  }

  it(
    'inbound: plain-RTP customer and desk phone hear each other with no relay; hold, mute and hang-up by re-INVITE directions; no UDP socket in this process',
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000);
      const customer = await phone('0901000001', 400);
      const udpBefore = ownUdpSockets();
      const passThroughBefore = PassThroughPeerConnection.created;

      const incoming = nextIncoming(gateway);
      await customer.dial(`sip:5003@${lab.pbx.sipDomain}`);
      const customerLeg = await incoming;
      const call = await DirectMediaCall.inbound(gateway, customerLeg, '5003-desk');
      expect(call.state).toBe(DirectMediaState.Connected);
      expect(call.reinvites).toBe(0);

      // each endpoint was given the other's own media address: nothing in between
      const customerSdp = describeAudio(customerLeg.passThrough?.remoteSdp ?? '');
      const deskSdp = describeAudio(call.deviceCall.passThrough?.remoteSdp ?? '');
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')).toMatchObject({
        address: customerSdp?.address,
        port: customerSdp?.port,
      });
      expect(describeAudio(customerLeg.passThrough?.localSdp ?? '')).toMatchObject({
        address: deskSdp?.address,
        port: deskSdp?.port,
      });

      const deskHeard = await desk.hears(400, 20_000);
      const customerHeard = await customer.hears(1000, 20_000);
      console.log(
        `direct: desk heard ${deskHeard.frequency?.toFixed(0)} Hz @${deskHeard.level.toFixed(3)}, customer ${customerHeard.frequency?.toFixed(0)} Hz @${customerHeard.level.toFixed(3)}`,
      );
      // no RTP can reach this process: it holds no UDP socket and built no wrtc peer connection
      expect(ownUdpSockets()).toBe(udpBefore);
      expect(udpBefore).toBe(0);
      expect(PassThroughPeerConnection.created - passThroughBefore).toBe(2);
      expect(customerLeg.remoteAudioTrack).toBeUndefined();

      await call.mute();
      expect(call.mode).toBe('muted');
      expect(describeAudio(customerLeg.passThrough?.localSdp ?? '')?.direction).toBe('recvonly');
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.direction).toBe('sendonly');
      await customer.hearsSilence(15_000);
      // baresip 1.0 stops recording what it hears after a re-INVITE that changes the direction:
      // the audio after mute/unmute/hold/unhold is checked with the WebRTC endpoints below
      await call.unmute();
      expect(describeAudio(customerLeg.passThrough?.localSdp ?? '')?.direction).toBe('sendrecv');

      await call.hold();
      expect(call.mode).toBe('held');
      expect(describeAudio(customerLeg.passThrough?.localSdp ?? '')?.direction).toBe('inactive');
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.direction).toBe('inactive');
      await customer.hearsSilence(15_000);
      await desk.hearsSilence(15_000);
      await call.unhold();
      expect(describeAudio(customerLeg.passThrough?.localSdp ?? '')?.direction).toBe('sendrecv');
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.direction).toBe('sendrecv');
      expect(call.reinvites).toBe(8);
      expect(ownUdpSockets()).toBe(0);

      const ended = waitForEvent(call, 'ended', { timeoutMs: 15_000 });
      await customer.hangup();
      expect((await ended).by).toBe('customer');
      expect((await call.deviceCall.terminated).by).toBe('local');
      expect(call.state).toBe(DirectMediaState.Ended);
    },
    T,
  );

  it(
    'callout and re-targeting: the device is called first, then the customer; the customer is re-INVITEd towards a third party',
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000);
      const customer = await phone('0901000001', 400);
      const third = await phone('5004-desk', 1600);

      const call = await DirectMediaCall.callout(gateway, '5003-desk', '0901000001', {
        fromUser: '0281000000',
      });
      expect(call.state).toBe(DirectMediaState.Connected);
      await desk.hears(400, 20_000);
      await customer.hears(1000, 20_000);

      const customerSdp = call.customerCall.passThrough?.remoteSdp ?? '';
      const targetPc = new PassThroughPeerConnection(() => customerSdp);
      const target = gateway.call('5004-desk', { passThrough: targetPc });
      await waitForEvent(target, 'accepted', { timeoutMs: 15_000 });
      const previous = await call.retarget(target);
      expect(previous.state).toBe(SipCallState.Established);
      expect(call.deviceCall).toBe(target);
      await previous.hangup();
      expect(call.state).toBe(DirectMediaState.Connected);

      await customer.hears(1600, 20_000);
      await third.hears(400, 20_000);

      await call.hangup();
      expect(call.end?.by).toBe('local');
      expect(call.customerCall.isTerminated && target.isTerminated).toBe(true);
    },
    T,
  );

  it(
    'WebRTC on both sides: DTLS goes end to end (the device gets the customer fingerprint); both hear each other, and hold, mute and DTMF work',
    async () => {
      const gateway = await agent('5003');
      const device = await agent('5003-web');
      const customer = await agent('0901000002');
      const deviceTone = new ToneSource({ frequency: 1000 });
      const customerTone = new ToneSource({ frequency: 400 });
      open.tones.push(deviceTone, customerTone);
      let deviceAnalyser: AudioAnalyser | undefined;
      device.on('incomingCall', ({ call }) => {
        call.once('remoteTrack', ({ track }) => {
          const analyser = new AudioAnalyser(track);
          open.analysers.push(analyser);
          deviceAnalyser = analyser;
          deviceHears = analyser.waitFor({ frequency: 400, timeoutMs: 20_000 });
        });
        void call.answer({ mediaStream: deviceTone.stream });
      });
      let deviceHears: Promise<unknown> | undefined;

      const incoming = nextIncoming(gateway);
      const customerCall = customer.call('5003', { mediaStream: customerTone.stream });
      const customerTrack = waitForEvent(customerCall, 'remoteTrack', { timeoutMs: 20_000 });
      const customerLeg = await incoming;
      const call = await DirectMediaCall.inbound(gateway, customerLeg, '5003-web');

      const offered = describeAudio(customerLeg.passThrough?.remoteSdp ?? '');
      expect(offered?.profile).toBe('webrtc');
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.fingerprint).toBe(
        offered?.fingerprint,
      );
      expect(describeAudio(customerLeg.passThrough?.localSdp ?? '')?.fingerprint).toBe(
        describeAudio(call.deviceCall.passThrough?.remoteSdp ?? '')?.fingerprint,
      );

      const analyser = new AudioAnalyser((await customerTrack).track);
      open.analysers.push(analyser);
      const heard = await analyser.waitFor({ frequency: 1000, timeoutMs: 20_000 });
      expect(deviceHears).toBeDefined();
      await deviceHears;
      console.log(
        `webrtc direct: customer heard ${heard.frequency?.toFixed(0)} Hz @${heard.level.toFixed(3)}`,
      );

      await call.hold();
      await analyser.waitForSilence({ timeoutMs: 15_000 });
      await call.unhold();
      await analyser.waitFor({ frequency: 1000, timeoutMs: 20_000 });

      // mute: the customer stops hearing the agent, the agent still hears the customer
      await call.mute();
      await analyser.waitForSilence({ timeoutMs: 15_000 });
      await deviceAnalyser?.waitFor({ frequency: 400, timeoutMs: 15_000 });
      await call.unmute();
      await analyser.waitFor({ frequency: 1000, timeoutMs: 20_000 });

      const dtmf = waitForEvent(customerCall, 'dtmf', { timeoutMs: 15_000 });
      await call.sendDtmf('7');
      expect((await dtmf).digit).toBe('7');

      await customerCall.hangup();
      await waitForEvent(call, 'ended', { timeoutMs: 15_000 });
      expect(call.end?.by).toBe('customer');
    },
    T,
  );

  it(
    'a customer that hangs up while the device rings: inbound() rejects with LEG_ENDED and the device stops ringing',
    async () => {
      const gateway = await agent('5003');
      const desk = await phone('5003-desk', 1000, { autoAnswer: false });
      const customer = await phone('0901000001', 400);
      const incoming = nextIncoming(gateway);
      await customer.dial(`sip:5003@${lab.pbx.sipDomain}`);
      const customerLeg = await incoming;
      const outcome = DirectMediaCall.inbound(gateway, customerLeg, '5003-desk').then(
        () => undefined,
        (error: unknown) => error,
      );
      await desk.waitFor('CALL_INCOMING');
      await customer.hangup();

      const error = await outcome;
      expect(error).toBeInstanceOf(DirectMediaError);
      expect(error).toMatchObject({ code: 'LEG_ENDED', leg: 'customer' });
      expect(customerLeg.isTerminated).toBe(true);
      await desk.waitFor('CALL_CLOSED');
      expect(gateway.activeCalls).toHaveLength(0);
    },
    T,
  );

  it(
    'a device that answers the connecting re-INVITE with 488 leaves the call in MediaFailed with REINVITE_REJECTED, both legs up',
    async () => {
      const gateway = await agent('5003');
      await phone('0901000001', 400);
      const { done: uas } = await registeredSippUas({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uas-reinvite-488',
        user: '5009-desk',
        timeoutMs: 40_000,
      });

      const failure = await DirectMediaCall.callout(gateway, '5009-desk', '0901000001').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DirectMediaError);
      const error = failure as DirectMediaError;
      expect(error).toMatchObject({ code: 'REINVITE_REJECTED', statusCode: 488, leg: 'device' });
      const call = error.call;
      expect(call?.state).toBe(DirectMediaState.MediaFailed);
      expect(call?.deviceCall.state).toBe(SipCallState.Established);
      expect(call?.customerCall.state).toBe(SipCallState.Established);

      await call?.hangup();
      expect(call?.state).toBe(DirectMediaState.Ended);
      expect((await uas).exitCode).toBe(0);
    },
    T,
  );

  it(
    'a customer that moves its media mid-call: the device is re-INVITEd with the new SDP',
    async () => {
      const gateway = await agent('5003');
      await phone('5003-desk', 1000);
      const incoming = nextIncoming(gateway);
      const sipp = runSipp({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uac-sdp-change',
        service: '5003',
        timeoutMs: 40_000,
      });
      const customerLeg = await incoming;
      const call = await DirectMediaCall.inbound(gateway, customerLeg, '5003-desk');
      const portBefore = describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.port;

      await waitForEvent(call, 'remoteOffer', { timeoutMs: 15_000 });
      await waitForEvent(call, 'stateChanged', {
        timeoutMs: 15_000,
        filter: (e) => e.from === DirectMediaState.Updating,
      });
      expect(call.state).toBe(DirectMediaState.Connected);
      const portAfter = describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.port;
      expect(portAfter).toBe((portBefore ?? 0) + 2);
      expect(call.reinvites).toBe(1);

      await waitForEvent(call, 'ended', { timeoutMs: 20_000 });
      expect(call.end?.by).toBe('customer');
      expect((await sipp).exitCode).toBe(0);
    },
    T,
  );

  it(
    'glare: a customer answering the hold re-INVITE with 491 twice gets it again after a random pause, and the hold completes',
    async () => {
      const gateway = await agent('5003');
      await phone('5003-desk', 1000);
      const incoming = nextIncoming(gateway);
      const sipp = runSipp({
        host: lab.pbx.host,
        port: lab.pbx.udpPort,
        scenario: 'uac-reinvite-491',
        service: '5003',
        timeoutMs: 40_000,
      });
      const customerLeg = await incoming;
      const call = await DirectMediaCall.inbound(gateway, customerLeg, '5003-desk');

      await call.hold();
      expect(call.state).toBe(DirectMediaState.Connected);
      expect(call.mode).toBe('held');
      // JsSIP sends a re-INVITE answered 491 once more by itself after 1 s; the second 491 is ours to retry
      expect(call.glares).toBe(1);
      expect(call.reinvites).toBe(3);
      expect(describeAudio(call.deviceCall.passThrough?.localSdp ?? '')?.direction).toBe('inactive');

      await call.hangup();
      const result = await sipp;
      expect(result.output.match(/491 ---------->\s+1 /g)).toHaveLength(2);
      expect(result.exitCode).toBe(0);
    },
    T,
  );
});
