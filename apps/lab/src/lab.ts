import { silentLogger, type SipLogger } from '@callgate/sip';
import { BaresipPhone } from './baresip.js';
import { Bot, type BotBehaviour, type BotKind } from './bots.js';
import { startKamailio, type Kamailio, type KamailioOptions } from './kamailio.js';
import { startCoturn, type Coturn } from './coturn.js';
import { startRtpengine, type Rtpengine } from './rtpengine.js';

/** How lab users are named on the PBX (DESIGN §2's demo config follows the same conventions). */
export const labUsers = {
  /** An agent's desk phone: extension "5003" registers as "5003-desk" (sip:5003-desk@127.0.0.1). */
  ipPhone: (extension: string): string => `${extension}-desk`,
  /** A mobile reached through the PBX's mobile prefix: "9" + "0930000004" = "90930000004". */
  mobile: (mobilePrefix: string, number: string): string => `${mobilePrefix}${number}`,
  /** An ACD queue: id "1" registers as "queue1". */
  queue: (id: string): string => `queue${id}`,
  /** An agent's vendor softphone (device 6): extension "5006" registers as "5006-softphone". */
  softphone: (extension: string): string => `${extension}-softphone`,
  /** A survey IVR: id "csat" registers as "survey-csat". */
  survey: (id: string): string => `survey-${id}`,
  /** The n-th generated customer (1-based): 0901000001, 0901000002, ... */
  customer: (n: number): string => `09010000${String(n).padStart(2, '0')}`,
};

/** Passwords of the field lab's users (the gateway's domains file for the lab uses the same). */
export const labPasswords = {
  /** The agent's extension, registered by the gateway or the browser: "5003" → "lab-5003". */
  agent: (extension: string): string => `lab-${extension}`,
  /** The desk phone "5003-desk" → "desk-5003". */
  ipPhone: (extension: string): string => `desk-${extension}`,
  /** A queue "queue1" → "queue-1". */
  queue: (id: string): string => `queue-${id}`,
  /** The softphone "5006-softphone" → "softphone-5006". */
  softphone: (extension: string): string => `softphone-${extension}`,
  /** The survey IVR "survey-csat" → "survey-csat". */
  survey: (id: string): string => `survey-${id}`,
  /** A customer played by a JsSIP bot in the field lab ({@link LabOptions.customerBots}): "0901000001" → "customer-0901000001". */
  customer: (number: string): string => `customer-${number}`,
};

/** Which lab: `plain` (no auth, WebRTC bots everywhere), or `field` (a PBX like the ones users run). */
export type LabProfile = 'plain' | 'field';

/** Tones of generated bots: each bot of a lab plays its own, 100 Hz apart within a kind. */
const TONE_BASE: Record<BotKind, number> = {
  customer: 400,
  ipPhone: 1000,
  mobile: 1600,
  queue: 2200,
  softphone: 2800,
  survey: 3300,
};

/** The tone the lab gives the `index`-th (0-based) bot of a kind. */
export function labTone(kind: BotKind, index: number): number {
  return TONE_BASE[kind] + 100 * index;
}

export interface LabOptions {
  /** A count of generated customers (0901000001...), or their numbers. Default 0. */
  customers?: number | readonly string[];
  /** Agents' extensions with a desk phone: "5003" registers "5003-desk". */
  ipPhones?: readonly string[];
  /** Mobile numbers, registered behind the prefix: "0930000004" registers "90930000004". */
  mobiles?: readonly string[];
  /** Queue ids: "1" registers "queue1". */
  queues?: readonly string[];
  /** Agents' extensions with a vendor softphone (device 6): "5006" registers "5006-softphone". */
  softphones?: readonly string[];
  /** Survey IVR ids (a bot that answers): "csat" registers "survey-csat". */
  surveys?: readonly string[];
  /** Prefix that routes a mobile number (DESIGN's pbx.mobilePrefix). Default "9". */
  mobilePrefix?: string;
  /** Behaviour per kind (over the bot default: answer at once, play the lab tone, follow REFER). */
  behaviours?: Partial<Record<BotKind, Partial<BotBehaviour>>>;
  kamailio?: KamailioOptions;
  logger?: SipLogger;
  /**
   * `field`: Kamailio challenges REGISTER and INVITE (passwords {@link labPasswords}), rtpengine
   * relays media, desk phones are baresip (plain RTP/PCMU, digest auth, auto-answer), customers and
   * mobiles are baresip on the trunk socket (plain RTP, trusted). Queues, softphones and survey IVRs
   * stay JsSIP bots (with a password). Default `plain`.
   */
  profile?: LabProfile;
  /**
   * Field profile: how long registrations last (s; clients refresh before), pike's density, and
   * auth_ephemeral's secret (the gateway's `pbx.ephemeralAuth.secret`) for short-lived credentials.
   */
  field?: { maxExpires?: number; pikeDensity?: number; ephemeralSecret?: string };
  /**
   * Field profile: the customers are JsSIP+wrtc bots (WebRTC, digest auth on the users' socket) instead
   * of baresip on the trunk — for flows baresip 1.0 cannot check (it stops recording after a re-INVITE,
   * and does not follow a REFER). Default false.
   */
  customerBots?: boolean;
  /** Field profile: the agents' SIP users the PBX knows (e.g. "5003") → password (tests use {@link labPasswords.agent}). */
  agents?: Readonly<Record<string, string>>;
}

