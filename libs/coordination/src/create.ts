import { createMemoryCoordination } from './memory.js';
import { createRedisCoordination } from './redis.js';
import type { Coordination, CoordinationOptions } from './types.js';

/**
 * The coordination store: Redis when `redisUrl` is set (resolves once connected, rejects with
 * `COORDINATION_UNAVAILABLE` when Redis cannot be reached), otherwise in memory (pass the same
 * `memoryBackend` to several instances to have them share state). Rejects with a RangeError on
 * invalid options.
 */
export function createCoordination(options: CoordinationOptions): Promise<Coordination> {
  const { redisUrl } = options;
  if (redisUrl !== undefined && redisUrl !== '') return createRedisCoordination({ ...options, redisUrl });
  try {
    return Promise.resolve(createMemoryCoordination(options));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
