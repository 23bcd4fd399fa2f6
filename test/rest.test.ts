import type { RunningGateway } from '../apps/gateway/src/app.js';
import { OPENAPI_DOCUMENT } from '../apps/gateway/src/http/openapi.js';
import { login, startGateway } from './support/gateway.js';
import { checkAgainstOpenApi } from './support/openapi.js';
import { Tab } from './support/tabs.js';

const API_KEY = 'demo-api-key-change-me-0123456789';

describe('REST /v1/{domain}', () => {
  let gw: RunningGateway;
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    key: string | null = API_KEY,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = { status: res.status, body: (await res.json()) as Record<string, unknown> };
    checkAgainstOpenApi(method, path, answer.status, answer.body);
    return answer;
  };

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  it('refuses a missing or wrong API key with 401 UNAUTHORIZED, and an unknown domain with 404', async () => {
    expect(await call('GET', '/v1/demo/agents', undefined, null)).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
    expect(await call('GET', '/v1/demo/agents', undefined, 'wrong-key-0123456789')).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
    expect(await call('GET', '/v1/nope/agents')).toMatchObject({
      status: 404,
      body: { code: 'DOMAIN_NOT_FOUND' },
    });
  });

  it('lists agents and shows one agent with presence, device and voice', async () => {
    const tab = await Tab.open(gw.url, { domain: 'demo', token: await login(gw.url, '5000') });
    try {
      const list = await call('GET', '/v1/demo/agents');
      expect(list.status).toBe(200);
      expect((list.body.agents as { ipphone: string }[]).map((a) => a.ipphone)).toEqual([
        '5000',
        '5001',
        '5002',
        '5003',
        '5004',
      ]);
      const one = await call('GET', '/v1/demo/agents/5000');
      expect(one).toMatchObject({
        status: 200,
        body: {
          ipphone: '5000',
          online: true,
          tabs: 1,
          deviceType: 1,
          canCallOut: true,
          voice: { held: true },
          call: null,
        },
      });
      expect(await call('GET', '/v1/demo/agents/9999')).toMatchObject({
        status: 404,
        body: { code: 'AGENT_NOT_FOUND' },
      });
      expect(await call('GET', '/v1/demo/agents/5000/call')).toMatchObject({
        status: 409,
        body: { code: 'NOT_IN_A_CALL' },
      });
    } finally {
      tab.close();
    }
  });

  it('a REST command and a tab command behave the same: the tab hears agent.device from a REST change', async () => {
    const tab = await Tab.open(gw.url, { domain: 'demo', token: await login(gw.url, '5000') });
    try {
      expect(await call('POST', '/v1/demo/agents/5000/device', { type: 4 })).toEqual({
        status: 200,
        body: { ok: true, type: 4 },
      });
      expect((await tab.waitFor((e) => e.type === 'agent.device')).data).toEqual({ type: 4 });
      expect(await call('POST', '/v1/demo/agents/5000/device', { type: 7 })).toMatchObject({
        status: 400,
        body: { code: 'INVALID_DEVICE_TYPE' },
      });
      expect(await call('POST', '/v1/demo/agents/5000/device/reset')).toEqual({
        status: 200,
        body: { ok: true, type: 1 },
      });
      expect((await tab.nth('agent.device', 2)).data).toEqual({ type: 1 });
    } finally {
      tab.close();
    }
  });

  it.each([['123@evil.example'], ['123;transport=tcp'], ['1 2'], ['1'.repeat(200)], ['<sip:x>']])(
    'refuses to dial %j with 400 INVALID_NUMBER before anything is sent',
    async (number) => {
      expect(await call('POST', '/v1/demo/agents/5000/calls', { number })).toMatchObject({
        status: 400,
        body: { code: 'INVALID_NUMBER' },
      });
    },
  );

  it('the JS-PHONE click-to-call form is validated the same way', async () => {
    expect(
      await call('POST', '/v1/demo/calls', { phoneNumber: '123@evil.example', ipPhone: '5000' }),
    ).toMatchObject({
      status: 400,
      body: { code: 'INVALID_NUMBER' },
    });
    expect(await call('POST', '/v1/demo/calls', { phoneNumber: '0901' })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_PAYLOAD' },
    });
  });

  it('a dial for a browser-mode agent with no voice tab is refused with DEVICE_NOT_AVAILABLE', async () => {
    expect(await call('POST', '/v1/demo/agents/5001/calls', { number: '0901000001' })).toMatchObject({
      status: 409,
      body: { code: 'DEVICE_NOT_AVAILABLE' },
    });
    expect(await call('POST', '/v1/demo/agents/5002/calls', { number: '0901000001' })).toMatchObject({
      status: 403,
      body: { code: 'CALLOUT_PERMISSION_DENY' },
    });
  });

  it('refuses an oversized JSON body with 413', async () => {
    expect(
      await call('POST', '/v1/demo/agents/5000/calls', { number: '1', pad: 'x'.repeat(50_000) }),
    ).toMatchObject({
      status: 413,
      body: { code: 'PAYLOAD_TOO_LARGE' },
    });
  });

  it('serves the OpenAPI document, and every documented route exists', async () => {
    const doc = await call('GET', '/docs/openapi.json', undefined, null);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const page = await fetch(`${gw.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/v1/{domain}/agents/{ipphone}/calls');
    for (const [path, methods] of Object.entries(OPENAPI_DOCUMENT.paths)) {
      const concrete = path
        .replace('{domain}', 'demo')
        .replace('{ipphone}', '5000')
        .replace('{callId}', 'c-1');
      for (const method of Object.keys(methods)) {
        const res = await call(method.toUpperCase(), concrete, method === 'post' ? {} : undefined);
        // A documented route may refuse the empty body, but never be a missing route.
        expect({ route: `${method} ${path}`, code: res.body.code }).not.toEqual({
          route: `${method} ${path}`,
          code: 'NOT_FOUND',
        });
      }
    }
  });

  it('answers an unknown route with 404 NOT_FOUND as JSON', async () => {
    expect(await call('GET', '/v1/demo/nothing-here')).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
  });
});