/** A baresip endpoint of the field lab. */
export interface LabPhone {
  readonly kind: BotKind;
  readonly user: string;
  /** The tone it plays (Hz). */
  readonly tone: number;
  readonly phone: BaresipPhone;
}

export interface Lab {
  readonly profile: LabProfile;
  readonly pbx: Kamailio;
  /** The field profile's media relay. */
  readonly rtpengine: Rtpengine | undefined;
  /** The field profile's TURN server (coturn, one static user), for `pbx.iceServers`. */
  readonly turn: Coturn | undefined;
  /** The field profile's baresip desk phones, customers and mobiles. */
  readonly phones: readonly LabPhone[];
  /** The baresip endpoint registered as `user`; throws for an unknown user. */
  phone(user: string): LabPhone;
  readonly mobilePrefix: string;
  readonly customers: readonly Bot[];
  readonly ipPhones: readonly Bot[];
  readonly mobiles: readonly Bot[];
  readonly queues: readonly Bot[];
  readonly bots: readonly Bot[];
  /** The bot registered as `user` (e.g. "5003-desk", "queue1"); throws for an unknown user. */
  bot(user: string): Bot;
  /** Closes every bot, then stops Kamailio. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a lab: a Kamailio on free loopback ports and the named bots, all registered.
 * On failure, whatever was started is closed again.
 */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  if (options.profile === 'field') return startFieldLab(options);
  const logger = options.logger ?? silentLogger;
  const mobilePrefix = options.mobilePrefix ?? '9';
  const pbx = await startKamailio({ logger, ...options.kamailio });
  const customerNumbers =
    typeof options.customers === 'number'
      ? Array.from({ length: options.customers }, (_, i) => labUsers.customer(i + 1))
      : [...(options.customers ?? [])];
  const plan: { kind: BotKind; user: string; index: number }[] = [
    ...customerNumbers.map((user, index) => ({ kind: 'customer' as const, user, index })),
    ...(options.ipPhones ?? []).map((ext, index) => ({
      kind: 'ipPhone' as const,
      user: labUsers.ipPhone(ext),
      index,
    })),
    ...(options.mobiles ?? []).map((n, index) => ({
      kind: 'mobile' as const,
      user: labUsers.mobile(mobilePrefix, n),
      index,
    })),
    ...(options.queues ?? []).map((id, index) => ({
      kind: 'queue' as const,
      user: labUsers.queue(id),
      index,
    })),
    ...(options.softphones ?? []).map((ext, index) => ({
      kind: 'softphone' as const,
      user: labUsers.softphone(ext),
      index,
    })),
    ...(options.surveys ?? []).map((id, index) => ({
      kind: 'survey' as const,
      user: labUsers.survey(id),
      index,
    })),
  ];
  const bots = plan.map(
    ({ kind, user, index }) =>
      new Bot({
        pbx,
        user,
        kind,
        logger,
        behaviour: { tone: labTone(kind, index), ...options.behaviours?.[kind] },
      }),
  );
  const lab = new RunningLab('plain', pbx, undefined, undefined, mobilePrefix, bots, []);
  try {
    await Promise.all(bots.map((bot) => bot.start()));
  } catch (error) {
    await lab.close();
    throw error;
  }
  return lab;
}

