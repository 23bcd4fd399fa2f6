import { Inject, Injectable, Logger } from '@nestjs/common';
import { decodeProtectedHeader } from 'jose';
import { CallgateError, type LoginResponse } from '@callgate/contracts';
import { authenticateCrmLogin, MAX_TOKEN_LENGTH, SESSION_TOKEN_TYPE, SessionTokens } from '@callgate/auth';
import type { AgentRef, Coordination } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { COORDINATION, GATEWAY_CONFIG } from '../tokens.js';

/**
 * Login (3C `thirdParty/login`) and the authentication of tabs: a gateway session token, or a
 * valid CRM token (as 3C's `csInit` takes it, with or without a login before).
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger(SessionService.name);
  private readonly sessions: SessionTokens;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(COORDINATION) private readonly coordination: Coordination,
  ) {
    this.sessions = new SessionTokens(config.sessionSecret, config.sessionTtlSeconds);
  }

  async login(domainName: string, token: unknown): Promise<LoginResponse> {
    this.config.domains.domain(domainName);
    if (typeof token !== 'string' || token.length === 0) {
      throw new CallgateError('INVALID_REQUEST', 'the body must carry a "token" field with the CRM JWT');
    }
    const { agent, expiresAt, issuedAt } = await this.verifyCrm(domainName, token);
    await this.refuseRevoked({ domain: domainName, ipphone: agent.ipphone }, issuedAt, 'NOT_LOGGED_IN');
    const session = await this.sessions.issue({
      domain: domainName,
      ipphone: agent.ipphone,
      notAfter: expiresAt,
    });
    this.logger.log(`login ${domainName}/${agent.ipphone} until ${session.expiresAt.toISOString()}`);
    return {
      code: 'ok',
      user: {
        user_id: `${domainName}/${agent.ipphone}`,
        token: session.token,
        ipphone: agent.ipphone,
        domain: domainName,
        name: agent.name,
        expiresAt: session.expiresAt.toISOString(),
      },
    };
  }

  /** Who a tab's handshake token belongs to, and a session token it can reconnect with. */
  async authenticate(
    domainName: string,
    token: string,
  ): Promise<{ agent: AgentRef; sessionToken: string; expiresAt: Date }> {
    this.config.domains.domain(domainName);
    if (isSessionToken(token)) {
      const session = await this.sessions.verify(token);
      if (session.domain !== domainName) {
        throw new CallgateError('INVALID_TOKEN', `this session token is not for domain ${domainName}`);
      }
      this.config.domains.agent(domainName, session.ipphone);
      const agent = { domain: domainName, ipphone: session.ipphone };
      await this.refuseRevoked(agent, session.issuedAtMs, 'SESSION_EXPIRED');
      return { agent, sessionToken: token, expiresAt: session.expiresAt };
    }
    // 3C pages pass the CRM's own JWT to csInit on every page load, logged in or not: it is
    // verified here exactly as the login verifies it (signature with the domain's key, expiry).
    const { agent, expiresAt, issuedAt } = await this.verifyCrm(domainName, token);
    await this.refuseRevoked({ domain: domainName, ipphone: agent.ipphone }, issuedAt, 'NOT_LOGGED_IN');
    const session = await this.sessions.issue({
      domain: domainName,
      ipphone: agent.ipphone,
      notAfter: expiresAt,
    });
    return {
      agent: { domain: domainName, ipphone: agent.ipphone },
      sessionToken: session.token,
      expiresAt: session.expiresAt,
    };
  }

  /**
   * `session.logout`: every session and CRM login of the agent issued until now is void, on every
   * instance (the store remembers when, for as long as a session can live). The caller closes the
   * agent's open tabs.
   */
  async logout(agent: AgentRef): Promise<void> {
    await this.store(`logout of ${agent.domain}/${agent.ipphone}`, () =>
      this.coordination.logins.revoke(agent, Date.now(), this.revocationTtlMs(agent)),
    );
    this.logger.log(`logout ${agent.domain}/${agent.ipphone}: its sessions are revoked everywhere`);
  }

  /** A session or login from before the agent's last logout is refused (`issuedAt` unknown: refused too). */
  private async refuseRevoked(
    agent: AgentRef,
    issuedAt: number | undefined,
    code: 'SESSION_EXPIRED' | 'NOT_LOGGED_IN',
  ): Promise<void> {
    const revokedAt = await this.store(`revocation of ${agent.domain}/${agent.ipphone}`, () =>
      this.coordination.logins.revokedAt(agent),
    );
    if (revokedAt !== undefined && (issuedAt === undefined || issuedAt <= revokedAt)) {
      throw new CallgateError(
        code,
        code === 'SESSION_EXPIRED'
          ? 'this session was ended by a logout'
          : 'this CRM token was issued before the agent logged out; sign a new one',
      );
    }
  }

  /** As long as anything issued before a logout could still be presented. */
  private revocationTtlMs(agent: AgentRef): number {
    const domain = this.config.domains.domain(agent.domain);
    const seconds = Math.max(this.config.sessionTtlSeconds, domain.maxTokenLifetimeSeconds) + 120;
    return seconds * 1000;
  }

  private verifyCrm(domainName: string, token: string): ReturnType<typeof authenticateCrmLogin> {
    if (token.length > MAX_TOKEN_LENGTH) throw new CallgateError('INVALID_TOKEN', 'the token is too long');
    return authenticateCrmLogin(this.config.domains, domainName, token);
  }

  private async store<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      this.logger.warn(`${what}: coordination store failed: ${(err as Error).message}`);
      throw new CallgateError('COORDINATION_UNAVAILABLE', 'the coordination store is unavailable; try again');
    }
  }
}

function isSessionToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === SESSION_TOKEN_TYPE;
  } catch {
    // Not even a JWT header: the CRM-token path answers INVALID_TOKEN with its reason.
    return false;
  }
}
