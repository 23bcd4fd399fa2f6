/**
 * The domains file (DESIGN.md §2): one entry per tenant, validated once at boot.
 *
 * `parseDomainsFile()` turns YAML text into a deeply frozen {@link DomainsFile}, or throws a
 * {@link ConfigError} naming the file and the exact path of every bad value, e.g.
 * `config/demo.yaml: domains.demo.accessKey: must be at least 32 characters`.
 * {@link DomainRegistry} answers lookups by domain name and ipphone through `Map`s, so names
 * such as `constructor` are plain names; `__proto__` is refused outright.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CallgateError, type DeviceType, type EventType, EventTypes } from '@callgate/contracts';
import { parse as parseYaml, YAMLError } from 'yaml';
import * as z from 'zod';

/** A mobile number: an optional leading `+`, then 8 to 15 digits (`0930000000`, `+84930000000`). */
export const MOBILE_NUMBER_PATTERN = /^\+?[0-9]{8,15}$/;
/** A domain name: it appears in URL paths, so lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export const DOMAIN_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/**
 * An agent's id (`ipphone`, the 3C extension): 1 to 64 letters, digits, `_`, `-` and `.`, as real
 * CRMs use them (`5000`, `401_202`); all unreserved in a SIP URI user part, so always safe there.
 */
export const IPPHONE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The shortest access key accepted (real CRMs use 15 and 16 characters). */
export const MIN_ACCESS_KEY_LENGTH = 12;
/** Access keys shorter than this are accepted with a warning at boot. */
export const RECOMMENDED_ACCESS_KEY_LENGTH = 32;

/** A callout service id: letters, digits, `-` and `_`, as pages pass it to `csCallout`. */
export const CALLOUT_SERVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

const QUEUE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const SIP_URI_PATTERN = /^sips?:[^\s@:;]+@[^\s@]+$/;
const HOST_PATTERN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 86_400;

/** The PBX a domain's agents register with. */
export interface PbxConfig {
  /** SIP over WebSocket, `ws://` or `wss://` */
  readonly wsUri: string;
  readonly sipDomain: string;
  /** digits dialled before a mobile number to route it out (device type 3); may be empty */
  readonly mobilePrefix: string;
  /** STUN/TURN servers of the domain's WebRTC legs: the gateway's own and the voice tab's */
  readonly iceServers?: readonly PbxIceServer[];
  /** TLS of a `wss://` wsUri: a private CA to trust, and the name its certificate carries */
  readonly tls?: PbxTls;
  /** `relay`: WebRTC media only through the TURN servers of {@link iceServers} */
  readonly iceTransportPolicy?: 'all' | 'relay';
  /**
   * A secret shared with the PBX (Kamailio `auth_ephemeral`): the voice tab gets credentials valid
   * `lifetimeSeconds` (`<expiry>:<user>`, base64(HMAC-SHA1(secret, username))), never the password.
   */
  readonly ephemeralAuth?: PbxEphemeralAuth;
  /**
   * Where the audio of a server-side call (devices 2, 3, 4) flows. `direct`: between the device
   * and the customer (or through the PBX's media relay), never through the gateway, which hands
   * each leg's SDP to the other (RFC 3725); a call whose device refuses the customer's media (488,
   * 415, 606: no common codec or media profile) is bridged by itself. `bridge`: through the gateway, which terminates both legs
   * (WebRTC) and copies the audio. Unset: {@link DEFAULT_MEDIA_PATH}.
   */
  readonly media?: PbxMediaPath;
}

export type PbxMediaPath = 'direct' | 'bridge';

/** The media path of a domain that does not set `pbx.media`. */
export const DEFAULT_MEDIA_PATH: PbxMediaPath = 'direct';

export interface PbxEphemeralAuth {
  readonly secret: string;
  readonly lifetimeSeconds: number;
}

/** The shortest shared secret `pbx.ephemeralAuth` accepts. */
export const MIN_EPHEMERAL_SECRET_LENGTH = 16;
/** The longest lifetime of short-lived SIP credentials: a week. */
export const MAX_EPHEMERAL_LIFETIME_SECONDS = 7 * 86_400;

