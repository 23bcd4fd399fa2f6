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
    expect(config).toMatchObject({ port: 8080, redisKeyPrefix: 'cg:', leaseMs: 15_000 });
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
  it('leaves /metrics open and logs as text by default', () => {
    const config = loadConfig({});
    expect(config.metricsToken).toBeUndefined();
    expect(config.logFormat).toBe('text');
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
  ])('refuses %j, naming the variable', (env, message) => {
    expect(messageOf(env)).toContain(message);
  });
});
