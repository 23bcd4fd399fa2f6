import { execFileSync } from 'node:child_process';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { projectRoot } from '../apps/gateway/src/config.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { login, startGateway } from './support/gateway.js';
import { API_KEY, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer } from './support/pages.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { eventually } from './support/tabs.js';

/** The gateway goes away under a tab whose in-page phone carries a call, and comes back. */
describe('gateway restarted under a connected tab (Redis coordination)', () => {
  let redis: RedisServer;
  let env: LabGateway;
  let other: RunningGateway;
  let restarted: RunningGateway | undefined;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  const keyPrefix = `reconnect-${Date.now()}:`;

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    redis = await startRedis();
    env = await startLabGateway(
      { customers: 1 },
      { gateway: { redisUrl: redis.url, keyPrefix, instanceId: 'gw-a' } },
    );
    other = await startGateway({
      configPath: env.configPath,
      redisUrl: redis.url,
      keyPrefix,
      instanceId: 'gw-b',
    });
    browser = await launchBrowser();
    pages = await startCrmPages();
  });
  afterAll(async () => {
    await browser.close();
    await pages.close();
    await restarted?.close();
    await other.close();
    await env.close();
    await redis.stop();
  });

  it('csNotifyReconnecting, then recovery with the missed event; the call keeps its audio throughout', async () => {
    const port = env.gateway.port;
    const tab = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await tab.waitForCallback('csShowEnableVoice', { args: [true] });

    // A customer reaches the in-page phone (once it has registered) and the page answers.
    const customer = env.lab.bot('0901000001');
    const call = await eventually(
      async () => {
        const attempt = customer.call('5003');
        const rang = await Promise.race([
          attempt.terminated.then(() => false),
          new Promise<boolean>((resolve) => attempt.once('progress', () => resolve(true))),
        ]);
        return rang ? attempt : undefined;
      },
      15_000,
      'the in-page phone ringing',
    );
    await tab.waitForCallback('csCallRinging', { args: ['0901000001'] });
    await tab.page.evaluate(() => (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall());
    await tab.waitForCallback('csAcceptCall');
    const hearsBrowser = (): Promise<true> =>
      eventually(
        () => ((customer.audio(call)?.level ?? 0) > 0.005 ? true : undefined),
        10_000,
        'browser audio at the customer',
      );
    await hearsBrowser();

    // The gateway goes away; another instance records an event for the agent meanwhile.
    const beforeStop = await tab.mark();
    await env.gateway.close();
    await tab.waitForCallback('csNotifyReconnecting', { after: beforeStop });
    const toggled = await fetch(`${other.url}/v1/demo/agents/5003/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(toggled.status).toBe(200);
    await hearsBrowser(); // media goes page <-> PBX <-> customer: no gateway on the path

    // The gateway comes back on the same port: the tab resumes and gets what it missed.
    restarted = await startGateway({
      configPath: env.configPath,
      redisUrl: redis.url,
      keyPrefix,
      instanceId: 'gw-a2',
      env: { PORT: String(port) },
    });
    await tab.waitForCallback('csShowCallStatus', {
      args: ['Offline'],
      after: beforeStop,
      timeoutMs: 20_000,
    });
    await hearsBrowser();
    expect(call.isTerminated).toBe(false);

    // The call goes on and ends normally, reported through the restarted gateway.
    await customer.hangup(call);
    await tab.waitForCallback('csEndCall', { after: beforeStop });
    expect(tab.errors).toEqual([]);
  }, 60_000);
});
