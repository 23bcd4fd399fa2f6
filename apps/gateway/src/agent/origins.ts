/** True when a browser origin may use a domain: listed, or the domain allows "*". No origin (a server) is allowed. */
export function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  if (origin === undefined) return true;
  return allowed.includes('*') || allowed.includes(origin);
}

/** True when some domain allows the origin (used for CORS before the domain is known). */
export function originAllowedByAnyDomain(
  domains: { domainNames(): readonly string[]; domain(name: string): { allowedOrigins: readonly string[] } },
  origin: string,
): boolean {
  return domains.domainNames().some((name) => originAllowed(domains.domain(name).allowedOrigins, origin));
}

/** The domain an HTTP path is about: `/v1/{domain}/…` and `/{domain}/thirdParty/login`, else undefined. */
export function domainOfPath(path: string): string | undefined {
  const parts =
    path
      .split('?')[0]
      ?.split('/')
      .filter((p) => p !== '') ?? [];
  if (parts[0] === 'v1' && parts[1] !== undefined) return decodeURIComponent(parts[1]);
  if (parts[1] === 'thirdParty' && parts[0] !== undefined) return decodeURIComponent(parts[0]);
  return undefined;
}

/**
 * CORS for one request: a route of a domain answers only that domain's origins (one domain's
 * "*" opens no other domain); a route of no domain (the embed script, health) any domain's.
 */
export function originAllowedForPath(
  domains: {
    domainNames(): readonly string[];
    hasDomain(name: string): boolean;
    domain(name: string): { allowedOrigins: readonly string[] };
  },
  path: string,
  origin: string | undefined,
): boolean {
  if (origin === undefined) return true;
  let domain: string | undefined;
  try {
    domain = domainOfPath(path);
  } catch {
    return false; // a malformed %-escape: not a domain of ours
  }
  if (domain === undefined) return originAllowedByAnyDomain(domains, origin);
  return domains.hasDomain(domain) && originAllowed(domains.domain(domain).allowedOrigins, origin);
}