/** The field profile: rtpengine, an authenticating Kamailio, baresip phones and customers. */
async function startFieldLab(options: LabOptions): Promise<Lab> {
  const logger = options.logger ?? silentLogger;
  const mobilePrefix = options.mobilePrefix ?? '9';
  const customerNumbers =
    typeof options.customers === 'number'
      ? Array.from({ length: options.customers }, (_, i) => labUsers.customer(i + 1))
      : [...(options.customers ?? [])];
  const passwords: Record<string, string> = {};
  for (const [user, password] of Object.entries(options.agents ?? {})) passwords[user] = password;
  for (const ext of options.ipPhones ?? []) passwords[labUsers.ipPhone(ext)] = labPasswords.ipPhone(ext);
  for (const id of options.queues ?? []) passwords[labUsers.queue(id)] = labPasswords.queue(id);
  for (const ext of options.softphones ?? [])
    passwords[labUsers.softphone(ext)] = labPasswords.softphone(ext);
  for (const id of options.surveys ?? []) passwords[labUsers.survey(id)] = labPasswords.survey(id);
  const customerBots = options.customerBots === true;
  if (customerBots) for (const n of customerNumbers) passwords[n] = labPasswords.customer(n);
  const rtpengine = await startRtpengine({ logger });
  let pbx: Kamailio;
  let turn: Coturn;
  try {
    turn = await startCoturn({ logger });
  } catch (error) {
    await rtpengine.stop();
    throw error;
  }
  try {
    pbx = await startKamailio({
      logger,
      ...options.kamailio,
      field: { passwords, rtpengineSocket: rtpengine.ngSocket, ...options.kamailio?.field, ...options.field },
    });
  } catch (error) {
    await rtpengine.stop();
    await turn.stop();
    throw error;
  }
  const trunkPort = pbx.field?.trunkPort ?? pbx.udpPort;
  const phonePlan: { kind: BotKind; user: string; tone: number; auth?: string }[] = [
    ...(customerBots ? [] : customerNumbers).map((user, i) => ({
      kind: 'customer' as const,
      user,
      tone: labTone('customer', i),
    })),
    ...(options.ipPhones ?? []).map((ext, i) => ({
      kind: 'ipPhone' as const,
      user: labUsers.ipPhone(ext),
      tone: labTone('ipPhone', i),
      auth: labPasswords.ipPhone(ext),
    })),
    ...(options.mobiles ?? []).map((n, i) => ({
      kind: 'mobile' as const,
      user: labUsers.mobile(mobilePrefix, n),
      tone: labTone('mobile', i),
    })),
  ];
  // Queues, softphones and survey IVRs stay JsSIP bots, with a password (customers too on request).
  const jssipPlan: {
    kind: 'customer' | 'queue' | 'softphone' | 'survey';
    user: string;
    password: string;
    index: number;
  }[] = [
    ...(customerBots ? customerNumbers : []).map((user, index) => ({
      kind: 'customer' as const,
      user,
      password: labPasswords.customer(user),
      index,
    })),
    ...(options.queues ?? []).map((id, index) => ({
      kind: 'queue' as const,
      user: labUsers.queue(id),
      password: labPasswords.queue(id),
      index,
    })),
    ...(options.softphones ?? []).map((ext, index) => ({
      kind: 'softphone' as const,
      user: labUsers.softphone(ext),
      password: labPasswords.softphone(ext),
      index,
    })),
    ...(options.surveys ?? []).map((id, index) => ({
      kind: 'survey' as const,
      user: labUsers.survey(id),
      password: labPasswords.survey(id),
      index,
    })),
  ];
  const queues = jssipPlan.map(
    ({ kind, user, password, index }) =>
      new Bot({
        pbx,
        user,
        kind,
        logger,
        password,
        behaviour: { tone: labTone(kind, index), ...options.behaviours?.[kind] },
      }),
  );
  const phones: LabPhone[] = [];
  const lab = new RunningLab('field', pbx, rtpengine, turn, mobilePrefix, queues, phones);
  const started = await Promise.allSettled([
    ...queues.map((bot) => bot.start()),
    ...phonePlan.map(async ({ kind, user, tone, auth }) => {
      const phone = await BaresipPhone.start({
        user,
        domain: pbx.sipDomain,
        proxy: { host: pbx.host, port: auth === undefined ? trunkPort : pbx.udpPort },
        ...(auth === undefined ? {} : { authUser: user, password: auth }),
        tone,
        logger,
      });
      phones.push({ kind, user, tone, phone });
    }),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await lab.close();
    throw failed.reason;
  }
  return lab;
}

class RunningLab implements Lab {
  private closing: Promise<void> | undefined;

  constructor(
    readonly profile: LabProfile,
    readonly pbx: Kamailio,
    readonly rtpengine: Rtpengine | undefined,
    readonly turn: Coturn | undefined,
    readonly mobilePrefix: string,
    readonly bots: readonly Bot[],
    readonly phones: LabPhone[],
  ) {}

  phone(user: string): LabPhone {
    const phone = this.phones.find((p) => p.user === user);
    if (!phone)
      throw new Error(
        `no lab phone registers as '${user}' (known: ${this.phones.map((p) => p.user).join(', ')})`,
      );
    return phone;
  }

  get customers(): readonly Bot[] {
    return this.bots.filter((b) => b.kind === 'customer');
  }

  get ipPhones(): readonly Bot[] {
    return this.bots.filter((b) => b.kind === 'ipPhone');
  }

  get mobiles(): readonly Bot[] {
    return this.bots.filter((b) => b.kind === 'mobile');
  }

  get queues(): readonly Bot[] {
    return this.bots.filter((b) => b.kind === 'queue');
  }

  bot(user: string): Bot {
    const bot = this.bots.find((b) => b.user === user);
    if (!bot)
      throw new Error(
        `no lab bot registers as '${user}' (known: ${this.bots.map((b) => b.user).join(', ')})`,
      );
    return bot;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.bots.map((bot) => bot.close()), ...this.phones.map((p) => p.phone.close())]);
      await this.pbx.stop();
      await this.rtpengine?.stop();
      await this.turn?.stop();
    })();
    return this.closing;
  }
}
