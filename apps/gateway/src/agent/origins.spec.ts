import { domainOfPath, originAllowedForPath } from './origins.js';

const domains = {
  names: { open: ['*'], strict: ['http://crm.strict.test'] } as Record<string, readonly string[]>,
  domainNames() {
    return Object.keys(this.names);
  },
  hasDomain(name: string) {
    return name in this.names;
  },
  domain(name: string) {
    return { allowedOrigins: this.names[name] ?? [] };
  },
};

describe('CORS per domain', () => {
  it('finds the domain of REST and login paths', () => {
    expect(domainOfPath('/v1/strict/agents?x=1')).toBe('strict');
    expect(domainOfPath('/strict/thirdParty/login')).toBe('strict');
    expect(domainOfPath('/embed/callgate.js')).toBeUndefined();
  });

  it('one domain’s "*" does not open another domain', () => {
    expect(originAllowedForPath(domains, '/v1/strict/agents', 'http://evil.test')).toBe(false);
    expect(originAllowedForPath(domains, '/strict/thirdParty/login', 'http://evil.test')).toBe(false);
    expect(originAllowedForPath(domains, '/v1/strict/agents', 'http://crm.strict.test')).toBe(true);
    expect(originAllowedForPath(domains, '/v1/open/agents', 'http://evil.test')).toBe(true);
    expect(originAllowedForPath(domains, '/v1/nope/agents', 'http://crm.strict.test')).toBe(false);
    expect(originAllowedForPath(domains, '/v1/%E0%A4%A/agents', 'http://crm.strict.test')).toBe(false);
  });

  it('routes of no domain follow any domain, and servers (no origin) pass', () => {
    expect(originAllowedForPath(domains, '/embed/callgate.js', 'http://evil.test')).toBe(true);
    expect(originAllowedForPath(domains, '/v1/strict/agents', undefined)).toBe(true);
  });
});
