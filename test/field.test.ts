/**
 * The field profile: a PBX like the ones users run. Kamailio challenges REGISTER (401) and
 * INVITE (407), rtpengine converts between WebRTC and plain RTP, baresip desk phones and
 * plain-RTP customers are independent endpoints. Waits are on events, bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipError, SipUserAgent } from '@callgate/sip';
import { BaresipPhone } from '../apps/lab/src/baresip.js';
import { FIELD_FORBIDDEN_PREFIX } from '../apps/lab/src/kamailio-config.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import { labTone, labUsers } from '../apps/lab/src/lab.js';
import { startRtpengine, type Rtpengine } from '../apps/lab/src/rtpengine.js';
import { makeLabCertificates } from '../apps/lab/src/tls-ca.js';
import { startFieldGateway, startGatewayOn, type FieldGateway } from './support/field-gateway.js';
import { API_KEY, rest, waitRegistered, type LabAgent } from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const T = 90_000;

describe('the field PBX', () => {
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
    },
    T,
  );
});

/** The agents of the gateway tests: all on desk phones (mode 4); 5001's password is wrong, 5002's changes. */
const FIELD_AGENTS: readonly LabAgent[] = [
  { ext: '5000', device: 4 },
  { ext: '5001', device: 4 },
  { ext: '5002', device: 4 },
];

