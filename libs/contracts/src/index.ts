/**
 * callgate contracts: the one event map, command map and error-code list shared by
 * the gateway, the embed SDK and the tests. Isomorphic and dependency-free.
 */
export * from './errors.js';
export * from './events.js';
export * from './commands.js';
export * from './socket.js';
export * from './event-id.js';
