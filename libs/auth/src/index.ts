/**
 * callgate auth: the domains file and its registry, CRM login tokens (3C compatible) and the
 * gateway's session tokens. Free of Nest, Redis and Socket.IO.
 */
export * from './domains.js';
export * from './local-time.js';
export { MAX_TOKEN_LENGTH, SESSION_TOKEN_TYPE } from './jwt-common.js';
export * from './crm-token.js';
export { CLOCK_SKEW_SECONDS, parseExpiredClaim } from './expired-claim.js';
export * from './session-token.js';
export * from './token-lifetime.js';
export * from './failure-limiter.js';
export * from './sip-ephemeral.js';
