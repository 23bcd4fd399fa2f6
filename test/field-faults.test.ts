/**
 * Faults of the field PBX that need a lab of their own: a TURN server refusing the gateway's
 * credentials (media only through TURN), and rtpengine stopped during a call (last: it takes the
 * lab's media relay away). What the parties and the CRM see, and within what time, is logged.
 * The other faults (wrong password, password changed while registered, 403 to an INVITE, an
 * untrusted certificate) are in test/field.test.ts.
 */
import type { AnyEventEnvelope } from '@callgate/contracts';
import { labPasswords, labTone, labUsers } from '../apps/lab/src/lab.js';
import { startFieldGateway, startGatewayOn, type FieldGateway } from './support/field-gateway.js';
import { API_KEY, rest, waitRegistered, type LabAgent } from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

const T = 150_000;
/** coturn's line for a request whose MESSAGE-INTEGRITY does not match the user's password. */
const REFUSED = /check_stun_auth: user \S+ credentials are incorrect/;
const ALLOCATED = /ALLOCATE processed, success/;
const AGENTS: readonly LabAgent[] = [{ ext: '5000', device: 4 }];

describe('faults of the field PBX: TURN refusing credentials, rtpengine stopped during a call', () => {
  let env: FieldGateway;
  let backend: Tab;
  const phone = (user: string) => env.lab.phone(user).phone;

  // Bridged media: the faults are those of the gateway's own legs (TURN, rtpengine under them).
  beforeAll(async () => {
    env = await startFieldGateway(
      { customers: 2, ipPhones: ['5000', '5001'] },
      { agents: AGENTS, domain: { transport: 'wss', media: 'bridge' } },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  }, T);
  afterAll(async () => {
    backend?.close();
    await env?.close();
  }, T);

  it(
    'a TURN server refusing the credentials, with relay only: the call ends MEDIA_FAILED, both parties are hung up, the line takes the next call',
    async () => {
      const turn = env.lab.turn;
      const field = env.lab.pbx.field;
      if (!turn || !field) throw new Error('not a field lab');
      await field.setPassword('5001', labPasswords.agent('5001'));
      // Agent 5001 (desk phone 5001-desk) exists only for this gateway, whose TURN password is wrong.
      const second = await startGatewayOn(env.lab, [{ ext: '5001', device: 4 }], {
        transport: 'wss',
        media: 'bridge', // the gateway's own legs through TURN
        pbxExtra: `iceServers: [{ urls: ["${turn.turnUrl}"], username: "${turn.username}", credential: "not-the-turn-password" }], iceTransportPolicy: relay`,
      });
      const events = await Tab.open(
        second.gateway.url,
        { domain: 'demo', apiKey: API_KEY },
        { namespace: '/events' },
      );
      try {
        await waitRegistered(second.gateway, '5001', true, 20_000);
        const refusedBefore = turn.countLog(REFUSED);
        const allocatedBefore = turn.countLog(ALLOCATED);
        const customer = phone(labUsers.customer(1));
        const desk = phone(labUsers.ipPhone('5001'));
        const since = { customer: customer.events.length, desk: desk.events.length };
        const startedAt = performance.now();
        await customer.dial(`sip:5001@${env.lab.pbx.sipDomain}`);
        const ringing = await events.waitFor((e) => e.type === 'call.ringing', 30_000);
        const ended = await events.waitFor(
          (e) => e.type === 'call.ended' && e.callId === ringing.callId,
          90_000,
          'call.ended of the call without media',
        );
        const endedMs = performance.now() - startedAt;
        const refused = turn.countLog(REFUSED) - refusedBefore;
        const story = events.events.filter((e) => e.callId === ringing.callId).map((e) => e.type);
        console.log(
          `TURN refusing credentials: ${story.join(' → ')} ${JSON.stringify(ended.data)} ${endedMs.toFixed(0)} ms after the dial; coturn refused ${refused} request(s)`,
        );
        expect(ended.data).toMatchObject({ cause: 'MEDIA_FAILED' });
        expect(story).toEqual(['call.ringing', 'call.accepted', 'call.ended']);
        expect(refused).toBeGreaterThan(0);
        expect(turn.countLog(ALLOCATED)).toBe(allocatedBefore);
        await customer.waitFor('CALL_CLOSED', 30_000, since.customer);
        await desk.waitFor('CALL_CLOSED', 30_000, since.desk);
        expect((await rest(second.gateway, 'GET', '/v1/demo/agents/5001')).body).toMatchObject({
          call: null,
          sip: { registered: true },
        });
      } finally {
        events.close();
        await second.close();
      }
    },
    T,
  );

  it(
    'rtpengine stopped during a call: the gateway ends it MEDIA_FAILED when the media times out and hangs up both parties',
    async () => {
      await waitRegistered(env.gateway, '5000', true, 20_000);
      const customer = phone(labUsers.customer(2));
      const desk = phone(labUsers.ipPhone('5000'));
      const since = {
        customer: customer.events.length,
        desk: desk.events.length,
        backend: backend.events.length,
      };
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await backend.waitFor(
        (e) => backend.events.indexOf(e) >= since.backend && e.type === 'call.accepted',
        30_000,
      );
      await desk.hears(labTone('customer', 1), 15_000);
      await customer.hears(labTone('ipPhone', 0), 15_000);

      const rtpengine = env.lab.rtpengine;
      if (!rtpengine) throw new Error('not a field lab');
      const stoppedAt = performance.now();
      await rtpengine.stop();
      await customer.hearsSilence(15_000);
      await desk.hearsSilence(15_000);
      const silentMs = performance.now() - stoppedAt;

      const ended: AnyEventEnvelope = await backend.waitFor(
        (e) => e.type === 'call.ended' && e.callId === accepted.callId,
        90_000,
        'call.ended after rtpengine stopped',
      );
      const endedMs = performance.now() - stoppedAt;
      await customer.waitFor('CALL_CLOSED', 30_000, since.customer);
      await desk.waitFor('CALL_CLOSED', 30_000, since.desk);
      const closedMs = performance.now() - stoppedAt;
      console.log(
        `rtpengine stopped: silence at both parties within ${silentMs.toFixed(0)} ms; call.ended ${JSON.stringify(ended.data)} after ${endedMs.toFixed(0)} ms; both parties hung up after ${closedMs.toFixed(0)} ms`,
      );
      expect(ended.data).toMatchObject({ cause: 'MEDIA_FAILED' });
      await eventually(
        async () =>
          (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.call === null ? true : undefined,
        10_000,
        '5000 idle',
      );

      // A new call while rtpengine is still down: the PBX refuses it (503), the gateway never sees it.
      const again = { customer: customer.events.length, backend: backend.events.length };
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const closed = await customer.waitFor('CALL_CLOSED', 30_000, again.customer);
      console.log(`a new call while rtpengine is down: ${closed.param ?? ''}`);
      expect(closed.param).toMatch(/503/);
      expect(
        env.lab.pbx.countLog(/media: rtpengine unavailable, INVITE from 0901000002 to 5000 refused \(503\)/),
      ).toBe(1);
      expect(backend.events.slice(again.backend).filter((e) => e.type.startsWith('call.'))).toEqual([]);
    },
    T,
  );
});
