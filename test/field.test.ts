/**
 * The field profile: a PBX like the ones users run. Kamailio challenges REGISTER (401) and
 * INVITE (407), rtpengine converts between WebRTC and plain RTP, baresip desk phones and
 * plain-RTP customers are independent endpoints. Waits are on events, bounded.
 */
import { SipError, SipUserAgent, waitForEvent } from '@callgate/sip';
import { BaresipPhone } from '../apps/lab/src/baresip.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import { startRtpengine, type Rtpengine } from '../apps/lab/src/rtpengine.js';

const T = 90_000;

let rtpengine: Rtpengine;
let pbx: Kamailio;
const open: { phones: BaresipPhone[]; uas: SipUserAgent[] } = { phones: [], uas: [] };

beforeAll(async () => {
  rtpengine = await startRtpengine();
  pbx = await startKamailio({
    field: {
      passwords: { '5003-desk': 'desk-secret', '5003': 'agent-secret' },
      rtpengineSocket: rtpengine.ngSocket,
    },
  });
}, T);

afterEach(async () => {
  await Promise.all(open.uas.splice(0).map((u) => u.close()));
  await Promise.all(open.phones.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await pbx.stop();
  await rtpengine.stop();
});

function field(): NonNullable<Kamailio['field']> {
  if (!pbx.field) throw new Error('not a field PBX');
  return pbx.field;
}

async function phone(
  user: string,
  options: { password?: string; trunk?: boolean; tone: number },
): Promise<BaresipPhone> {
  const started = await BaresipPhone.start({
    user,
    domain: pbx.sipDomain,
    proxy: { host: pbx.host, port: options.trunk ? field().trunkPort : pbx.udpPort },
    ...(options.password !== undefined ? { authUser: user, password: options.password } : {}),
    tone: options.tone,
  });
  open.phones.push(started);
  return started;
}

describe('the field PBX', () => {
  it(
    'a customer on the trunk calls a desk phone with digest auth; both hear each other through rtpengine',
    async () => {
      const desk = await phone('5003-desk', { password: 'desk-secret', tone: 1000 });
      const customer = await phone('0901000001', { trunk: true, tone: 400 });

      await customer.dial(`sip:5003-desk@${pbx.sipDomain}`);
      await desk.waitFor('CALL_ESTABLISHED');
      await customer.waitFor('CALL_ESTABLISHED');

      const deskHeard = await desk.hears(400);
      const customerHeard = await customer.hears(1000);
      console.log(
        `desk heard ${deskHeard.frequency?.toFixed(0)} Hz @${deskHeard.level.toFixed(3)}, customer ${customerHeard.frequency?.toFixed(0)} Hz @${customerHeard.level.toFixed(3)}`,
      );
      await customer.hangup();
      await desk.waitFor('CALL_CLOSED');
    },
    T,
  );

  it(
    'a JsSIP agent with the right password registers after a 401; a wrong one fails with 401',
    async () => {
      const good = new SipUserAgent({
        wsUri: pbx.wsUri,
        sipDomain: pbx.sipDomain,
        user: '5003',
        password: 'agent-secret',
        register: true,
      });
      open.uas.push(good);
      await good.start();
      const bad = new SipUserAgent({
        wsUri: pbx.wsUri,
        sipDomain: pbx.sipDomain,
        user: '5003',
        password: 'wrong',
        register: true,
      });
      open.uas.push(bad);
      await expect(bad.start()).rejects.toBeInstanceOf(SipError);
      expect(pbx.countLog(/auth: REGISTER of 5003 by 5003 .*refused/)).toBeGreaterThan(0);
      void waitForEvent;
    },
    T,
  );
});
