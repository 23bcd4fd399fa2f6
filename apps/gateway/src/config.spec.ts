import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@callgate/auth';
import { loadConfig } from './config.js';

const messageOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('loadConfig accepted a bad environment');
};

describe('loadConfig', () => {
  it('boots on the embedded defaults: port 8080, in-memory coordination, the demo domains', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, redisKeyPrefix: 'cg:', leaseMs: 5_000 });
    expect(config.redisUrl).toBeUndefined();
    expect(config.domains.domainNames()).toEqual(['demo']);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT: must be a whole number'],
    [{ PORT: '70000' }, 'PORT: must be between 0 and 65535'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL: must be a redis:// or rediss:// URL'],
    [{ LOG_LEVEL: 'chatty' }, 'LOG_LEVEL'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET: must be at least 32 characters'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'SESSION_SECRET: required when REDIS_URL is set'],
    [
      { CALLGATE_CONFIG: '/nonexistent/domains.yaml' },
      'CALLGATE_CONFIG: cannot read /nonexistent/domains.yaml',
    ],
    [{ INSTANCE_ID: 'has spaces' }, 'INSTANCE_ID'],
  ])('refuses %j with a message naming it', (env, expected) => {
    expect(messageOf(env)).toContain(expected);
  });

  it('names every bad variable at once', () => {
    const message = messageOf({ PORT: 'x', LEASE_MS: '1' });
    expect(message).toContain('PORT');
    expect(message).toContain('LEASE_MS');
  });
});

describe('loadConfig: operations (METRICS_TOKEN, LOG_FORMAT)', () => {
  it('leaves /metrics on and open and logs as text by default', () => {
    const config = loadConfig({});
    expect(config.metricsEnabled).toBe(true);
    expect(config.metricsToken).toBeUndefined();
    expect(config.logFormat).toBe('text');
  });

  it('switches metrics off with METRICS_ENABLED=false', () => {
    expect(loadConfig({ METRICS_ENABLED: 'false' }).metricsEnabled).toBe(false);
    expect(loadConfig({ METRICS_ENABLED: 'true' }).metricsEnabled).toBe(true);
  });

  it('takes a metrics token and the JSON log format', () => {
    const config = loadConfig({ METRICS_TOKEN: 'a-long-enough-token', LOG_FORMAT: 'json' });
    expect(config).toMatchObject({ metricsToken: 'a-long-enough-token', logFormat: 'json' });
  });

  it.each([
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN: must be 16 to 256 characters without spaces'],
    [
      { METRICS_TOKEN: 'has a space in the middle' },
      'METRICS_TOKEN: must be 16 to 256 characters without spaces',
    ],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT'],
    [{ METRICS_ENABLED: 'no' }, "METRICS_ENABLED: must be 'true' or 'false'"],
    [{ METRICS_ENABLED: '0' }, "METRICS_ENABLED: must be 'true' or 'false'"],
    [
      { METRICS_ENABLED: 'false', METRICS_TOKEN: 'a-long-enough-token' },
      'METRICS_TOKEN: set while METRICS_ENABLED=false',
    ],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(messageOf(env)).toContain(message);
  });
});

describe('loadConfig: DATA_DIR and the kept session secret', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-data-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a session secret on first start (mode 0600) and reuses it on the next', () => {
    const first = loadConfig({ DATA_DIR: join(dir, 'data') });
    expect(first.sessionSecret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir, 'data', 'session-secret')).mode & 0o777).toBe(0o600);
    expect(loadConfig({ DATA_DIR: join(dir, 'data') }).sessionSecret).toBe(first.sessionSecret);
  });

  it('SESSION_SECRET wins over the kept one', () => {
    const secret = 'x'.repeat(40);
    expect(loadConfig({ DATA_DIR: dir, SESSION_SECRET: secret }).sessionSecret).toBe(secret);
  });

  it('refuses a secret file others can read, and one too short', () => {
    writeFileSync(join(dir, 'session-secret'), 'y'.repeat(40));
    chmodSync(join(dir, 'session-secret'), 0o644);
    expect(messageOf({ DATA_DIR: dir })).toContain('DATA_DIR: ');
    expect(messageOf({ DATA_DIR: dir })).toContain('readable by others');
    chmodSync(join(dir, 'session-secret'), 0o600);
    writeFileSync(join(dir, 'session-secret'), 'short');
    expect(messageOf({ DATA_DIR: dir })).toContain('fewer than 32 characters');
  });

  it('refuses a DATA_DIR that is a file', () => {
    writeFileSync(join(dir, 'file'), '');
    expect(messageOf({ DATA_DIR: join(dir, 'file') })).toContain('DATA_DIR: cannot use');
  });
});
