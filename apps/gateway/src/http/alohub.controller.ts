import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Logger,
  Param,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CallgateError } from '@callgate/contracts';
import { parseCommand } from '@callgate/call-core';
import { type AgentConfig, FailureLimiter, SessionTokens } from '@callgate/auth';
import { AgentService } from '../agent/agent.service.js';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { apiKeyMatches } from './api-key.js';
import { clickToCall } from './click-to-call.js';

/** An answer in the shape of Alohub's API: `success` is the string `'1'` or `'0'`. */
export type AlohubAnswer =
  ({ success: '1' } & Record<string, unknown>) | { success: '0'; error_code: string; error_message: string };

/** Failed password sign-ins allowed per agent, then per client address, in one window. */
export const LOGIN_LIMITS = {
  perAgent: 5,
  perAddress: 30,
  windowMs: 15 * 60_000,
} as const;

/**
 * callgate's codes as Alohub's make-call error codes (the seed's table); codes it has no
 * equivalent for go through as they are.
 */
const VENDOR_CODES: Readonly<Record<string, string>> = {
  DEVICE_NOT_AVAILABLE: 'IPCC_NOT_CONNECT_AGENT_ID',
  NOT_VOICE_HOLDER: 'IPCC_NOT_CONNECT_AGENT_ID',
  INSTANCE_UNREACHABLE: 'ERROR_CALLOUT_CONNECT',
  COORDINATION_UNAVAILABLE: 'ERROR_CALLOUT_CONNECT',
  INTERNAL_ERROR: 'ERROR_CALLOUT_CONNECT',
};

/** The vendor's no-op stand-in for `jssip-3.10.x.min.js`: callgate's sipjs.js bundles its own JsSIP. */
const JSSIP_NOOP =
  '/* callgate: JsSIP is bundled in sipjs.js; this file is kept so pages need not change */\n';

/** SIP passwords shorter than this are reported at boot for domains with password sign-in on. */
const MIN_SIP_PASSWORD = 8;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** `value` when it is a non-empty string (trimmed), else undefined. */
function text(value: unknown, max = 256): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const s = String(value).trim();
  return s === '' || s.length > max ? undefined : s;
}

/** The user part of `sip:<user>@<host>` (or a bare user), and the host when there is one. */
export function parseIdentity(value: string | undefined): { user?: string; host?: string } {
  if (!value) return {};
  const match = /^(?:sips?:)?([^@\s:;]+)(?:@([^\s;>]+))?/i.exec(value.replace(/^<|>$/g, ''));
  if (!match?.[1]) return {};
  return { user: match[1], ...(match[2] ? { host: match[2].replace(/:\d+$/, '') } : {}) };
}

/**
 * Alohub JS-PHONE on callgate: the vendor's script names (`sipjs.js` under any folder, a no-op
 * `jssip*.min.js`), the widget's password login and the REST "make call" in the vendor's shape.
 * Kept apart from EmbedController (the 3C files) on purpose.
 */
