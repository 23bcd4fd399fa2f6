import type { SipCall } from '@callgate/sip';
import { labTone } from '../apps/lab/src/lab.js';
import { API_KEY, rest, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const DESK_5000 = labTone('ipPhone', 0);
const SURVEY_CSAT = labTone('survey', 0);

/**
 * 3C `transferSurvey`: the customer is handed to a survey IVR the domain lists (`surveys:
 * { csat: sip:survey-csat@… }`); a lab bot registered as survey-csat plays the IVR.
 */
describe('survey transfers through the lab PBX', () => {
  let env: LabGateway;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const customer = () => env.lab.bot('0901000001');
  const survey = () => env.lab.bot('survey-csat');

  /** The customer calls 5000 (its desk answers); resolves with the customer's leg and the call id. */
  const inboundCall = async (source: Tab): Promise<{ leg: SipCall; callId: string }> => {
    const before = source.events.length;
    const leg = customer().call('5000');
    await customer().hears({ call: leg, frequency: DESK_5000 });
    const accepted = await source.waitFor(
      (e) => e.type === 'call.accepted' && source.events.indexOf(e) >= before,
      5000,
      'call.accepted',
    );
    return { leg, callId: accepted.callId ?? '' };
  };

  beforeAll(async () => {
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'], surveys: ['csat'] },
      { gateway: { env: { RING_TIMEOUT_MS: '3000' } } },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await waitRegistered(env.gateway, '5000');
  });
  afterEach(async () => {
    for (const bot of env.lab.bots) await bot.hangup();
    await tabs.closeAll();
    await eventually(async () =>
      (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.call === null ? true : undefined,
    );
  });
  afterAll(async () => {
    backend.close();
    await env.close();
  });

  it('an unknown survey id and a page-given SIP URI are refused with codes; nothing changes', async () => {
    const source = await tabs.open('5000');
    expect(await source.command('transfer.toSurvey', { surveyId: 'csat' })).toMatchObject({
      ok: false,
      code: 'NOT_IN_A_CALL',
    });
    const { leg } = await inboundCall(source);
    const seen = source.events.length;
    expect(await source.command('transfer.toSurvey', { surveyId: 'nps' })).toMatchObject({
      ok: false,
      code: 'UNKNOWN_SURVEY',
    });
    expect(
      await source.raw('transfer.toSurvey', { surveyId: 'csat', sipurl: 'sip:survey-csat@127.0.0.1' }),
    ).toMatchObject({
      ok: false,
      code: 'INVALID_PAYLOAD',
    });
    expect(await source.raw('transfer.toSurvey', { surveyId: 'sip:survey-csat@127.0.0.1' })).toMatchObject({
      ok: false,
      code: 'INVALID_PAYLOAD',
    });
    // The customer still talks to 5000; no transfer event, the survey IVR never rang.
    await customer().hears({ call: leg, frequency: DESK_5000 });
    expect(source.events.slice(seen).filter((e) => e.type.startsWith('transfer.'))).toEqual([]);
    expect(survey().calls).toHaveLength(0);
    expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5000/call')).body).toMatchObject({
      state: 'active',
    });
  });

  it('transfer.toSurvey hands the customer to the survey IVR: each hears the other, 5000’s call ends TRANSFERRED', async () => {
    const source = await tabs.open('5000');
    const { leg, callId } = await inboundCall(source);
    const answered = survey().waitFor('answered');
    expect(await source.command('transfer.toSurvey', { surveyId: 'csat' })).toMatchObject({
      ok: true,
      callId,
      transferId: expect.any(String) as string,
    });
    await customer().hears({ call: leg, frequency: SURVEY_CSAT });
    const ivrLeg = (await answered).call;
    expect(ivrLeg.remote.user).toBe('0901000001');
    await survey().hears({ call: ivrLeg, frequency: labTone('customer', 0) });
    expect((await source.waitFor((e) => e.type === 'transfer.succeeded')).data).toMatchObject({
      surveyId: 'csat',
      to: 'survey:csat',
      customerCallId: callId,
    });
    expect((await source.waitFor((e) => e.type === 'call.ended')).data).toMatchObject({
      cause: 'TRANSFERRED',
    });
    await backend.waitFor((e) => e.type === 'transfer.succeeded' && e.callId === callId);
    await survey().hangup(ivrLeg);
    expect((await leg.terminated).by).toBe('remote');
  });
});
