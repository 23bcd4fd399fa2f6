/**
 * The gateway in direct media mode (`pbx.media: direct`) on the field PBX: digest auth, wss:// with
 * the lab CA, rtpengine relaying between the gateway's WebSocket legs (DTLS-SRTP, ICE) and the
 * baresip plain-RTP desk phone and trunk customers. The gateway hands each leg's SDP to the other,
 * so media goes desk ⇄ rtpengine ⇄ rtpengine ⇄ customer and never through the gateway. Audio is
 * checked both ways at the endpoints. Waits are on events, bounded.
 *
 * The callout joins its legs with an offerless re-INVITE of the desk phone (RFC 3725): the offer
 * comes in the 200, the answer in the ACK. A PBX must run both through its media relay; the lab
 * Kamailio did not until it set its rtpengine flags for an INVITE without SDP as well (no audio
 * either way before).
 */
import type { AnyEventEnvelope } from '@callgate/contracts';
import type { BaresipPhone } from '../apps/lab/src/baresip.js';
import { labTone, labUsers } from '../apps/lab/src/lab.js';
import { startFieldGateway, type FieldGateway } from './support/field-gateway.js';
import { API_KEY, rest, waitRegistered, type LabAgent } from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

const T = 120_000;
const AGENTS: readonly LabAgent[] = [{ ext: '5000', device: 4 }];

describe('direct media on the field PBX (rtpengine, digest auth, wss)', () => {
  let env: FieldGateway;
  let backend: Tab;
  const phone = (user: string): BaresipPhone => env.lab.phone(user).phone;
  const desk = (): BaresipPhone => phone(labUsers.ipPhone('5000'));
  const customerTone = (n: number): number => labTone('customer', n - 1);
  const next = (from: number, match: (e: AnyEventEnvelope) => boolean, what: string) =>
    backend.waitFor((e) => backend.events.indexOf(e) >= from && match(e), 20_000, what);

  beforeAll(async () => {
    env = await startFieldGateway(
      { customers: 2, ipPhones: ['5000'] },
      { agents: AGENTS, domain: { transport: 'wss', pbxExtra: 'media: direct' } },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await waitRegistered(env.gateway, '5000', true, 20_000);
  }, T);
  afterEach(async () => {
    // A failed test may leave a phone in a call: hang every lab phone up (no call: baresip says so).
    for (const { phone: p } of env.lab.phones) await p.hangup().catch(() => undefined);
    await eventually(
      async () =>
        (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.call === null ? true : undefined,
      20_000,
      '5000 idle',
    );
  }, T);
  afterAll(async () => {
    backend.close();
    await env.close();
  }, T);

  it(
    'inbound: a plain-RTP customer calls 5000, the desk phone answers, direct media, audio both ways; the customer hangs up',
    async () => {
      const customer = phone(labUsers.customer(1));
      const since = { desk: desk().events.length, backend: backend.events.length };
      await customer.dial(`sip:5000@${env.lab.pbx.sipDomain}`);
      const accepted = await next(since.backend, (e) => e.type === 'call.accepted', 'accepted');
      expect(accepted.data).toEqual({ media: { path: 'direct', reason: expect.any(String) as string } });
      await desk().waitFor('CALL_ESTABLISHED', 20_000, since.desk);
      await desk().hears(customerTone(1), 15_000);
      await customer.hears(labTone('ipPhone', 0), 15_000);
      await customer.hangup();
      const ended = await next(
        since.backend,
        (e) => e.type === 'call.ended' && e.callId === accepted.callId,
        'ended',
      );
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
      await desk().waitFor('CALL_CLOSED', 20_000, since.desk);
    },
    T,
  );

  it(
    'callout: the desk phone answers first, then the plain-RTP customer; joined by an offerless re-INVITE through rtpengine, audio both ways; the agent hangs up',
    async () => {
      const customer = phone(labUsers.customer(2));
      const since = { customer: customer.events.length, desk: desk().events.length };
      const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5000/calls', {
        number: labUsers.customer(2),
      });
      expect(dialled.status).toBe(201);
      const callId = dialled.body.callId as string;
      const accepted = await backend.waitFor(
        (e) => e.type === 'call.customerAccepted' && e.callId === callId,
        30_000,
      );
      expect(accepted.data).toEqual({ media: { path: 'direct', reason: expect.any(String) as string } });
      await customer.waitFor('CALL_ESTABLISHED', 20_000, since.customer);
      await desk().hears(customerTone(2), 15_000);
      await customer.hears(labTone('ipPhone', 0), 15_000);

      expect(await rest(env.gateway, 'POST', `/v1/demo/agents/5000/calls/${callId}/hangup`)).toMatchObject({
        status: 200,
      });
      await customer.waitFor('CALL_CLOSED', 20_000, since.customer);
      await desk().waitFor('CALL_CLOSED', 20_000, since.desk);
      const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 20_000);
      expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
    },
    T,
  );
});