/** A STUN or TURN server, as RTCPeerConnection takes it. */
export interface PbxIceServer {
  readonly urls: readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

export interface PbxTls {
  /** where the CA came from (resolved against the domains file's folder) */
  readonly caFile?: string;
  /** the CA certificate(s), PEM, read at boot */
  readonly ca?: string;
  /** the TLS server name (SNI) when the wsUri's host is an address */
  readonly serverName?: string;
}

export interface AgentDevices {
  /** `sip:` URI of the agent's IP phone (device types 2 and 4) */
  readonly ipPhone?: string;
  /** `sip:` URI of the agent's vendor softphone (device type 6) */
  readonly softphone?: string;
  /** the agent's mobile number (device type 3), see {@link MOBILE_NUMBER_PATTERN} */
  readonly mobile?: string;
  /**
   * The IP phone answers by itself when asked in the INVITE (`Call-Info: ...;answer-after=0`,
   * `Answer-Mode: Auto`), so `call.answer` from the CRM can pick up a ringing call. Default false.
   */
  readonly ipPhoneAutoAnswer?: boolean;
}

export interface AgentConfig {
  /** the agent's id, the key it is filed under (the 3C `ipphone` claim) */
  readonly ipphone: string;
  readonly name: string;
  /**
   * the agent's extension on the PBX, and its digest credentials: `authUser` when the PBX's auth
   * ID differs from the extension, `realm` to pin the realm answered (default: the challenge's)
   */
  readonly sip: {
    readonly user: string;
    readonly password: string;
    readonly authUser?: string;
    readonly realm?: string;
  };
  readonly devices: AgentDevices;
  readonly defaultDevice: DeviceType;
  readonly canCallOut: boolean;
  /**
   * The device types the agent may switch to (`agent.setDevice`); its default device is always
   * among them. Without `1` the agent never gets the SIP password (`voice.sip`). Default: 1-4, and
   * 6 when a softphone is configured.
   */
  readonly allowedDevices: readonly DeviceType[];
}

/** A callout service (3C "hotline"): what the customer sees as the caller on a callout. */
export interface CalloutServiceConfig {
  /** the id pages pass to `csCallout(number, serviceId)` */
  readonly id: string;
  readonly description: string;
  /** the number the PBX presents to the customer (sent as P-Asserted-Identity) */
  readonly callerNumber: string;
  /** the service of a callout without `serviceId` (the first one when none says so) */
  readonly default: boolean;
}

export interface DomainConfig {
  /** the domain's name, the key it is filed under */
  readonly name: string;
  /** the HS256 secret the CRM signs its login tokens with */
  readonly accessKey: string;
  /** keys for CRM backends (REST and the `/events` stream) */
  readonly apiKeys: readonly string[];
  /** browser origins allowed to embed (`http://localhost:3000`), or `"*"` */
  readonly allowedOrigins: readonly string[];
  /** IANA time zone the 3C `expired` claim is read in */
  readonly timezone: string;
  /** lifetime of a CRM token that carries neither `expired` nor `exp` */
  readonly tokenLifetimeSeconds: number;
  /**
   * how long a transfer request waits for the target before it is answered NOK by itself;
   * absent: the gateway's `TRANSFER_TIMEOUT_MS` (10 s by default, as the vendor)
   */
  readonly transferRequestTimeoutSeconds?: number;
  /** callout services (hotlines), in file order; empty: callouts present the agent's extension */
  readonly calloutServices?: readonly CalloutServiceConfig[];
  readonly pbx: PbxConfig;
  /** queue id → `sip:` URI; a null-prototype object, prefer {@link DomainRegistry.queue} */
  readonly queues: Readonly<Record<string, string>>;
  /**
   * survey IVR id → `sip:` URI (3C `transferSurvey`); a null-prototype object, prefer
   * {@link DomainRegistry.survey}. A page names a survey by id, never by URI.
   */
  readonly surveys: Readonly<Record<string, string>>;
  /** ipphone → agent, in file order; a null-prototype object, prefer {@link DomainRegistry.agent} */
  readonly agents: Readonly<Record<string, AgentConfig>>;
  /** what the PBX may dial for this domain (callouts, mobile forwards, transfers, queues) */
  readonly dialPolicy: DomainDialPolicy;
  /** the longest a CRM token may live (`expired`/`exp` past now + this are refused) */
  readonly maxTokenLifetimeSeconds: number;
  /** the domain's limits (logins, commands, tabs) */
  readonly quotas: DomainQuotas;
  /**
   * JS-PHONE pages may sign in with the agent's extension and SIP password
   * (`POST /alohub/{domain}/login`). Default true.
   */
  readonly jsPhonePasswordLogin: boolean;
  /** where the domain's events are POSTed, signed with each one's secret */
  readonly webhooks: readonly WebhookConfig[];
}

/** A CRM endpoint that receives the domain's events as signed HTTP POSTs. */
export interface WebhookConfig {
  readonly url: string;
  /** HMAC-SHA256 key of the `Callgate-Signature` header */
  readonly secret: string;
  /** only these event types (default: every event CRM backends get on /events) */
  readonly events?: readonly EventType[];
}

/** The domain's dial policy as the file gives it (see `checkDial` in @callgate/call-core). */
export interface DomainDialPolicy {
  readonly allowInternational: boolean;
  readonly allowPremium: boolean;
  readonly domesticPrefixes: readonly string[];
  readonly premiumPrefixes: readonly string[];
  readonly allow: Readonly<Partial<Record<'callout' | 'mobile' | 'transfer' | 'queue', readonly string[]>>>;
}

export interface DomainQuotas {
  /** logins from one client address per minute */
  readonly loginsPerMinutePerAddress: number;
  /** logins to the domain per minute, all addresses together */
  readonly loginsPerMinute: number;
  /** commands one socket may send per second (burst over one second) */
  readonly commandsPerSecond: number;
  /** commands all the tabs of one agent may send per second, across instances */
  readonly commandsPerSecondPerAgent: number;
  /** live tabs one agent may hold */
  readonly tabsPerAgent: number;
}

export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 3 * 86_400;
export const DEFAULT_QUOTAS: DomainQuotas = Object.freeze({
  loginsPerMinutePerAddress: 300,
  loginsPerMinute: 3000,
  commandsPerSecond: 50,
  commandsPerSecondPerAgent: 200,
  tabsPerAgent: 20,
});
export const DEFAULT_PREMIUM_PREFIXES: readonly string[] = Object.freeze(['1900', '0900']);

export interface DomainsFile {
  /** where the file came from, for messages */
  readonly source: string;
  /** domain name → domain, in file order; a null-prototype object */
  readonly domains: Readonly<Record<string, DomainConfig>>;
}

/**
 * A bad configuration. Built from a file's `source` and its `problems` (one `path: reason` line
 * per bad value, each prefixed with the source in the message), or from a ready message.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** the file at fault, when the error is about a file */
  readonly source: string | undefined;
  readonly problems: readonly string[];

