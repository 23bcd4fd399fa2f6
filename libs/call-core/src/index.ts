export * from './numbers.js';
export * from './commands.js';
export * from './call.js';
export * from './transfer.js';
export * from './untrusted.js';
export * from './dial-policy.js';
