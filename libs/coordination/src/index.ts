export * from './types.js';
export { createCoordination } from './create.js';