  constructor(message: string);
  constructor(source: string, problems: readonly string[]);
  constructor(sourceOrMessage: string, problems?: readonly string[]) {
    super(
      problems === undefined
        ? sourceOrMessage
        : problems.map((problem) => `${sourceOrMessage}: ${problem}`).join('\n'),
    );
    this.source = problems === undefined ? undefined : sourceOrMessage;
    this.problems = problems ?? [sourceOrMessage];
  }
}

// ---------------------------------------------------------------------------------------------
// schema

/** Whether `error` is a `RangeError`, from any realm (Jest runs modules in a VM context). */
function isRangeError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'RangeError';
}

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch (error) {
    if (isRangeError(error)) return false;
    throw error;
  }
}

function isOrigin(value: string): boolean {
  if (value === '*') return true;
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
}

function isWebSocketUri(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname !== '';
}

function namedRecord<V extends z.ZodType>(keyPattern: RegExp, keyMessage: string, value: V) {
  return z.record(z.string().regex(keyPattern, keyMessage), value);
}

/**
 * zod silently drops an own `__proto__` key (as YAML and JSON produce it), which would make a
 * whole domain or agent vanish without a word; such keys are found here instead, anywhere.
 */
function protoKeyPaths(value: unknown, path: PropertyKey[] = []): PropertyKey[][] {
  if (typeof value !== 'object' || value === null) return [];
  const found: PropertyKey[][] = [];
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) found.push([...path, '__proto__']);
  for (const [key, child] of Object.entries(value)) {
    found.push(...protoKeyPaths(child, [...path, Array.isArray(value) ? Number(key) : key]));
  }
  return found;
}

const sipUri = z.string().regex(SIP_URI_PATTERN, 'must be a SIP URI like sip:user@host');
const mobileNumber = z
  .string()
  .regex(MOBILE_NUMBER_PATTERN, "must be a mobile number: 8 to 15 digits with an optional leading '+'");

const agentSchema = z
  .strictObject({
    name: z.string().trim().min(1, 'must not be empty'),
    sip: z.strictObject({
      user: z.string().regex(/^[^\s@:;]+$/, 'must be a SIP user name (no spaces, @, : or ;)'),
      password: z.string().min(1, 'must not be empty'),
      authUser: z
        .string()
        .regex(/^[^\s@:;"]+$/, 'must be a SIP user name (no spaces, @, :, ; or ")')
        .optional(),
      realm: z
        .string()
        .regex(/^[^\s"]+$/, 'must be a realm without spaces or quotes')
        .optional(),
    }),
    devices: z
      .strictObject({
        ipPhone: sipUri.optional(),
        softphone: sipUri.optional(),
        mobile: mobileNumber.optional(),
        ipPhoneAutoAnswer: z.boolean().optional(),
      })
      .default({}),
    defaultDevice: z.literal([1, 2, 3, 4, 6], {
      error: (issue) =>
        issue.input === undefined
          ? 'is required'
          : 'must be 1 (browser), 2 (IP phone while logged in), 3 (mobile), 4 (IP phone always) or 6 (softphone)',
    }),
    canCallOut: z.boolean().default(true),
    allowedDevices: z
      .array(
        z.literal([1, 2, 3, 4, 6], {
          error: 'must list device types 1 (browser), 2, 3, 4 or 6',
        }),
      )
      .min(1, 'must list at least one device type')
      .optional(),
  })
  .superRefine((agent, ctx) => {
    if (agent.allowedDevices !== undefined && !agent.allowedDevices.includes(agent.defaultDevice)) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowedDevices'],
        message: `must include the default device ${agent.defaultDevice}`,
      });
    }
    if ((agent.defaultDevice === 2 || agent.defaultDevice === 4) && agent.devices.ipPhone === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'ipPhone'],
        message: `is required when defaultDevice is ${agent.defaultDevice} (IP phone)`,
      });
    }
    if (
      (agent.defaultDevice === 6 || agent.allowedDevices?.includes(6) === true) &&
      agent.devices.softphone === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'softphone'],
        message: 'is required when device type 6 (softphone) is the default or allowed',
      });
    }
    if (agent.defaultDevice === 3 && agent.devices.mobile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'mobile'],
        message: 'is required when defaultDevice is 3 (mobile)',
      });
    }
  });

