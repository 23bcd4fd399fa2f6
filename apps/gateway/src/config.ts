import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, DomainRegistry, parseDomainsFile } from '@callgate/auth';
import { loadOrCreateSessionSecret, prepareDataDir } from './session/data-dir.js';

/** Everything the gateway reads from its environment, validated once at boot. */
export interface GatewayConfig {
  port: number;
  host: string;
  /** unset: in-memory coordination, single instance */
  redisUrl?: string;
  redisKeyPrefix: string;
  configPath: string;
  instanceId: string;
  logLevel: LogLevel;
  publicUrl?: string;
  sessionSecret: string;
  sessionTtlSeconds: number;
  /** lifetime of a voice lock, presence entry or agent lease that its instance stops renewing */
  leaseMs: number;
  /** graceful shutdown: how long calls in progress may go on before they are ended (SHUTDOWN) */
  drainTimeoutMs: number;
  /** a server-side device that does not answer within this is given up (NO_ANSWER) */
  ringTimeoutMs: number;
  /** a transfer request the target neither accepts nor refuses within this lapses (TIMEOUT) */
  transferTimeoutMs: number;
  /** audio codecs of server-side calls, preferred first; unset: JsSIP's default order (Opus first) */
  audioCodecs?: string[];
  /** how many events each domain's log keeps for clients that resume */
  eventLogMaxLen: number;
  /** how many events each agent's partition of the log keeps for its tabs that resume */
  agentEventLogMaxLen: number;
  /** after a browser-mode agent's voice tab left, how long before it falls back to its default device */
  voiceFallbackMs: number;
  /** where the built SDK (callgate.js, callgate.mjs) is served from */
  embedDir: string;
  domains: DomainRegistry;
  /** false: nothing is counted and GET /metrics answers 404 (METRICS_ENABLED=false); default true */
  metricsEnabled: boolean;
  /** set: GET /metrics answers only `Authorization: Bearer <metricsToken>` */
  metricsToken?: string;
  /** `text`: readable lines (default); `json`: one JSON object per line (pino) */
  logFormat: LogFormat;
  /** false (`QUOTAS=off`): no login or command quotas (tabs per agent still apply) */
  quotasEnabled: boolean;
  /**
   * The embedded default's folder for what must survive a restart (the session secret);
   * validated and created at boot only without REDIS_URL (Redis and SESSION_SECRET do otherwise).
   */
  dataDir: string;
  /** webhook delivery: first retry delay (doubling, capped at 5 minutes), attempts before the dead letters, POST timeout */
  webhooks: { retryMs: number; maxAttempts: number; timeoutMs: number };
}

export type LogFormat = 'text' | 'json';

export const LogLevels = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LogLevels)[number];

/** The repository root: the nearest folder above this module holding package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) throw new Error('callgate: cannot find the project root (package.json)');
      dir = parent;
    }
  }
}

const intFrom = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

/** The names AUDIO_CODECS accepts, in any case: libs/sip's AUDIO_CODECS (not imported: config loads no wrtc). */
const AudioCodecs = ['opus', 'PCMU', 'PCMA', 'G722'] as const;

