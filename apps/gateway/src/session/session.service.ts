import { Inject, Injectable, Logger } from '@nestjs/common';
import { decodeProtectedHeader } from 'jose';
import { CallgateError, type LoginResponse } from '@callgate/contracts';
import { SESSION_TOKEN_TYPE, SessionTokens, tokenDigest, verifyCrmToken } from '@callgate/auth';
import type { AgentRef, Coordination } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { COORDINATION, GATEWAY_CONFIG } from '../tokens.js';

const MAX_TOKEN_LENGTH = 8 * 1024;

/**
 * Login (3C `thirdParty/login`) and the authentication of tabs: a gateway session token, or a
 * CRM token that went through login and has not expired.
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
    const domain = this.config.domains.domain(domainName);
    if (typeof token !== 'string' || token.length === 0) {
      throw new CallgateError('INVALID_REQUEST', 'the body must carry a "token" field with the CRM JWT');
    }
    if (token.length > MAX_TOKEN_LENGTH) throw new CallgateError('INVALID_TOKEN', 'the token is too long');
    const claims = await verifyCrmToken(token, domain);
    const agent = this.config.domains.agent(domainName, claims.ipphone);
    const session = await this.sessions.issue({
      domain: domainName,
      ipphone: claims.ipphone,
      notAfter: claims.expiresAt,
    });
    const ttlMs = claims.expiresAt.getTime() - Date.now();
    try {
      await this.coordination.logins.remember(domainName, tokenDigest(token), ttlMs);
    } catch (err) {
      this.logger.warn(
        `login of ${domainName}/${claims.ipphone}: coordination store failed: ${(err as Error).message}`,
      );
      throw new CallgateError('COORDINATION_UNAVAILABLE', 'the coordination store is unavailable; try again');
    }
    this.logger.log(`login ${domainName}/${claims.ipphone} until ${session.expiresAt.toISOString()}`);
    return {
      code: 'ok',
      user: {
        user_id: `${domainName}/${claims.ipphone}`,
        token: session.token,
        ipphone: claims.ipphone,
        domain: domainName,
        name: agent.name,
        expiresAt: session.expiresAt.toISOString(),
      },
    };
  }

  /** Who a tab's handshake token belongs to, and a session token it can reconnect with. */
  async authenticate(domainName: string, token: string): Promise<{ agent: AgentRef; sessionToken: string }> {
    const domain = this.config.domains.domain(domainName);
    if (token.length > MAX_TOKEN_LENGTH) throw new CallgateError('INVALID_TOKEN', 'the token is too long');
    if (isSessionToken(token)) {
      const session = await this.sessions.verify(token);
      if (session.domain !== domainName) {
        throw new CallgateError('INVALID_TOKEN', `this session token is not for domain ${domainName}`);
      }
      this.config.domains.agent(domainName, session.ipphone);
      return { agent: { domain: domainName, ipphone: session.ipphone }, sessionToken: token };
    }
    const claims = await verifyCrmToken(token, domain);
    this.config.domains.agent(domainName, claims.ipphone);
    const remembered = await this.coordination.logins
      .isRemembered(domainName, tokenDigest(token))
      .catch((err: Error) => {
        this.logger.warn(`tab auth: coordination store failed: ${err.message}`);
        throw new CallgateError(
          'COORDINATION_UNAVAILABLE',
          'the coordination store is unavailable; try again',
        );
      });
    if (!remembered) {
      throw new CallgateError(
        'NOT_LOGGED_IN',
        'this CRM token has not been logged in (POST /{domain}/thirdParty/login)',
      );
    }
    const session = await this.sessions.issue({
      domain: domainName,
      ipphone: claims.ipphone,
      notAfter: claims.expiresAt,
    });
    return { agent: { domain: domainName, ipphone: claims.ipphone }, sessionToken: session.token };
  }
}

function isSessionToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === SESSION_TOKEN_TYPE;
  } catch {
    // Not even a JWT header: let the CRM-token path produce INVALID_TOKEN with its message.
    return false;
  }
}