const ICE_URL_PATTERN = /^(stuns?|turns?):[^\s]+$/;

const iceServerSchema = z
  .strictObject({
    urls: z.union([
      z.string().regex(ICE_URL_PATTERN, 'must be a stun:, stuns:, turn: or turns: URL'),
      z
        .array(z.string().regex(ICE_URL_PATTERN, 'must be a stun:, stuns:, turn: or turns: URL'))
        .min(1, 'must list at least one URL'),
    ]),
    username: z.string().min(1, 'must not be empty').optional(),
    credential: z.string().min(1, 'must not be empty').optional(),
  })
  .superRefine((server, ctx) => {
    const urls = typeof server.urls === 'string' ? [server.urls] : server.urls;
    if (
      urls.some((url) => url.startsWith('turn')) &&
      (server.username === undefined || server.credential === undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [server.username === undefined ? 'username' : 'credential'],
        message: 'is required for a TURN server',
      });
    }
  });

const dialPrefix = z
  .string()
  .regex(/^\+?[0-9*#]{1,32}$/, "must be a number prefix: digits, '*', '#', an optional leading '+'");
const quota = z.int('must be a whole number').positive('must be positive');

const domainSchema = z
  .strictObject({
    accessKey: z.string().min(MIN_ACCESS_KEY_LENGTH, `must be at least ${MIN_ACCESS_KEY_LENGTH} characters`),
    apiKeys: z
      .array(z.string().min(16, 'must be at least 16 characters'))
      .min(1, 'must list at least one key'),
    allowedOrigins: z
      .array(z.string().refine(isOrigin, 'must be an origin like http://localhost:3000 (no path), or "*"'))
      .min(1, 'must list at least one origin, or "*"'),
    timezone: z.string().refine(isValidTimeZone, 'must be an IANA time zone such as Asia/Ho_Chi_Minh'),
    tokenLifetimeSeconds: z
      .int('must be a whole number of seconds')
      .positive('must be a positive number of seconds')
      .default(DEFAULT_TOKEN_LIFETIME_SECONDS),
    transferRequestTimeoutSeconds: z
      .int('must be a whole number of seconds')
      .min(1, 'must be 1 to 600 seconds')
      .max(600, 'must be 1 to 600 seconds')
      .optional(),
    calloutServices: z
      .array(
        z.strictObject({
          id: z.string().regex(CALLOUT_SERVICE_ID_PATTERN, "must be 1 to 32 letters, digits, '-' or '_'"),
          description: z.string().trim().min(1, 'must not be empty'),
          callerNumber: z
            .string()
            .regex(/^\+?[0-9]{2,20}$/, "must be a number: digits with an optional leading '+'"),
          default: z.boolean().default(false),
        }),
      )
      .optional(),
    pbx: z.strictObject({
      wsUri: z.string().refine(isWebSocketUri, 'must be a ws:// or wss:// URI'),
      sipDomain: z.string().regex(HOST_PATTERN, 'must be a host name or IP address'),
      mobilePrefix: z.string().regex(/^[0-9]*$/, 'must be digits (or "")'),
      iceServers: z.array(iceServerSchema).optional(),
      tls: z
        .strictObject({
          caFile: z.string().min(1, 'must not be empty').optional(),
          serverName: z.string().regex(HOST_PATTERN, 'must be a host name').optional(),
        })
        .optional(),
      iceTransportPolicy: z.literal(['all', 'relay'], { error: "must be 'all' or 'relay'" }).optional(),
      ephemeralAuth: z
        .strictObject({
          secret: z
            .string()
            .min(MIN_EPHEMERAL_SECRET_LENGTH, `must be at least ${MIN_EPHEMERAL_SECRET_LENGTH} characters`),
          lifetimeSeconds: z
            .number()
            .int('must be a whole number of seconds')
            .min(1, 'must be at least 1')
            .max(MAX_EPHEMERAL_LIFETIME_SECONDS, `must be at most ${MAX_EPHEMERAL_LIFETIME_SECONDS}`),
        })
        .optional(),
      media: z.literal(['direct', 'bridge'], { error: "must be 'direct' or 'bridge'" }).optional(),
    }),
    queues: namedRecord(
      QUEUE_ID_PATTERN,
      "is not a valid queue id: use letters, digits, '-' and '_'",
      sipUri,
    ).default({}),
    surveys: namedRecord(
      QUEUE_ID_PATTERN,
      "is not a valid survey id: use letters, digits, '-' and '_'",
      sipUri,
    ).default({}),
    agents: namedRecord(
      IPPHONE_PATTERN,
      "is not a valid ipphone: use 1 to 64 letters, digits, '_', '-' or '.'",
      agentSchema,
    ),
    dialPolicy: z
      .strictObject({
        allowInternational: z.boolean().default(false),
        allowPremium: z.boolean().default(false),
        domesticPrefixes: z.array(dialPrefix).default([]),
        premiumPrefixes: z.array(dialPrefix).default([...DEFAULT_PREMIUM_PREFIXES]),
        allow: z
          .strictObject({
            callout: z.array(dialPrefix).optional(),
            mobile: z.array(dialPrefix).optional(),
            transfer: z.array(dialPrefix).optional(),
            queue: z.array(dialPrefix).optional(),
          })
          .default({}),
      })
      .default({
        allowInternational: false,
        allowPremium: false,
        domesticPrefixes: [],
        premiumPrefixes: [...DEFAULT_PREMIUM_PREFIXES],
        allow: {},
      }),
    maxTokenLifetimeSeconds: z
      .int('must be a whole number of seconds')
      .positive('must be a positive number of seconds')
      .default(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS),
    quotas: z
      .strictObject({
        loginsPerMinutePerAddress: quota.default(DEFAULT_QUOTAS.loginsPerMinutePerAddress),
        loginsPerMinute: quota.default(DEFAULT_QUOTAS.loginsPerMinute),
        commandsPerSecond: quota.default(DEFAULT_QUOTAS.commandsPerSecond),
        commandsPerSecondPerAgent: quota.default(DEFAULT_QUOTAS.commandsPerSecondPerAgent),
        tabsPerAgent: quota.default(DEFAULT_QUOTAS.tabsPerAgent),
      })
      .default({ ...DEFAULT_QUOTAS }),
    jsPhonePasswordLogin: z.boolean().default(true),
    webhooks: z
      .array(
        z.strictObject({
          url: z.string().refine(isHttpUrl, 'must be an http:// or https:// URL'),
          secret: z.string().min(16, 'must be at least 16 characters'),
          events: z.array(z.enum(EventTypes)).min(1, 'must list at least one event type').optional(),
        }),
      )
      .default([])
      .refine((hooks) => new Set(hooks.map((h) => h.url)).size === hooks.length, 'lists a URL twice'),
  })
  .superRefine((domain, ctx) => {
    const turn = (domain.pbx.iceServers ?? []).some((server) =>
      (typeof server.urls === 'string' ? [server.urls] : server.urls).some((url) => url.startsWith('turn')),
    );
    if (domain.pbx.iceTransportPolicy === 'relay' && !turn) {
      ctx.addIssue({
        code: 'custom',
        path: ['pbx', 'iceTransportPolicy'],
        message: "'relay' needs a TURN server in pbx.iceServers",
      });
    }
    if (domain.pbx.tls !== undefined && !domain.pbx.wsUri.startsWith('wss:')) {
      ctx.addIssue({ code: 'custom', path: ['pbx', 'tls'], message: 'needs a wss:// wsUri' });
    }
    const services = domain.calloutServices ?? [];
    services.forEach((service, index) => {
      if (services.findIndex((other) => other.id === service.id) !== index) {
        ctx.addIssue({ code: 'custom', path: ['calloutServices', index, 'id'], message: 'is listed twice' });
      }
    });
    if (services.filter((service) => service.default).length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['calloutServices'],
        message: 'may have one default service only',
      });
    }
    const sipUsers = new Map<string, string>();
    for (const [ipphone, agent] of Object.entries(domain.agents)) {
      const other = sipUsers.get(agent.sip.user);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', ipphone, 'sip', 'user'],
          message: `is also the SIP user of agent ${other}`,
        });
      } else {
        sipUsers.set(agent.sip.user, ipphone);
      }
    }
  });