@Controller()
export class AlohubController {
  private readonly logger = new Logger('Alohub');
  private readonly sessions: SessionTokens;
  private readonly perAgent = new FailureLimiter({
    limit: LOGIN_LIMITS.perAgent,
    windowMs: LOGIN_LIMITS.windowMs,
  });
  private readonly perAddress = new FailureLimiter({
    limit: LOGIN_LIMITS.perAddress,
    windowMs: LOGIN_LIMITS.windowMs,
  });

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly agents: AgentService,
  ) {
    this.sessions = new SessionTokens(config.sessionSecret, config.sessionTtlSeconds);
    this.reportPasswordSignIn();
  }

  /** At boot: which domains let JS-PHONE pages sign in with SIP passwords, and which of those are short. */
  private reportPasswordSignIn(): void {
    const domains = this.config.domains;
    const open = domains.domainNames().filter((name) => domains.domain(name).jsPhonePasswordLogin);
    if (open.length === 0) return;
    this.logger.log(
      `JS-PHONE password sign-in (POST /alohub/{domain}/login) is on for: ${open.join(', ')} (jsPhonePasswordLogin: false turns it off)`,
    );
    for (const name of open) {
      const short = domains.agents(name).filter((agent) => agent.sip.password.length < MIN_SIP_PASSWORD);
      if (short.length > 0) {
        this.logger.warn(
          `domain ${name}: ${short.length} agent(s) (${short
            .slice(0, 5)
            .map((a) => a.ipphone)
            .join(
              ', ',
            )}${short.length > 5 ? ', …' : ''}) have a SIP password shorter than ${MIN_SIP_PASSWORD} characters, which pages can now try to guess (rate-limited)`,
        );
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // scripts

  /** The widget, at the vendor's name, wherever the page kept the vendor's files. */
  @Get(['sipjs.js', '*folder/sipjs.js'])
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'no-cache')
  async widget(@Req() req: Request, @Res() res: Response): Promise<void> {
    let code: string;
    try {
      code = await readFile(join(this.config.embedDir, 'sipjs.js'), 'utf8');
    } catch (err) {
      this.logger.warn(`sipjs.js cannot be read: ${(err as Error).message}`);
      res.status(404).json({ code: 'NOT_FOUND', message: 'sipjs.js is not built: run npm run build' });
      return;
    }
    // the path the gateway saw: the script removes it from its own URL to find the gateway,
    // which keeps working behind a proxy that mounts callgate under a prefix
    const served = JSON.stringify(req.path).replace(/</g, '\\u003c');
    res.type('text/javascript; charset=utf-8');
    res.send(
      `document.currentScript&&document.currentScript.setAttribute("data-callgate-path",${served});\n${code}`,
    );
  }

  @Get(['jssip.min.js', '*folder/jssip.min.js', 'jssip-:version.min.js', '*folder/jssip-:version.min.js'])
  @Header('Access-Control-Allow-Origin', '*')
  @Header('Cache-Control', 'public, max-age=86400')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  jssip(): string {
    return JSSIP_NOOP;
  }

  // ------------------------------------------------------------------------------------------
  // login

  /**
   * The widget's sign-in with the agent's extension and SIP password:
   * `{impi?, impu?, password, realm?}` → `{success: '1', token, domain, ipphone, name, expiresAt}`.
   */
  @Post('alohub/:domain/login')
  @HttpCode(200)
  login(@Param('domain') domain: string, @Body() body: unknown, @Req() req: Request): Promise<AlohubAnswer> {
    return this.answer(() => this.signIn(domain, body, req.ip ?? 'unknown'));
  }

  /** The same, the domain found from the realm (or the host of `impu`): the domain whose PBX it is. */
  @Post('alohub/login')
  @HttpCode(200)
  loginByRealm(@Body() body: unknown, @Req() req: Request): Promise<AlohubAnswer> {
    return this.answer(() => {
      const b = record(body);
      const realm = text(b.realm) ?? parseIdentity(text(b.impu)).host;
      if (!realm)
        throw new CallgateError('INVALID_REQUEST', 'give the realm, or the endpoint of your domain');
      const matches = this.config.domains
        .domainNames()
        .filter(
          (name) => this.config.domains.domain(name).pbx.sipDomain.toLowerCase() === realm.toLowerCase(),
        );
      if (matches.length !== 1 || !matches[0]) {
        throw new CallgateError(
          'DOMAIN_NOT_FOUND',
          matches.length === 0
            ? `no domain has the realm ${JSON.stringify(realm.slice(0, 64))}`
            : 'several domains share this realm: give the endpoint (/alohub/{domain}/makeCall)',
        );
      }
      return this.signIn(matches[0], body, req.ip ?? 'unknown');
    });
  }

  private async signIn(domainName: string, body: unknown, address: string): Promise<AlohubAnswer> {
    const domain = this.config.domains.domain(domainName);
    if (!domain.jsPhonePasswordLogin) {
      throw new VendorError('LOGIN_DISABLED', 'sign-in with the SIP password is turned off for this domain');
    }
    const b = record(body);
    const extension = text(b.impi, 64) ?? parseIdentity(text(b.impu)).user;
    const password = typeof b.password === 'string' && b.password.length <= 256 ? b.password : undefined;
    if (!extension || !password) {
      throw new CallgateError('INVALID_REQUEST', 'give the extension (impi or impu) and the password');
    }
    const agent = this.findAgent(domainName, extension);
    // one key per agent however it is named (SIP user or ipphone); unknown names each their own
    const agentKey = agent ? `${domainName}/${agent.ipphone}` : `${domainName}/?${JSON.stringify(extension)}`;
    const now = Date.now();
    for (const [limiter, key] of [
      [this.perAgent, agentKey],
      [this.perAddress, address],
    ] as const) {
      const verdict = limiter.check(key, now);
      if (verdict.blocked) {
        this.logger.warn(`sign-in of ${agentKey} from ${address} refused: too many failures`);
        throw new VendorError(
          'RATE_LIMITED',
          `Too many failed sign-ins; try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s`,
        );
      }
    }
    // compared even for an unknown extension, so both take the same time
    const expected = digest(agent?.sip.password ?? `\0unknown\0${extension}`);
    if (!timingSafeEqual(expected, digest(password)) || !agent) {
      this.perAgent.fail(agentKey, now);
      this.perAddress.fail(address, now);
      this.logger.warn(`sign-in of ${agentKey} from ${address} refused: wrong extension or password`);
      throw new VendorError('AUTHENTICATION_FAILED', 'Authentication Error');
    }
    this.perAgent.reset(agentKey);
    const session = await this.sessions.issue({ domain: domainName, ipphone: agent.ipphone });
    this.logger.log(`sign-in of ${domainName}/${agent.ipphone} with the SIP password`);
    return {
      success: '1',
      token: session.token,
      domain: domainName,
      ipphone: agent.ipphone,
      name: agent.name,
      expiresAt: session.expiresAt.toISOString(),
    };
  }

  /** The agent whose SIP user, or else whose ipphone, is `extension`. */
  private findAgent(domain: string, extension: string): AgentConfig | undefined {
    const agents = this.config.domains.agents(domain);
    return agents.find((a) => a.sip.user === extension) ?? agents.find((a) => a.ipphone === extension);
  }

  // ------------------------------------------------------------------------------------------
  // make call

  /**
   * Alohub's REST "make call": `Authorization: <api key>` (raw, as the vendor's; `Bearer` also
   * accepted), `{phoneNumber, ipPhone, transactionId}`; the same `call.dial` as REST and tabs.
   */
  @Post('alohub/:domain/makeCall')
  @HttpCode(200)
  makeCall(@Param('domain') domainName: string, @Body() body: unknown, @Req() req: Request) {
    return this.answer(async () => {
      const domain = this.config.domains.domain(domainName);
      const header = (req.headers.authorization ?? '').trim();
      const key = header.replace(/^Bearer\s+/i, '');
      if (key === '' || !apiKeyMatches(domain.apiKeys, key)) {
        throw new CallgateError('UNAUTHORIZED', 'send the domain API key as "Authorization: <apiKey>"');
      }
      const { ipphone, dial } = clickToCall(body);
      const agent = { domain: domainName, ipphone };
      this.agents.agentConfig(agent);
      const parsed = parseCommand('call.dial', dial);
      if (!parsed.ok) throw new CallgateError(parsed.code, parsed.message);
      const result = await this.agents.execute({ agent }, 'call.dial', parsed.value);
      return {
        success: '1' as const,
        message: 'OK',
        ...result,
        ...(parsed.value.transactionId === undefined ? {} : { transactionId: parsed.value.transactionId }),
      };
    });
  }

  /** Runs `op`; a refusal becomes `{success: '0', error_code, error_message}`. */
  private async answer(op: () => AlohubAnswer | Promise<AlohubAnswer>): Promise<AlohubAnswer> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof VendorError) return fail(err.code, err.message);
      if (err instanceof CallgateError) return fail(VENDOR_CODES[err.code] ?? err.code, err.message);
      this.logger.error(
        `alohub request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      return fail('ERROR_CALLOUT_CONNECT', 'internal error');
    }
  }
}

/** A refusal with a code of the vendor's API that callgate's own codes do not have. */
class VendorError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function fail(code: string, message: string): AlohubAnswer {
  return { success: '0', error_code: code, error_message: message };
}

function record(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}
