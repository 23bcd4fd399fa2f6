export * from './types.js';
export { createCoordination } from './create.js';
export { StaleLeaseError } from './common.js';
export { MemoryBackend } from './memory.js';
export { preferredInstance } from './placement.js';
export type { Reservation, StoredTransfer, TransferStore } from './transfer-store.js';