const fileSchema = z
  .strictObject({
    domains: namedRecord(
      DOMAIN_NAME_PATTERN,
      "is not a valid domain name: use lowercase letters, digits, '-' and '_', starting with a letter or digit",
      domainSchema,
    ).refine((domains) => Object.keys(domains).length > 0, 'must define at least one domain'),
  })
  .superRefine((file, ctx) => {
    const keys = new Map<string, string>();
    for (const [name, domain] of Object.entries(file.domains)) {
      const other = keys.get(domain.accessKey);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['domains', name, 'accessKey'],
          message: `is the same as domains.${other}.accessKey: every domain needs its own key`,
        });
      } else {
        keys.set(domain.accessKey, name);
      }
    }
  });

type ParsedFile = z.output<typeof fileSchema>;

// ---------------------------------------------------------------------------------------------
// messages

const SIMPLE_SEGMENT = /^[A-Za-z0-9_-]+$/;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && SIMPLE_SEGMENT.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** What a value is, without echoing it (it may be a secret). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

function expectedName(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a mapping';
  if (expected === 'array') return 'a list';
  if (expected === 'int') return 'a whole number';
  return `a ${expected}`;
}

/** The wording for zod's generic issues; schema-specific messages above take precedence. */
const errorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'is required';
    const hint =
      issue.expected === 'string' && typeof issue.input === 'number'
        ? ' (quote it in YAML, so leading zeros are kept)'
        : '';
    return `must be ${expectedName(issue.expected)}, not ${describe(issue.input)}${hint}`;
  }
  if (issue.code === 'unrecognized_keys') return 'is not a known setting';
  return undefined;
};

