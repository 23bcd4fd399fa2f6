/**
 * libs/calls: the gateway's call logic without a framework — server-side lines and calls, the
 * browser-mode call books, transfers — behind three ports (SIP, call events, agent location).
 * No Nest, JsSIP, Redis or Socket.IO imports: apps/gateway composes it with its adapters.
 */
export type * from './ports.js';