const envSchema = z.object({
  PORT: intFrom(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, ":", "_" or "-" only')
    .default('cg:'),
  CALLGATE_CONFIG: z.string().min(1).optional(),
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-" only')
    .optional(),
  LOG_LEVEL: z.enum(LogLevels).default('log'),
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')
    .optional(),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_TTL_SECONDS: intFrom(60, 7 * 24 * 3600).default(8 * 3600),
  LEASE_MS: intFrom(200, 600_000).default(5_000),
  DRAIN_TIMEOUT_MS: intFrom(0, 3_600_000).default(30_000),
  RING_TIMEOUT_MS: intFrom(1000, 600_000).default(30_000),
  TRANSFER_TIMEOUT_MS: intFrom(1000, 600_000).default(10_000),
  VOICE_FALLBACK_MS: intFrom(0, 3_600_000).default(10_000),
  EVENT_LOG_MAX_LEN: intFrom(10, 10_000_000).default(10_000),
  AGENT_LOG_MAX_LEN: intFrom(10, 1_000_000).default(1_000),
  AUDIO_CODECS: z
    .string()
    .transform((list) => list.split(',').map((name) => name.trim()))
    .transform((names, ctx) =>
      names.map((name) => {
        const codec = AudioCodecs.find((c) => c.toLowerCase() === name.toLowerCase());
        if (!codec)
          ctx.addIssue({
            code: 'custom',
            message: `unknown codec '${name}' (known: ${AudioCodecs.join(', ')})`,
          });
        return codec ?? name;
      }),
    )
    .refine((codecs) => new Set(codecs).size === codecs.length, 'names a codec twice')
    .optional(),
  METRICS_ENABLED: z.enum(['true', 'false'], { message: "must be 'true' or 'false'" }).default('true'),
  METRICS_TOKEN: z
    .string()
    .regex(/^\S{16,256}$/, 'must be 16 to 256 characters without spaces')
    .optional(),
  LOG_FORMAT: z.enum(['text', 'json']).default('text'),
  QUOTAS: z.enum(['on', 'off']).default('on'),
  DATA_DIR: z.string().min(1).optional(),
  WEBHOOK_RETRY_MS: intFrom(10, 600_000).default(1_000),
  WEBHOOK_MAX_ATTEMPTS: intFrom(1, 100).default(12),
  WEBHOOK_TIMEOUT_MS: intFrom(100, 60_000).default(5_000),
});

/**
 * Validates the environment and the domains file. Throws ConfigError whose message names every
 * bad variable or value; nothing else in the gateway reads `process.env`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      'environment',
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  if (e.REDIS_URL && !e.SESSION_SECRET) {
    throw new ConfigError('environment', [
      'SESSION_SECRET: required when REDIS_URL is set (all instances must share it)',
    ]);
  }
  if (e.METRICS_ENABLED === 'false' && e.METRICS_TOKEN) {
    throw new ConfigError('environment', [
      'METRICS_TOKEN: set while METRICS_ENABLED=false (there is no /metrics to protect)',
    ]);
  }
  const root = projectRoot();
  const configPath = e.CALLGATE_CONFIG
    ? isAbsolute(e.CALLGATE_CONFIG)
      ? e.CALLGATE_CONFIG
      : resolve(e.CALLGATE_CONFIG)
    : join(root, 'config', 'demo.yaml');
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new ConfigError('environment', [
      `CALLGATE_CONFIG: cannot read ${configPath}: ${(err as Error).message}`,
    ]);
  }
  const domains = new DomainRegistry(parseDomainsFile(text, configPath));
  const dataDir = e.DATA_DIR ? resolve(e.DATA_DIR) : join(root, '.callgate');
  // Without Redis the folder keeps what a restart must not lose: validated (and created) here.
  if (!e.REDIS_URL) prepareDataDir(dataDir);
  return {
    port: e.PORT,
    host: e.HOST,
    ...(e.REDIS_URL ? { redisUrl: e.REDIS_URL } : {}),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    configPath,
    instanceId: e.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    logLevel: e.LOG_LEVEL,
    ...(e.PUBLIC_URL ? { publicUrl: e.PUBLIC_URL.replace(/\/$/, '') } : {}),
    // Single instance without a configured secret: one made on first start and kept in DATA_DIR,
    // so the tokens of open pages stay valid across a restart.
    sessionSecret: e.SESSION_SECRET ?? loadOrCreateSessionSecret(dataDir),
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    leaseMs: e.LEASE_MS,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    ringTimeoutMs: e.RING_TIMEOUT_MS,
    transferTimeoutMs: e.TRANSFER_TIMEOUT_MS,
    voiceFallbackMs: e.VOICE_FALLBACK_MS,
    eventLogMaxLen: e.EVENT_LOG_MAX_LEN,
    agentEventLogMaxLen: e.AGENT_LOG_MAX_LEN,
    ...(e.AUDIO_CODECS ? { audioCodecs: e.AUDIO_CODECS } : {}),
    embedDir: join(root, 'dist', 'embed'),
    domains,
    metricsEnabled: e.METRICS_ENABLED === 'true',
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    logFormat: e.LOG_FORMAT,
    quotasEnabled: e.QUOTAS === 'on',
    dataDir,
    webhooks: {
      retryMs: e.WEBHOOK_RETRY_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
  };
}