function problemsOf(error: z.ZodError): string[] {
  const problems: string[] = [];
  const visit = (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): void => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(`${formatPath([...path, key])}: ${issue.message}`);
      } else if (issue.code === 'invalid_key') {
        // the key itself is bad: report the inner reasons against the key's path
        for (const inner of issue.issues) problems.push(`${formatPath(path)}: ${inner.message}`);
      } else {
        problems.push(`${formatPath(path)}: ${issue.message}`);
      }
    }
  };
  visit(error.issues, []);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// building the frozen model

function nullPrototypeRecord<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const record = Object.create(null) as Record<string, V>;
  for (const [key, value] of entries) {
    Object.defineProperty(record, key, { value, enumerable: true, writable: false, configurable: false });
  }
  return Object.freeze(record);
}

/**
 * The PEM of a domain's CA file, read once at boot (relative paths from the domains file's folder).
 * @throws ConfigError when it cannot be read or holds no certificate
 */
function tlsOf(tls: { caFile?: string; serverName?: string }, source: string, domain: string): PbxTls {
  const out: { caFile?: string; ca?: string; serverName?: string } = {};
  if (tls.serverName !== undefined) out.serverName = tls.serverName;
  if (tls.caFile !== undefined) {
    const path = isAbsolute(tls.caFile) ? tls.caFile : resolve(dirname(source), tls.caFile);
    const where = `domains.${domain}.pbx.tls.caFile`;
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (error) {
      const reason =
        typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : String(error);
      throw new ConfigError(source, [`${where}: cannot be read (${path}: ${reason})`]);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(source, [`${where}: holds no PEM certificate (${path})`]);
    out.caFile = path;
    out.ca = pem;
  }
  return out;
}

function build(parsed: ParsedFile, source: string): DomainsFile {
  const domains = Object.entries(parsed.domains).map(([name, d]): [string, DomainConfig] => {
    const agents = Object.entries(d.agents).map(([ipphone, a]): [string, AgentConfig] => {
      const devices: AgentDevices = Object.freeze({
        ...(a.devices.ipPhone !== undefined && { ipPhone: a.devices.ipPhone }),
        ...(a.devices.softphone !== undefined && { softphone: a.devices.softphone }),
        ...(a.devices.mobile !== undefined && { mobile: a.devices.mobile }),
        ...(a.devices.ipPhoneAutoAnswer !== undefined && { ipPhoneAutoAnswer: a.devices.ipPhoneAutoAnswer }),
      });
      const agent: AgentConfig = {
        ipphone,
        name: a.name,
        sip: Object.freeze({
          user: a.sip.user,
          password: a.sip.password,
          ...(a.sip.authUser !== undefined && { authUser: a.sip.authUser }),
          ...(a.sip.realm !== undefined && { realm: a.sip.realm }),
        }),
        devices,
        defaultDevice: a.defaultDevice,
        canCallOut: a.canCallOut,
        allowedDevices: Object.freeze([
          ...(a.allowedDevices ?? [1, 2, 3, 4, ...(a.devices.softphone === undefined ? [] : [6 as const])]),
        ]),
      };
      return [ipphone, Object.freeze(agent)];
    });
    const domain: DomainConfig = {
      name,
      accessKey: d.accessKey,
      apiKeys: Object.freeze([...d.apiKeys]),
      allowedOrigins: Object.freeze([...d.allowedOrigins]),
      timezone: d.timezone,
      tokenLifetimeSeconds: d.tokenLifetimeSeconds,
      ...(d.transferRequestTimeoutSeconds !== undefined && {
        transferRequestTimeoutSeconds: d.transferRequestTimeoutSeconds,
      }),
      ...(d.calloutServices !== undefined && {
        calloutServices: Object.freeze(
          d.calloutServices.map((service, index, all) =>
            Object.freeze({
              ...service,
              default: service.default || (index === 0 && !all.some((other) => other.default)),
            }),
          ),
        ),
      }),
      pbx: Object.freeze({
        wsUri: d.pbx.wsUri,
        sipDomain: d.pbx.sipDomain,
        mobilePrefix: d.pbx.mobilePrefix,
        ...(d.pbx.iceServers !== undefined && {
          iceServers: Object.freeze(
            d.pbx.iceServers.map((server) =>
              Object.freeze({
                urls: Object.freeze(typeof server.urls === 'string' ? [server.urls] : [...server.urls]),
                ...(server.username !== undefined && { username: server.username }),
                ...(server.credential !== undefined && { credential: server.credential }),
              }),
            ),
          ),
        }),
        ...(d.pbx.tls !== undefined && { tls: Object.freeze(tlsOf(d.pbx.tls, source, name)) }),
        ...(d.pbx.iceTransportPolicy !== undefined && { iceTransportPolicy: d.pbx.iceTransportPolicy }),
        ...(d.pbx.ephemeralAuth !== undefined && {
          ephemeralAuth: Object.freeze({
            secret: d.pbx.ephemeralAuth.secret,
            lifetimeSeconds: d.pbx.ephemeralAuth.lifetimeSeconds,
          }),
        }),
        ...(d.pbx.media !== undefined && { media: d.pbx.media }),
      }),
      queues: nullPrototypeRecord(Object.entries(d.queues)),
      surveys: nullPrototypeRecord(Object.entries(d.surveys)),
      agents: nullPrototypeRecord(agents),
      dialPolicy: Object.freeze({
        allowInternational: d.dialPolicy.allowInternational,
        allowPremium: d.dialPolicy.allowPremium,
        domesticPrefixes: Object.freeze([...d.dialPolicy.domesticPrefixes]),
        premiumPrefixes: Object.freeze([...d.dialPolicy.premiumPrefixes]),
        allow: Object.freeze({ ...d.dialPolicy.allow }),
      }),
      maxTokenLifetimeSeconds: d.maxTokenLifetimeSeconds,
      quotas: Object.freeze({ ...d.quotas }),
      jsPhonePasswordLogin: d.jsPhonePasswordLogin,
      webhooks: Object.freeze(
        d.webhooks.map((w) =>
          Object.freeze({
            url: w.url,
            secret: w.secret,
            ...(w.events ? { events: Object.freeze([...w.events]) } : {}),
          }),
        ),
      ),
    };
    return [name, Object.freeze(domain)];
  });
  return Object.freeze({ source, domains: nullPrototypeRecord(domains) });
}

/**
 * Validates an already-parsed domains document (for example one built in a test).
 * @throws ConfigError naming `source` and the path of every bad value
 */
export function validateDomainsFile(document: unknown, source: string): DomainsFile {
  if (document === null || document === undefined)
    throw new ConfigError(source, ['is empty: it must define domains']);
  const problems = protoKeyPaths(document).map((path) => `${formatPath(path)}: is not an allowed name`);
  const result = fileSchema.safeParse(document, { error: errorMap });
  if (!result.success) problems.push(...problemsOf(result.error));
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  return build(result.data, source);
}

/**
 * Parses and validates the YAML text of a domains file.
 * @param source the file's name, used in messages (`config/demo.yaml`)
 * @throws ConfigError naming `source` and the path of every bad value
 */
export function parseDomainsFile(yamlText: string, source: string): DomainsFile {
  let document: unknown;
  try {
    document = parseYaml(yamlText, { uniqueKeys: true, prettyErrors: true });
  } catch (error) {
    if (error instanceof YAMLError) {
      // the first line: the reason and "at line L, column C" (the next lines quote the file)
      const reason = (error.message.split('\n')[0] ?? error.code).replace(/:$/, '');
      throw new ConfigError(source, [`not valid YAML: ${reason}`]);
    }
    throw error;
  }
  return validateDomainsFile(document, source);
}

/**
 * Reads, parses and validates a domains file.
 * @throws ConfigError when the file cannot be read or is not valid
 */
export async function loadDomainsFile(path: string): Promise<DomainsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason =
      typeof error === 'object' && error !== null && 'message' in error
        ? String(error.message)
        : String(error);
    throw new ConfigError(path, [`cannot be read: ${reason}`]);
  }
  return parseDomainsFile(text, path);
}

