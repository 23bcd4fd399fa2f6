import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented API key with the domain's keys. */
export function apiKeyMatches(keys: readonly string[], presented: string): boolean {
  const candidate = digest(presented);
  let match = false;
  for (const key of keys) match = timingSafeEqual(digest(key), candidate) || match;
  return match;
}
