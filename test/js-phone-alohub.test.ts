/**
 * The Alohub routes of a real gateway (no PBX needed): the vendor's script names, the widget's
 * password sign-in with its refusals and rate limits, and the REST "make call" refusals, each in
 * the vendor's `{success: '0', error_code, error_message}` shape and changing nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { LOGIN_LIMITS } from '../apps/gateway/src/http/alohub.controller.js';
import { DEMO_CONFIG, startGateway } from './support/gateway.js';
import { Tab } from './support/tabs.js';

const API_KEY = 'demo-api-key-change-me-0123456789';
const ACME_KEY = 'acme-api-key-0123456789-abcdef';

/** The demo domains plus `acme` (another PBX) and `locked` (password sign-in turned off). */
const CONFIG = `${readFileSync(DEMO_CONFIG, 'utf8').trimEnd()}
  acme:
    accessKey: 'acme-access-key-for-tests-only-0123456789'
    apiKeys: ['${ACME_KEY}']
    allowedOrigins: ['*']
    timezone: Asia/Ho_Chi_Minh
    pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: acme.example.com, mobilePrefix: '' }
    agents:
      '7000':
        name: 'Acme 7000'
        sip: { user: '7000', password: 'acme-7000' }
        defaultDevice: 1
  locked:
    accessKey: 'locked-access-key-for-tests-only-0123456789'
    apiKeys: ['locked-api-key-0123456789']
    allowedOrigins: ['*']
    timezone: Asia/Ho_Chi_Minh
    pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: locked.example.com, mobilePrefix: '' }
    agents:
      '8000':
        name: 'Locked 8000'
        sip: { user: '8000', password: 'locked-8000' }
        defaultDevice: 1
    jsPhonePasswordLogin: false
`;