/**
 * One line per domain whose access key is shorter than {@link RECOMMENDED_ACCESS_KEY_LENGTH}
 * (accepted, as real CRMs use such keys, but an HS256 key that short can be guessed offline from
 * one token): what the gateway logs as a warning at boot. The key itself is never named.
 */
export function weakAccessKeyWarnings(file: DomainsFile): string[] {
  return Object.values(file.domains)
    .filter((domain) => domain.accessKey.length < RECOMMENDED_ACCESS_KEY_LENGTH)
    .map(
      (domain) =>
        `${file.source}: domain ${domain.name}: its accessKey has ${domain.accessKey.length} characters; ` +
        `use ${RECOMMENDED_ACCESS_KEY_LENGTH} or more random characters (the CRM signs its tokens with it)`,
    );
}

// ---------------------------------------------------------------------------------------------
// registry

/** Quotes a caller-supplied name for an error message, without echoing unbounded input. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

interface DomainEntry {
  readonly config: DomainConfig;
  readonly agents: ReadonlyMap<string, AgentConfig>;
  readonly queues: ReadonlyMap<string, string>;
  readonly surveys: ReadonlyMap<string, string>;
}

/** Lookups over a validated {@link DomainsFile}; unknown names are refused with a typed error. */
export class DomainRegistry {
  readonly #domains = new Map<string, DomainEntry>();

