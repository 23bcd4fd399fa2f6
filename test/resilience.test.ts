import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { labTone } from '../apps/lab/src/lab.js';
import { projectRoot } from '../apps/gateway/src/config.js';
import { login } from './support/gateway.js';
import { rest, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

const BOT_CLI = join(projectRoot(), 'dist', 'apps', 'lab', 'src', 'bot-cli.js');

/** A customer bot in its own process, so that it can die for real (SIGKILL: no BYE at all). */
function botProcess(args: string[]): {
  child: ChildProcess;
  next: (event: string, timeoutMs?: number) => Promise<void>;
} {
  if (!existsSync(BOT_CLI)) throw new Error(`${BOT_CLI} is missing: run npm run build (npm test does)`);
  const child = spawn(process.execPath, [BOT_CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const seen: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    seen.push((JSON.parse(line) as { event: string }).event);
    for (const wake of waiters) wake();
  });
  const next = (event: string, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!seen.includes(event)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`bot process: no '${event}' within ${timeoutMs} ms (saw ${seen.join(', ')})`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, next };
}

describe.each(['bridge', 'direct'] as const)('resilience of server-side calls, %s media', (media) => {
  let env: LabGateway;
  let tab: Tab;
  const registered = (): Promise<true> => waitRegistered(env.gateway, '5000');

  beforeAll(async () => {
    env = await startLabGateway({ customers: 1, ipPhones: ['5000'] }, { media });
    await registered();
    tab = await Tab.open(env.gateway.url, { domain: 'demo', token: await login(env.gateway.url, '5000') });
  });
  afterAll(async () => {
    tab.close();
    await env.close();
  });

  it('after a Kamailio restart the gateway re-registers by itself and a new call goes through', async () => {
    const restartedAt = performance.now();
    await env.lab.pbx.restart();
    // The registration is gone with Kamailio's memory; wait until the gateway has made a new one:
    // a customer call reaching the IP phone proves it (Kamailio answers 404 until then).
    const customer = env.lab.bot('0901000001');
    const phone = env.lab.bot('5000-desk');
    await eventually(
      () => (customer.isRegistered && phone.isRegistered ? true : undefined),
      15_000,
      'bots back',
    );
    await eventually(
      async () => {
        const call = customer.call('5000');
        const end = await Promise.race([call.terminated, customer.waitFor('answered').then(() => undefined)]);
        if (end) return undefined; // 404 until the gateway has registered again
        await customer.hears({ call, frequency: labTone('ipPhone', 0) });
        await customer.hangup(call);
        return true;
      },
      20_000,
      'a call reaching the IP phone after the restart',
    );
    const elapsed = performance.now() - restartedAt;
    console.log(
      `[resilience] gateway and bots usable again ${Math.round(elapsed)} ms after the Kamailio restart began`,
    );
    expect(phone.isRegistered).toBe(true);
    await tab.waitFor((e) => e.type === 'call.ended' && e.data.by === 'customer');
  }, 40_000);

  it('a customer that dies mid-call (SIGKILL, no BYE) ends the call on the tab, and the device leg is hung up', async () => {
    const bot = botProcess([
      '--ws',
      env.lab.pbx.wsUri,
      '--user',
      '0901000077',
      '--call',
      '5000',
      '--tone',
      '500',
    ]);
    try {
      await bot.next('answered');
      const ringing = await tab.waitFor(
        (e) => e.type === 'call.ringing' && e.data.phone === '0901000077',
        10_000,
      );
      const accepted = await tab.waitFor(
        (e) => e.type === 'call.accepted' && e.callId === ringing.callId,
        10_000,
      );
      const phone = env.lab.bot('5000-desk');
      await phone.hears({ frequency: 500 });
      const deviceLeg = phone.lastCall;
      const killedAt = performance.now();
      bot.child.kill('SIGKILL');
      const ended = await tab.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId, 45_000);
      console.log(
        `[resilience] call.ended ${Math.round(performance.now() - killedAt)} ms after the customer died (${JSON.stringify(ended.data)})`,
      );
      if (media === 'bridge') {
        // the gateway's own leg to the customer loses its media: the gateway ends the call
        expect(ended.data).toMatchObject({ cause: 'MEDIA_FAILED', by: 'customer' });
        expect((await deviceLeg?.terminated)?.by).toBe('remote');
      } else {
        // no media reaches the gateway: the device notices the silence (its ICE/RTP timeout) and
        // hangs up, and the gateway ends the call as the agent's side hanging up
        expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
        expect((await deviceLeg?.terminated)?.by).toBe('local');
      }
      await eventually(async () =>
        (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.call === null ? true : undefined,
      );
    } finally {
      bot.child.kill('SIGKILL');
    }
  }, 60_000);

  it('a call held and resumed is still up, with audio both ways, 40 s later (no lost ACK, unlike JsSIP 3.10)', async () => {
    const customer = env.lab.bot('0901000001');
    const phone = env.lab.bot('5000-desk');
    const call = customer.call('5000');
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    expect(await tab.command('call.toggleHold', {})).toMatchObject({ ok: true, held: true });
    await customer.hearsSilence({ call });
    expect(await tab.command('call.toggleHold', {})).toMatchObject({ ok: true, held: false });
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    // The trap ends a call 32 s after a bad re-INVITE ACK: let that time pass for real.
    await new Promise((resolve) => setTimeout(resolve, 41_000));
    expect(call.isTerminated).toBe(false);
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    await phone.hears({ frequency: labTone('customer', 0) });
    await customer.hangup(call);
    await tab.waitFor(
      (e) => e.type === 'call.ended' && e.data.cause === 'NORMAL_CLEARING' && (e.data.duration ?? 0) >= 40,
    );
  }, 70_000);
});