describe('Alohub routes: sipjs.js, password sign-in, make call', () => {
  let gw: RunningGateway;
  let dir: string;

  const post = async (
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const signIn = (domain: string, impi: string, password: string) =>
    post(`/alohub/${domain}/login`, { impi, password });
  const refused = (code: string, message?: string) => ({
    status: 200,
    body: {
      success: '0',
      error_code: code,
      error_message: message ?? (expect.any(String) as string),
    },
  });
  /** Nothing happened to demo's agents: no call, no call event. */
  const nothingChanged = async (): Promise<void> => {
    for (const ipphone of ['5000', '5001', '5002']) {
      const res = await fetch(`${gw.url}/v1/demo/agents/${ipphone}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(((await res.json()) as { call: unknown }).call).toBeNull();
    }
    const res = await fetch(`${gw.url}/v1/demo/events`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const { events } = (await res.json()) as { events: { type: string }[] };
    expect(events.filter((e) => e.type.startsWith('call') || e.type.startsWith('callout'))).toEqual([]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-alohub-'));
    writeFileSync(join(dir, 'domains.yaml'), CONFIG);
    gw = await startGateway({ configPath: join(dir, 'domains.yaml') });
  });
  afterAll(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves sipjs.js at the vendor name under any folder, with the path it was served at; jssip*.min.js is a cacheable no-op', async () => {
    for (const path of ['/sipjs.js', '/lib/sipjs.js', '/demo/js/sipjs.js']) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const code = await res.text();
      expect(
        code.startsWith(
          `document.currentScript&&document.currentScript.setAttribute("data-callgate-path","${path}");`,
        ),
      ).toBe(true);
      expect(code.length).toBeGreaterThan(100_000);
    }
    for (const path of [
      '/jssip-3.10.0.min.js',
      '/lib/jssip-3.10.1.min.js',
      '/jssip.min.js',
      '/demo/lib/jssip.min.js',
    ]) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(res.headers.get('cache-control')).toBe('public, max-age=86400');
      expect(await res.text()).toMatch(/^\/\* callgate: .*\*\/\n$/);
    }
    expect((await fetch(`${gw.url}/lib/other.js`)).status).toBe(404);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  it('signs in with the extension and SIP password (by domain, or by realm); the token opens /agent', async () => {
    const byDomain = await signIn('demo', '5001', 'demo-5001');
    expect(byDomain).toEqual({
      status: 200,
      body: {
        success: '1',
        token: expect.any(String) as string,
        domain: 'demo',
        ipphone: '5001',
        name: 'Agent 5001',
        expiresAt: expect.any(String) as string,
      },
    });
    const tab = await Tab.open(gw.url, { domain: 'demo', token: byDomain.body.token as string });
    try {
      expect(tab.events[0]).toMatchObject({ type: 'session.ready', data: { ipphone: '5001' } });
    } finally {
      tab.close();
    }
    // the realm (or the host of the public identity) names the domain whose PBX it is
    expect(await post('/alohub/login', { impu: 'sip:5001@127.0.0.1', password: 'demo-5001' })).toMatchObject({
      body: { success: '1', domain: 'demo', ipphone: '5001' },
    });
    expect(
      await post('/alohub/login', { impi: '7000', realm: 'acme.example.com', password: 'acme-7000' }),
    ).toMatchObject({ body: { success: '1', domain: 'acme', ipphone: '7000' } });
  });

  it('refuses a wrong password, an unknown extension, another domain, a domain that turned it off, and nonsense', async () => {
    expect(await signIn('demo', '5000', 'wrong')).toEqual(
      refused('AUTHENTICATION_FAILED', 'Authentication Error'),
    );
    expect(await signIn('demo', '5999', 'demo-5000')).toEqual(
      refused('AUTHENTICATION_FAILED', 'Authentication Error'),
    );
    // demo's agent at the endpoint of another domain
    expect(await signIn('acme', '5000', 'demo-5000')).toEqual(
      refused('AUTHENTICATION_FAILED', 'Authentication Error'),
    );
    expect(await signIn('nowhere', '5000', 'demo-5000')).toEqual(refused('DOMAIN_NOT_FOUND'));
    expect(await post('/alohub/login', { impi: '5000', realm: 'pbx.unknown', password: 'x' })).toEqual(
      refused('DOMAIN_NOT_FOUND'),
    );
    expect(await signIn('locked', '8000', 'locked-8000')).toEqual(refused('LOGIN_DISABLED'));
    expect(await post('/alohub/demo/login', { impi: '5000' })).toEqual(refused('INVALID_REQUEST'));
    expect(await post('/alohub/demo/login', 'just a string')).toEqual(refused('INVALID_REQUEST'));
    expect(await post('/alohub/demo/login', { impi: '5000', password: 'x'.repeat(300) })).toEqual(
      refused('INVALID_REQUEST'),
    );
    await nothingChanged();
  });

  it('20 wrong passwords in a row: rate-limited per agent (even the right one then), others still sign in', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 20; i++)
      codes.push((await signIn('demo', '5002', `wrong-${i}`)).body.error_code as string);
    expect(codes).toEqual([
      ...Array<string>(LOGIN_LIMITS.perAgent).fill('AUTHENTICATION_FAILED'),
      ...Array<string>(20 - LOGIN_LIMITS.perAgent).fill('RATE_LIMITED'),
    ]);
    expect(await signIn('demo', '5002', 'demo-5002')).toEqual(
      refused(
        'RATE_LIMITED',
        expect.stringMatching(/^Too many failed sign-ins; try again in \d+ s$/) as string,
      ),
    );
    // the same agent named by its public identity is the same counter
    expect(await post('/alohub/demo/login', { impu: 'sip:5002@127.0.0.1', password: 'demo-5002' })).toEqual(
      refused('RATE_LIMITED'),
    );
    expect((await signIn('demo', '5000', 'demo-5000')).body.success).toBe('1');
    await nothingChanged();
  });

  it('the REST make call refuses a missing or foreign key, a number with @ or ;, an unknown or missing ipPhone, in the vendor shape', async () => {
    const body = { phoneNumber: '0901000001', ipPhone: '5001', transactionId: 'ALOHUB_1' };
    expect(await post('/alohub/demo/makeCall', body)).toEqual(refused('UNAUTHORIZED'));
    expect(await post('/alohub/demo/makeCall', body, { authorization: ACME_KEY })).toEqual(
      refused('UNAUTHORIZED'),
    );
    expect(await post('/alohub/demo/makeCall', body, { authorization: `${API_KEY}x` })).toEqual(
      refused('UNAUTHORIZED'),
    );
    expect(await post('/alohub/nowhere/makeCall', body, { authorization: API_KEY })).toEqual(
      refused('DOMAIN_NOT_FOUND'),
    );
    const auth = { authorization: API_KEY };
    for (const phoneNumber of ['0901000001@evil.example.com', '0901000001;transport=tcp', '', 'abc']) {
      expect(await post('/alohub/demo/makeCall', { ...body, phoneNumber }, auth)).toEqual(
        refused('INVALID_NUMBER'),
      );
    }
    expect(await post('/alohub/demo/makeCall', { ...body, ipPhone: '5999' }, auth)).toEqual(
      refused('AGENT_NOT_FOUND'),
    );
    expect(await post('/alohub/demo/makeCall', { phoneNumber: '0901000001' }, auth)).toEqual(
      refused('INVALID_PAYLOAD'),
    );
    expect(await post('/alohub/demo/makeCall', { ...body, transactionId: 42 }, auth)).toEqual(
      refused('INVALID_PAYLOAD'),
    );
    // the seed's codes: a agent who may not call out; a browser-mode agent with no tab (no phone)
    expect(await post('/alohub/demo/makeCall', { ...body, ipPhone: '5002' }, auth)).toEqual(
      refused('CALLOUT_PERMISSION_DENY'),
    );
    expect(await post('/alohub/demo/makeCall', body, auth)).toEqual(refused('IPCC_NOT_CONNECT_AGENT_ID'));
    await nothingChanged();
  });

  it('failures from one address are rate-limited across agents', async () => {
    let code = '';
    let attempts = 0;
    // every failure so far in this suite came from this address too
    while (code !== 'RATE_LIMITED' && attempts < LOGIN_LIMITS.perAddress + 1) {
      attempts++;
      code = (await signIn('demo', `6${String(attempts).padStart(3, '0')}`, 'wrong')).body
        .error_code as string;
    }
    expect(code).toBe('RATE_LIMITED');
    expect(attempts).toBeLessThanOrEqual(LOGIN_LIMITS.perAddress);
    // a right password from this address waits too
    expect(await signIn('demo', '5001', 'demo-5001')).toEqual(refused('RATE_LIMITED'));
  });
});
