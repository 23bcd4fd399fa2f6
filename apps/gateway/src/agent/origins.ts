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
