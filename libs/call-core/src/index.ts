export * from './numbers.js';
export * from './commands.js';