  constructor(readonly file: DomainsFile) {
    for (const [name, config] of Object.entries(file.domains)) {
      this.#domains.set(name, {
        config,
        agents: new Map(Object.entries(config.agents)),
        queues: new Map(Object.entries(config.queues)),
        surveys: new Map(Object.entries(config.surveys)),
      });
    }
  }

  /** @throws CallgateError `DOMAIN_NOT_FOUND` */
  domain(name: string): DomainConfig {
    return this.#entry(name).config;
  }

  hasDomain(name: string): boolean {
    return this.#domains.has(name);
  }

  /**
   * @throws CallgateError `DOMAIN_NOT_FOUND` when the domain is unknown,
   * `AGENT_NOT_FOUND` when the domain has no such agent
   */
  agent(domain: string, ipphone: string): AgentConfig {
    const agent = this.#entry(domain).agents.get(ipphone);
    if (agent === undefined) {
      throw new CallgateError('AGENT_NOT_FOUND', `domain ${quoted(domain)} has no agent ${quoted(ipphone)}`);
    }
    return agent;
  }

  /** Every agent of a domain, in file order. @throws CallgateError `DOMAIN_NOT_FOUND` */
  agents(domain: string): AgentConfig[] {
    return [...this.#entry(domain).agents.values()];
  }

  /** The `sip:` URI of a queue, or `undefined`. @throws CallgateError `DOMAIN_NOT_FOUND` */
  queue(domain: string, queueId: string): string | undefined {
    return this.#entry(domain).queues.get(queueId);
  }

  /**
   * The `sip:` URI of a survey IVR the domain lists (3C `transferSurvey`).
   * @throws CallgateError `DOMAIN_NOT_FOUND`, `UNKNOWN_SURVEY` for an id the domain does not list
   */
  survey(domain: string, surveyId: string): string {
    const uri = this.#entry(domain).surveys.get(surveyId);
    if (uri === undefined) {
      throw new CallgateError('UNKNOWN_SURVEY', `domain ${quoted(domain)} has no survey ${quoted(surveyId)}`);
    }
    return uri;
  }

  /**
   * The callout service a callout of `domain` uses: `serviceId`'s, or the default one when absent;
   * `undefined` when the domain lists none and no id was asked for.
   * @throws CallgateError `DOMAIN_NOT_FOUND`, `UNKNOWN_CALLOUT_SERVICE` for an id the domain does not list
   */
  calloutService(domain: string, serviceId?: string): CalloutServiceConfig | undefined {
    const services = this.#entry(domain).config.calloutServices ?? [];
    if (serviceId === undefined) return services.find((service) => service.default);
    const service = services.find((candidate) => candidate.id === serviceId);
    if (service === undefined) {
      throw new CallgateError(
        'UNKNOWN_CALLOUT_SERVICE',
        `domain ${quoted(domain)} has no callout service ${quoted(serviceId)}`,
      );
    }
    return service;
  }

  /** Domain names, in file order. */
  domainNames(): string[] {
    return [...this.#domains.keys()];
  }

  /** A domain's agent ids (ipphones), in file order. @throws CallgateError `DOMAIN_NOT_FOUND` */
  agentIds(domain: string): string[] {
    return [...this.#entry(domain).agents.keys()];
  }

  #entry(name: string): DomainEntry {
    const entry = this.#domains.get(name);
    if (entry === undefined) throw new CallgateError('DOMAIN_NOT_FOUND', `unknown domain ${quoted(name)}`);
    return entry;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