describe('the gateway on the field PBX (wss://, digest auth, rtpengine, baresip)', () => {
  let env: FieldGateway;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const phone = (user: string): BaresipPhone => env.lab.phone(user).phone;
  const agentView = async (ipphone: string): Promise<Record<string, unknown>> =>
    (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body;

  // Bridged media: these tests check the gateway's own legs (through rtpengine, TURN), and the
  // customer's ears after mute and hold, which baresip 1.0 stops recording after a re-INVITE that
  // changes the direction (what direct media's mute and hold send); direct media on the field PBX is
  // in field-flows.test.ts and direct-media-gateway.test.ts.
  beforeAll(async () => {
    env = await startFieldGateway(
      { customers: 3, ipPhones: ['5000', '5002'], field: { maxExpires: 20 } },
      {
        agents: FIELD_AGENTS,
        domain: { transport: 'wss', media: 'bridge', passwords: { '5001': 'not-the-password' } },
        gateway: { env: { RING_TIMEOUT_MS: '8000' } },
      },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  }, T);
  afterEach(async () => {
    await tabs.closeAll();
  });
  afterAll(async () => {
    backend.close();
    await env.close();
  });

  it(
    'mode 4 inbound: a plain-RTP customer calls, the desk phone answers, audio both ways; hold, mute and DTMF; the customer hangs up',
    async () => {
      await waitRegistered(env.gateway, '5000');
      const customer = phone(labUsers.customer(1));
      const desk = phone('5000-desk');
      const since = { customer: customer.events.length, desk: desk.events.length };
      const startedAt = performance.now();
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const ringing = await backend.waitFor((e) => e.type === 'call.ringing' && e.ipphone === '5000', 15_000);
      const ringingMs = performance.now() - startedAt;
      const callId = ringing.callId ?? '';
      await backend.waitFor((e) => e.type === 'call.accepted' && e.callId === callId, 15_000);
      await desk.waitFor('CALL_ESTABLISHED', 15_000, since.desk);
      const deskHeard = await desk.hears(labTone('customer', 0));
      const customerHeard = await customer.hears(labTone('ipPhone', 0));
      console.log(
        `field inbound: dial → call.ringing ${ringingMs.toFixed(0)} ms; desk hears ${deskHeard.frequency?.toFixed(0)} Hz @${deskHeard.level.toFixed(3)}, customer hears ${customerHeard.frequency?.toFixed(0)} Hz @${customerHeard.level.toFixed(3)}`,
      );

      const path = `/v1/demo/agents/5000/calls/${callId}`;
      expect(await rest(env.gateway, 'POST', `${path}/mute`)).toMatchObject({
        status: 200,
        body: { muted: true },
      });
      await customer.hearsSilence();
      expect(await rest(env.gateway, 'POST', `${path}/mute`)).toMatchObject({
        status: 200,
        body: { muted: false },
      });
      await customer.hears(labTone('ipPhone', 0));

      expect(await rest(env.gateway, 'POST', `${path}/dtmf`, { digits: '1#' })).toMatchObject({
        status: 200,
      });
      const digits = await eventually(
        () => {
          const got = customer.events.slice(since.customer).filter((e) => e.type === 'CALL_DTMF_START');
          return got.length >= 2 ? got.map((e) => e.param).join('') : undefined;
        },
        10_000,
        'the customer received DTMF',
      );
      expect(digits).toBe('1#');

      // Hold re-INVITEs the customer (through rtpengine): baresip 1.0 stops recording after a
      // re-INVITE, so from here the customer's ears are "no more audio"; the desk phone's are checked.
      expect(await rest(env.gateway, 'POST', `${path}/hold`)).toMatchObject({
        status: 200,
        body: { held: true },
      });
      await customer.hearsSilence();
      await desk.hearsSilence();
      expect(await rest(env.gateway, 'POST', `${path}/hold`)).toMatchObject({
        status: 200,
        body: { held: false },
      });
      await desk.hears(labTone('customer', 0));

      await customer.hangup();
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 15_000);
      await desk.waitFor('CALL_CLOSED', 15_000, since.desk);
      expect(backend.events.filter((e) => e.callId === callId).map((e) => e.type)).toEqual([
        'call.ringing',
        'call.accepted',
        'call.muted',
        'call.unmuted',
        'call.held',
        'call.unheld',
        'call.ended',
      ]);
    },
    T,
  );

  it(
    'mode 4 callout: the desk phone answers first, then the plain-RTP customer; audio both ways; the agent hangs up',
    async () => {
      await waitRegistered(env.gateway, '5000');
      const customer = phone(labUsers.customer(2));
      const desk = phone('5000-desk');
      const since = customer.events.length;
      const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls', {
        number: labUsers.customer(2),
      });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      await backend.waitFor((e) => e.type === 'call.customerAccepted' && e.callId === callId, 20_000);
      await customer.waitFor('CALL_ESTABLISHED', 15_000, since);
      await customer.hears(labTone('ipPhone', 0));
      await desk.hears(labTone('customer', 1));
      expect(await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).toMatchObject({
        status: 200,
      });
      await customer.waitFor('CALL_CLOSED', 15_000, since);
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 15_000);
    },
    T,
  );

  it(
    'a callout the PBX forbids (403 to the INVITE) gives callout.failed IPCC_NOT_CONNECT_CUSTOMER with sipCode 403',
    async () => {
      await waitRegistered(env.gateway, '5000');
      const tab = await tabs.open('5000');
      expect(await tab.command('call.dial', { number: `${FIELD_FORBIDDEN_PREFIX}000001` })).toMatchObject({
        ok: true,
      });
      expect((await tab.waitFor((e) => e.type === 'callout.failed', 20_000)).data).toEqual({
        errorCode: 'IPCC_NOT_CONNECT_CUSTOMER',
        sipCode: 403,
      });
      await tab.waitFor((e) => e.type === 'call.ended', 15_000);
      expect(env.lab.pbx.countLog(/dialplan: 5000 may not call 0999000001 \(403\)/)).toBe(1);
    },
    T,
  );

  it(
    'a wrong password: agent.sip failed with the 401 reason, REST shows it, callouts are refused, REGISTER backs off',
    async () => {
      const failed = await backend.waitFor((e) => e.type === 'agent.sip' && e.ipphone === '5001', 20_000);
      expect(failed.data).toMatchObject({
        state: 'failed',
        statusCode: 401,
        reason: expect.stringContaining('authentication failed (401)') as unknown,
      });
      const view = await agentView('5001');
      expect(view.sip).toMatchObject({ registered: false, state: 'failed', statusCode: 401 });
      expect(
        await rest(env.gateway, 'POST', '/v1/demo/agents/5001/calls', { number: labUsers.customer(3) }),
      ).toMatchObject({ status: 502, body: { code: 'IPCC_NOT_CONNECT_AGENT_ID' } });
      // Retries 2 s, 4 s, 8 s … (±20 %) apart: after t seconds at most 1 + log2(t / 1.6 + 1) attempts
      // (every 2 s it would be 1 + t / 2).
      const failures = await eventually(
        async () => {
          const sip = (await agentView('5001')).sip as { failures?: number };
          return (sip.failures ?? 0) >= 4 ? (sip.failures ?? 0) : undefined;
        },
        40_000,
        '5001 failed four times',
      );
      const elapsedS = (Date.now() - Date.parse(failed.at)) / 1000;
      // Four failures: three retries 2 + 4 + 8 s (±20 %) after the first, so no sooner than 11.2 s.
      expect(elapsedS).toBeGreaterThan(11);
      const attempts = env.lab.pbx.countLog(/auth: REGISTER of 5001 by 5001 .*refused/);
      const bound = 1 + Math.floor(Math.log2(elapsedS / 1.6 + 1));
      console.log(
        `wrong password: ${attempts} refused REGISTERs at the PBX in ${elapsedS.toFixed(1)} s since the first (${failures} failures seen by the gateway; back-off bound ${bound}, every 2 s would be ${1 + Math.floor(elapsedS / 2)})`,
      );
      expect(attempts).toBeGreaterThanOrEqual(3);
      expect(attempts).toBeLessThanOrEqual(bound);
      expect(backend.events.filter((e) => e.type === 'agent.sip' && e.ipphone === '5001')).toHaveLength(1);
    },
    T,
  );

  it(
    'a password changed in the PBX while registered: the next refresh fails and agent.sip says so',
    async () => {
      await waitRegistered(env.gateway, '5002');
      const field = env.lab.pbx.field;
      if (!field) throw new Error('not a field lab');
      const start = backend.events.length;
      const next = (state: string): Promise<(typeof backend.events)[number]> =>
        backend.waitFor(
          (e) =>
            backend.events.indexOf(e) >= start &&
            e.type === 'agent.sip' &&
            e.ipphone === '5002' &&
            (e.data as { state: string }).state === state,
          40_000,
          `agent.sip ${state} of 5002`,
        );
      await field.setPassword('5002', 'changed-by-the-admin');
      const changedAt = performance.now();
      try {
        const failed = await next('failed');
        expect(failed.data).toMatchObject({ statusCode: 401, failures: 1 });
        expect((await agentView('5002')).sip).toMatchObject({ registered: false, state: 'failed' });
        console.log(
          `password changed: the refresh failed ${(performance.now() - changedAt).toFixed(0)} ms later`,
        );
      } finally {
        await field.setPassword('5002', 'lab-5002');
      }
      // The back-off's next REGISTER (about 2 s later) works again.
      expect((await next('registered')).data).toEqual({ state: 'registered' });
    },
    T,
  );

  it(
    "pbx.iceServers with iceTransportPolicy 'relay': the gateway's legs reach rtpengine only through TURN (coturn), audio both ways",
    async () => {
      const turn = env.lab.turn;
      const field = env.lab.pbx.field;
      if (!turn || !field) throw new Error('not a field lab');
      // Agent 5005 and its desk phone exist only for this gateway.
      await field.setPassword('5005', 'lab-5005');
      await field.setPassword('5005-desk', 'desk-5005');
      const desk = await BaresipPhone.start({
        user: '5005-desk',
        domain: env.lab.pbx.sipDomain,
        proxy: { host: env.lab.pbx.host, port: env.lab.pbx.udpPort },
        authUser: '5005-desk',
        password: 'desk-5005',
        tone: 1500,
      });
      const allocationsBefore = turn.countLog(/ALLOCATE processed, success/);
      const second = await startGatewayOn(env.lab, [{ ext: '5005', device: 4 }], {
        media: 'bridge', // the gateway's own legs through TURN
        pbxExtra: `iceServers: [{ urls: ["${turn.turnUrl}"], username: "${turn.username}", credential: "${turn.password}" }], iceTransportPolicy: relay`,
      });
      try {
        await waitRegistered(second.gateway, '5005');
        const customer = phone(labUsers.customer(3));
        const since = customer.events.length;
        await customer.dial(`sip:5005@${env.lab.pbx.sipDomain}`);
        await customer.waitFor('CALL_ESTABLISHED', 20_000, since);
        await customer.hears(1500, 15_000);
        await desk.hears(labTone('customer', 2), 15_000);
        const allocations = turn.countLog(/ALLOCATE processed, success/) - allocationsBefore;
        console.log(`relay only: ${allocations} TURN allocations for one bridged call`);
        expect(allocations).toBeGreaterThanOrEqual(2);
        await customer.hangup();
        await customer.waitFor('CALL_CLOSED', 15_000, since);
      } finally {
        await second.close();
        await desk.close();
      }
    },
    T,
  );

  it(
    'wss:// with a CA the PBX certificate is not from: the agent is disconnected with the certificate error',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'callgate-other-ca-'));
      const other = makeLabCertificates(dir, 'pbx.callgate.lab', 'some other CA');
      const second = await startGatewayOn(env.lab, [{ ext: '5000', device: 4 }], {
        transport: 'wss',
        caFile: other.caFile,
      });
      try {
        const sip = await eventually(
          async () => {
            const view = (await rest(second.gateway, 'GET', '/v1/demo/agents/5000')).body.sip as {
              state?: string;
              reason?: string;
            } | null;
            return view?.state === 'disconnected' ? view : undefined;
          },
          20_000,
          'the second gateway reports the TLS failure',
        );
        expect(sip.reason).toMatch(/cannot connect to the PBX \(wss:.*\): .*(CERT|certificate)/i);
      } finally {
        await second.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    T,
  );
});
