// LOG_FORMAT=json: a gateway process (as operators run it) writes one JSON object per stdout line,
// each with its instance and level; lines about an agent name its domain and agent, lines about a
// call its call id; SIP traffic shows at debug. Default: readable text, not JSON.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labTone, startLab, type Lab } from '../apps/lab/src/lab.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { labDomainsYaml, MOBILE_PREFIX, waitRegistered } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { eventually } from './support/tabs.js';

interface JsonLine {
  level: string;
  time: string;
  instance: string;
  msg: string;
  context?: string;
  domain?: string;
  agent?: string;
  callId?: string;
}

describe('structured logs (LOG_FORMAT=json)', () => {
  let redis: RedisServer;
  let lab: Lab;
  let dir: string;
  const started: GatewayProcess[] = [];
  const spawn = async (id: string, env: Record<string, string>): Promise<GatewayProcess> => {
    const gw = await spawnGateway({
      instanceId: id,
      configPath: join(dir, 'domains.yaml'),
      redisUrl: redis.url,
      keyPrefix: `${id}:`,
      env,
    });
    started.push(gw);
    return gw;
  };

  beforeAll(async () => {
    redis = await startRedis();
    lab = await startLab({ mobilePrefix: MOBILE_PREFIX, customers: 1, ipPhones: ['5000'] });
    dir = mkdtempSync(join(tmpdir(), 'callgate-logs-'));
    writeFileSync(join(dir, 'domains.yaml'), labDomainsYaml(lab.pbx.wsUri, {}, [{ ext: '5000', device: 4 }]));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(started.map((g) => g.stop()));
    await lab?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('every stdout line is JSON with instance and level; agent, call id and SIP traffic where known', async () => {
    const gw = await spawn('logs-json', { LOG_FORMAT: 'json', LOG_LEVEL: 'debug' });
    await waitRegistered(gw, '5000');
    const customer = lab.bot('0901000001');
    const call = customer.call('5000');
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    await customer.hangup(call);
    await gw.waitForLog(/call\.ended/, 10_000);
    gw.signal('SIGTERM');
    expect(await gw.exited).toBe(0);

    const raw = gw.stdoutLines().filter((line) => line !== '');
    expect(raw.length).toBeGreaterThan(20);
    const lines = raw.map((line) => {
      try {
        return JSON.parse(line) as JsonLine;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    for (const line of lines) {
      expect(line).toMatchObject({ instance: 'logs-json', level: expect.any(String) as string });
      expect(typeof line.msg).toBe('string');
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    }
    const about5000 = lines.filter((l) => l.agent === '5000');
    expect(about5000.length).toBeGreaterThan(0);
    expect(about5000.every((l) => l.domain === 'demo')).toBe(true);
    expect(lines.some((l) => l.callId !== undefined && l.agent === '5000')).toBe(true);
    // SIP traffic at debug, through libs/sip's logger: start lines, never the credentials
    const sip = lines.filter(
      (l) => l.context === 'SIP' && l.level === 'debug' && /^demo\/5000: .*SIP (in|out): /.test(l.msg),
    );
    expect(sip.some((l) => /SIP out: REGISTER sip:/.test(l.msg))).toBe(true);
    expect(sip.some((l) => /SIP in: SIP\/2\.0 200 OK/.test(l.msg))).toBe(true);
    expect(sip.some((l) => /SIP in: INVITE sip:/.test(l.msg))).toBe(true);
    expect(raw.join('\n')).not.toContain('lab-5000'); // the SIP password
    expect(lines.some((l) => l.context === 'Main' && /SIGTERM/.test(l.msg))).toBe(true);
  }, 90_000);

  it('logs readable text by default, at the "log" level without SIP traffic', async () => {
    const gw = await spawn('logs-text', {});
    await eventually(() => (gw.stdoutLines().some((l) => /listening on http/.test(l)) ? true : undefined));
    await gw.stop();
    const raw = gw.stdoutLines().filter((line) => line !== '');
    expect(raw.some((line) => line.startsWith('{'))).toBe(false);
    expect(raw.some((line) => /\[Gateway\].*callgate logs-text listening on http/.test(line))).toBe(true);
    expect(raw.some((line) => /SIP (in|out):/.test(line))).toBe(false);
  }, 60_000);
});
