import { readFileSync } from 'node:fs';
import { CallgateError } from '@callgate/contracts';
import {
  ConfigError,
  DomainRegistry,
  MOBILE_NUMBER_PATTERN,
  parseDomainsFile,
  validateDomainsFile,
  weakAccessKeyWarnings,
  type DomainsFile,
} from './domains.js';

const GOOD = `
domains:
  acme:
    accessKey: "acme-access-key-0123456789abcdef0123"
    apiKeys: ["acme-api-key-0123456789"]
    allowedOrigins: ["http://localhost:3000", "https://crm.acme.example"]
    timezone: Asia/Ho_Chi_Minh
    pbx: { wsUri: "wss://pbx.acme.example:8089/ws", sipDomain: pbx.acme.example, mobilePrefix: "" }
    queues: { "1": "sip:queue1@pbx.acme.example" }
    agents:
      "5000":
        name: "Agent 5000"
        sip: { user: "5000", password: "secret" }
        devices: { ipPhone: "sip:5000-desk@pbx.acme.example", mobile: "+84930000000" }
        defaultDevice: 4
      "5001":
        name: "Agent 5001"
        sip: { user: "5001", password: "secret" }
        defaultDevice: 1
        canCallOut: false
`;

/** The problems a bad file is refused with, one `path: reason` per line, without the source. */
function problemsOf(yamlText: string): string[] {
  try {
    parseDomainsFile(yamlText, 'config/test.yaml');
  } catch (error) {
    if (error instanceof ConfigError) {
      expect(error.source).toBe('config/test.yaml');
      for (const line of error.message.split('\n')) expect(line.startsWith('config/test.yaml: ')).toBe(true);
      return [...error.problems];
    }
    throw error;
  }
  throw new Error('the file was accepted');
}

/** GOOD with one line replaced. */
function goodWith(search: string, replacement: string): string {
  expect(GOOD).toContain(search);
  return GOOD.replace(search, replacement);
}

function refusalOf(action: () => unknown): CallgateError {
  try {
    action();
  } catch (error) {
    if (error instanceof CallgateError) return error;
    throw error;
  }
  throw new Error('nothing was refused');
}

describe('parseDomainsFile()', () => {
  it('reads a good file, with defaults for tokenLifetimeSeconds, canCallOut and devices', () => {
    const file = parseDomainsFile(GOOD, 'config/test.yaml');
    const acme = file.domains['acme'];
    expect(acme).toMatchObject({
      name: 'acme',
      timezone: 'Asia/Ho_Chi_Minh',
      tokenLifetimeSeconds: 86_400,
      pbx: { wsUri: 'wss://pbx.acme.example:8089/ws', sipDomain: 'pbx.acme.example', mobilePrefix: '' },
    });
    expect(acme?.agents['5000']).toEqual({
      ipphone: '5000',
      name: 'Agent 5000',
      sip: { user: '5000', password: 'secret' },
      devices: { ipPhone: 'sip:5000-desk@pbx.acme.example', mobile: '+84930000000' },
      defaultDevice: 4,
      canCallOut: true,
      allowedDevices: [1, 2, 3, 4],
    });
    expect(acme?.agents['5001']).toMatchObject({ devices: {}, defaultDevice: 1, canCallOut: false });
  });

  it('returns a frozen model whose records have no prototype', () => {
    const file = parseDomainsFile(GOOD, 'config/test.yaml');
    const acme = file.domains['acme'];
    expect(Object.isFrozen(file.domains)).toBe(true);
    expect(Object.isFrozen(acme)).toBe(true);
    expect(Object.isFrozen(acme?.agents['5000']?.sip)).toBe(true);
    expect(Object.isFrozen(acme?.apiKeys)).toBe(true);
    expect(acme?.queues['constructor']).toBeUndefined();
    expect(acme?.agents['toString']).toBeUndefined();
  });

  it('parses config/demo.yaml', () => {
    const url = new URL('../../../config/demo.yaml', import.meta.url);
    const file = parseDomainsFile(readFileSync(url, 'utf8'), 'config/demo.yaml');
    const registry = new DomainRegistry(file);
    expect(registry.domainNames()).toEqual(['demo']);
    expect(registry.agentIds('demo')).toEqual(['5000', '5001', '5002', '5003', '5004']);
    const demo = registry.domain('demo');
    expect(demo).toMatchObject({
      apiKeys: ['demo-api-key-change-me-0123456789'],
      allowedOrigins: ['*'],
      timezone: 'Asia/Ho_Chi_Minh',
      pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: '127.0.0.1', mobilePrefix: '9' },
      queues: { '1': 'sip:queue1@127.0.0.1' },
    });
    expect(demo.accessKey).toMatch(/demo/);
    for (const ipphone of registry.agentIds('demo')) {
      expect(registry.agent('demo', ipphone).sip).toEqual({ user: ipphone, password: `demo-${ipphone}` });
    }
    expect(registry.agents('demo').map((a) => [a.ipphone, a.defaultDevice, a.canCallOut])).toEqual([
      ['5000', 1, true],
      ['5001', 1, true],
      ['5002', 1, false],
      ['5003', 4, true],
      ['5004', 3, true],
    ]);
    expect(registry.agent('demo', '5003').devices.ipPhone).toBe('sip:5003-desk@127.0.0.1');
    expect(registry.agent('demo', '5004').devices.mobile).toMatch(MOBILE_NUMBER_PATTERN);
  });

  it.each([
    [
      'accessKey: "acme-access-key-0123456789abcdef0123"',
      'accessKey: "short"',
      'domains.acme.accessKey: must be at least 12 characters',
    ],
    [
      'apiKeys: ["acme-api-key-0123456789"]',
      'apiKeys: ["acme-api-key-0123456789", "short"]',
      'domains.acme.apiKeys[1]: must be at least 16 characters',
    ],
    [
      'apiKeys: ["acme-api-key-0123456789"]',
      'apiKeys: []',
      'domains.acme.apiKeys: must list at least one key',
    ],
    [
      '"https://crm.acme.example"',
      '"https://crm.acme.example/app"',
      'domains.acme.allowedOrigins[1]: must be an origin like http://localhost:3000 (no path), or "*"',
    ],
    [
      '"https://crm.acme.example"',
      '"crm.acme.example"',
      'domains.acme.allowedOrigins[1]: must be an origin like http://localhost:3000 (no path), or "*"',
    ],
    [
      'timezone: Asia/Ho_Chi_Minh',
      'timezone: Asia/Saigon_Typo',
      'domains.acme.timezone: must be an IANA time zone such as Asia/Ho_Chi_Minh',
    ],
    [
      'timezone: Asia/Ho_Chi_Minh',
      'timezone: Asia/Ho_Chi_Minh\n    tokenLifetimeSeconds: 1.5',
      'domains.acme.tokenLifetimeSeconds: must be a whole number of seconds',
    ],
    [
      'wsUri: "wss://pbx.acme.example:8089/ws"',
      'wsUri: "https://pbx.acme.example"',
      'domains.acme.pbx.wsUri: must be a ws:// or wss:// URI',
    ],
    [
      'sipDomain: pbx.acme.example',
      'sipDomain: "pbx acme"',
      'domains.acme.pbx.sipDomain: must be a host name or IP address',
    ],
    ['mobilePrefix: ""', 'mobilePrefix: "9a"', 'domains.acme.pbx.mobilePrefix: must be digits (or "")'],
    [
      'mobilePrefix: ""',
      'mobilePrefix: "", media: relay',
      "domains.acme.pbx.media: must be 'direct' or 'bridge'",
    ],
    [
      'mobilePrefix: ""',
      'mobilePrefix: 9',
      'domains.acme.pbx.mobilePrefix: must be a string, not a number (quote it in YAML, so leading zeros are kept)',
    ],
    [
      '"1": "sip:queue1@pbx.acme.example"',
      '"1": "queue1"',
      'domains.acme.queues.1: must be a SIP URI like sip:user@host',
    ],
    ['name: "Agent 5001"', 'name: ""', 'domains.acme.agents.5001.name: must not be empty'],
    [
      'user: "5001", password: "secret"',
      'user: "5001"',
      'domains.acme.agents.5001.sip.password: is required',
    ],
    [
      'mobile: "+84930000000"',
      'mobile: "0930"',
      "domains.acme.agents.5000.devices.mobile: must be a mobile number: 8 to 15 digits with an optional leading '+'",
    ],
    [
      'ipPhone: "sip:5000-desk@pbx.acme.example"',
      'ipPhone: "5000-desk"',
      'domains.acme.agents.5000.devices.ipPhone: must be a SIP URI like sip:user@host',
    ],
    [
      'ipPhone: "sip:5000-desk@pbx.acme.example"',
      'ipPhone: "sip:5000-desk@pbx.acme.example", ipPhoneAutoAnswer: "yes"',
      'domains.acme.agents.5000.devices.ipPhoneAutoAnswer: must be a boolean, not a string',
    ],
    [
      'defaultDevice: 1',
      'defaultDevice: 5',
      'domains.acme.agents.5001.defaultDevice: must be 1 (browser), 2 (IP phone while logged in), 3 (mobile), 4 (IP phone always) or 6 (softphone)',
    ],
    [
      'canCallOut: false',
      'canCallOut: "no"',
      'domains.acme.agents.5001.canCallOut: must be a boolean, not a string',
    ],
    [
      'canCallOut: false',
      'canCallOut: false\n        callerId: "1"',
      'domains.acme.agents.5001.callerId: is not a known setting',
    ],
    [
      '"5001":',
      '"50@1":',
      `domains.acme.agents["50@1"]: is not a valid ipphone: use 1 to 64 letters, digits, '_', '-' or '.'`,
    ],
    [
      '  acme:',
      '  Acme:',
      "domains.Acme: is not a valid domain name: use lowercase letters, digits, '-' and '_', starting with a letter or digit",
    ],
    [
      '  acme:',
      '  "acme/x":',
      `domains["acme/x"]: is not a valid domain name: use lowercase letters, digits, '-' and '_', starting with a letter or digit`,
    ],
  ])('names the bad value: %s → %s', (search, replacement, problem) => {
    expect(problemsOf(goodWith(search, replacement))).toEqual([problem]);
  });

  it('accepts ipphones such as 401_202 and 12-character access keys, with a boot warning naming the domain', () => {
    const file = parseDomainsFile(
      goodWith('accessKey: "acme-access-key-0123456789abcdef0123"', 'accessKey: "Ab3dEf6hIj9kLm"').replace(
        '"5001":',
        '"401_202":',
      ),
      'test.yaml',
    );
    expect(Object.keys(file.domains.acme?.agents ?? {})).toContain('401_202');
    const warnings = weakAccessKeyWarnings(file);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^test\.yaml: domain acme: its accessKey has 14 characters/);
    expect(warnings[0]).not.toContain('Ab3dEf6hIj9kLm');
  });

  it('reads pbx.media, absent by default', () => {
    expect(parseDomainsFile(GOOD, 'config/test.yaml').domains['acme']?.pbx).not.toHaveProperty('media');
    const file = parseDomainsFile(
      goodWith('mobilePrefix: ""', 'mobilePrefix: "", media: direct'),
      'config/test.yaml',
    );
    expect(file.domains['acme']?.pbx).toMatchObject({ media: 'direct' });
  });

  it('reads transferRequestTimeoutSeconds (1 to 600), absent by default', () => {
    const registry = new DomainRegistry(
      parseDomainsFile(
        goodWith(
          'timezone: Asia/Ho_Chi_Minh',
          'timezone: Asia/Ho_Chi_Minh\n    transferRequestTimeoutSeconds: 15',
        ),
        't',
      ),
    );
    expect(registry.domain('acme').transferRequestTimeoutSeconds).toBe(15);
    expect(
      new DomainRegistry(parseDomainsFile(GOOD, 't')).domain('acme').transferRequestTimeoutSeconds,
    ).toBeUndefined();
    expect(
      problemsOf(
        goodWith(
          'timezone: Asia/Ho_Chi_Minh',
          'timezone: Asia/Ho_Chi_Minh\n    transferRequestTimeoutSeconds: 0',
        ),
      ),
    ).toEqual(['domains.acme.transferRequestTimeoutSeconds: must be 1 to 600 seconds']);
  });

  it('names every bad value at once', () => {
    const text = goodWith('accessKey: "acme-access-key-0123456789abcdef0123"', 'accessKey: "short"').replace(
      'timezone: Asia/Ho_Chi_Minh',
      'timezone: Nowhere/Special',
    );
    expect(problemsOf(text)).toEqual([
      'domains.acme.accessKey: must be at least 12 characters',
      'domains.acme.timezone: must be an IANA time zone such as Asia/Ho_Chi_Minh',
    ]);
  });

  it('requires devices.ipPhone when defaultDevice is 4 or 2', () => {
    const text = goodWith(
      'devices: { ipPhone: "sip:5000-desk@pbx.acme.example", mobile: "+84930000000" }',
      'devices: { mobile: "+84930000000" }',
    );
    expect(problemsOf(text)).toEqual([
      'domains.acme.agents.5000.devices.ipPhone: is required when defaultDevice is 4 (IP phone)',
    ]);
    expect(problemsOf(text.replace('defaultDevice: 4', 'defaultDevice: 2'))).toEqual([
      'domains.acme.agents.5000.devices.ipPhone: is required when defaultDevice is 2 (IP phone)',
    ]);
  });

  it('device 6 (softphone): its own SIP URI, required when 6 is the default or allowed, and allowed by default once set', () => {
    const withSoftphone = goodWith(
      'devices: { ipPhone: "sip:5000-desk@pbx.acme.example", mobile: "+84930000000" }',
      'devices: { ipPhone: "sip:5000-desk@pbx.acme.example", softphone: "sip:5000-sp@pbx.acme.example", mobile: "+84930000000" }',
    ).replace('defaultDevice: 4', 'defaultDevice: 6');
    const agent = parseDomainsFile(withSoftphone, 't.yaml').domains.acme?.agents['5000'];
    expect(agent?.devices.softphone).toBe('sip:5000-sp@pbx.acme.example');
    expect(agent?.defaultDevice).toBe(6);
    expect(agent?.allowedDevices).toEqual([1, 2, 3, 4, 6]);
    // without a softphone, 6 is not among the default allowed devices
    expect(parseDomainsFile(goodWith('', ''), 't.yaml').domains.acme?.agents['5000']?.allowedDevices).toEqual(
      [1, 2, 3, 4],
    );
    expect(problemsOf(goodWith('defaultDevice: 4', 'defaultDevice: 6'))).toEqual([
      'domains.acme.agents.5000.devices.softphone: is required when device type 6 (softphone) is the default or allowed',
    ]);
    expect(
      problemsOf(goodWith('defaultDevice: 4', 'defaultDevice: 4\n        allowedDevices: [4, 6]')),
    ).toEqual([
      'domains.acme.agents.5000.devices.softphone: is required when device type 6 (softphone) is the default or allowed',
    ]);
    expect(
      problemsOf(withSoftphone.replace('softphone: "sip:5000-sp@pbx.acme.example"', 'softphone: "5000 sp"')),
    ).toEqual(['domains.acme.agents.5000.devices.softphone: must be a SIP URI like sip:user@host']);
    expect(problemsOf(goodWith('defaultDevice: 4', 'defaultDevice: 8'))[0]).toMatch(
      /defaultDevice: must be 1 \(browser\)/,
    );
  });

  it('reads survey IVRs (id → SIP URI), none by default; refuses a bad id or URI; survey() names an unknown id', () => {
    const text = GOOD.replace(
      'timezone: Asia/Ho_Chi_Minh',
      'timezone: Asia/Ho_Chi_Minh\n    surveys: { csat: "sip:survey-csat@pbx.acme.example" }',
    );
    const registry = new DomainRegistry(parseDomainsFile(text, 't.yaml'));
    expect(registry.survey('acme', 'csat')).toBe('sip:survey-csat@pbx.acme.example');
    expect(refusalOf(() => registry.survey('acme', 'nps')).code).toBe('UNKNOWN_SURVEY');
    expect(refusalOf(() => registry.survey('acme', '__proto__')).code).toBe('UNKNOWN_SURVEY');
    expect(parseDomainsFile(GOOD, 't.yaml').domains.acme?.surveys).toEqual({});
    expect(problemsOf(text.replace('"sip:survey-csat@pbx.acme.example"', '"survey-csat"'))).toEqual([
      'domains.acme.surveys.csat: must be a SIP URI like sip:user@host',
    ]);
    expect(problemsOf(text.replace('surveys: { csat:', 'surveys: { "c;s":'))).toEqual([
      "domains.acme.surveys[\"c;s\"]: is not a valid survey id: use letters, digits, '-' and '_'",
    ]);
  });

  it('requires devices.mobile when defaultDevice is 3', () => {
    expect(problemsOf(goodWith('defaultDevice: 1', 'defaultDevice: 3'))).toEqual([
      'domains.acme.agents.5001.devices.mobile: is required when defaultDevice is 3 (mobile)',
    ]);
  });

  it('refuses two agents sharing a SIP user', () => {
    expect(problemsOf(goodWith('user: "5001"', 'user: "5000"'))).toEqual([
      'domains.acme.agents.5001.sip.user: is also the SIP user of agent 5000',
    ]);
  });

  it('refuses two domains sharing an access key', () => {
    const second = GOOD.slice(GOOD.indexOf('  acme:')).replace('  acme:', '  other:');
    expect(problemsOf(`${GOOD}${second}`)).toEqual([
      'domains.other.accessKey: is the same as domains.acme.accessKey: every domain needs its own key',
    ]);
  });

  it('refuses a domain or an agent named __proto__ instead of silently dropping it', () => {
    expect(problemsOf(goodWith('  acme:', '  __proto__:'))).toContain(
      'domains.__proto__: is not an allowed name',
    );
    expect(problemsOf(goodWith('"5001":', '"__proto__":'))).toContain(
      'domains.acme.agents.__proto__: is not an allowed name',
    );
    expect(Object.prototype).not.toHaveProperty('accessKey');
  });

  it('refuses a __proto__ key in an object built from JSON', () => {
    const document: unknown = JSON.parse('{"domains": {"__proto__": {"accessKey": "x"}}}');
    expect(() => validateDomainsFile(document, 'inline')).toThrow(
      'inline: domains.__proto__: is not an allowed name',
    );
  });

  it('refuses a file that is empty, not YAML, or defines no domain', () => {
    expect(problemsOf('')).toEqual(['is empty: it must define domains']);
    expect(problemsOf('domains: {}')).toEqual(['domains: must define at least one domain']);
    expect(problemsOf('domains: [1')[0]).toMatch(/^not valid YAML: .*line 1/);
    expect(problemsOf('domains:\n  a: 1\n  a: 2\n')[0]).toMatch(/^not valid YAML: Map keys must be unique/);
    expect(problemsOf('domain: {}')).toEqual(['domains: is required', 'domain: is not a known setting']);
  });

  it('does not echo a mistyped secret in the message', () => {
    expect(
      problemsOf(
        goodWith(
          'password: "secret" }\n        defaultDevice: 1',
          'password: 987654321 }\n        defaultDevice: 1',
        ),
      ),
    ).toEqual([
      'domains.acme.agents.5001.sip.password: must be a string, not a number (quote it in YAML, so leading zeros are kept)',
    ]);
  });
});

describe('MOBILE_NUMBER_PATTERN', () => {
  it('accepts 8 to 15 digits with an optional leading +', () => {
    expect(
      ['0930000000', '+84930000000', '12345678', '123456789012345'].every((n) =>
        MOBILE_NUMBER_PATTERN.test(n),
      ),
    ).toBe(true);
    expect(
      ['1234567', '1234567890123456', '09 3000 0000', '++84930000000', '093000000a', ''].some((n) =>
        MOBILE_NUMBER_PATTERN.test(n),
      ),
    ).toBe(false);
  });
});

describe('DomainRegistry', () => {
  let file: DomainsFile;
  let registry: DomainRegistry;
  beforeAll(() => {
    file = parseDomainsFile(GOOD, 'config/test.yaml');
    registry = new DomainRegistry(file);
  });

  it('finds domains and agents', () => {
    expect(registry.domainNames()).toEqual(['acme']);
    expect(registry.agentIds('acme')).toEqual(['5000', '5001']);
    expect(registry.domain('acme').name).toBe('acme');
    expect(registry.agent('acme', '5001').name).toBe('Agent 5001');
    expect(registry.hasDomain('acme')).toBe(true);
    expect(registry.queue('acme', '1')).toBe('sip:queue1@pbx.acme.example');
    expect(registry.queue('acme', '2')).toBeUndefined();
  });

  it('domain() refuses an unknown domain with DOMAIN_NOT_FOUND', () => {
    expect(refusalOf(() => registry.domain('nope'))).toMatchObject({
      code: 'DOMAIN_NOT_FOUND',
      message: 'unknown domain "nope"',
    });
  });

  it('agent() refuses an unknown agent with AGENT_NOT_FOUND and an unknown domain with DOMAIN_NOT_FOUND', () => {
    expect(refusalOf(() => registry.agent('acme', '5999')).code).toBe('AGENT_NOT_FOUND');
    expect(refusalOf(() => registry.agent('nope', '5000')).code).toBe('DOMAIN_NOT_FOUND');
  });

  it('treats names of Object.prototype members as unknown names', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(registry.hasDomain(name)).toBe(false);
      expect(refusalOf(() => registry.domain(name)).code).toBe('DOMAIN_NOT_FOUND');
      expect(refusalOf(() => registry.agent('acme', name)).code).toBe('AGENT_NOT_FOUND');
      expect(registry.queue('acme', name)).toBeUndefined();
    }
  });

  it('bounds the caller-supplied name it echoes', () => {
    expect(refusalOf(() => registry.domain('x'.repeat(10_000))).message.length).toBeLessThan(100);
  });
});

describe('parseDomainsFile() security settings', () => {
  const file = (domainExtra: string, agentExtra = ''): string => `
domains:
  acme:
    accessKey: 'acme-access-key-0123456789-abcdefghijklmnopqrstuvwxyz'
    apiKeys: ['acme-api-key-0123456789']
    allowedOrigins: ['*']
    timezone: UTC
    pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: 127.0.0.1, mobilePrefix: '9' }
${domainExtra}
    agents:
      '7000':
        name: 'A'
        sip: { user: '7000', password: 'x' }
        defaultDevice: 4
        devices: { ipPhone: 'sip:7000@127.0.0.1' }
${agentExtra}
`;

  it('defaults: no international or premium, a 3-day token lifetime cap, quotas, every device', () => {
    const acme = parseDomainsFile(file(''), 't.yaml').domains.acme;
    expect(acme?.dialPolicy).toEqual({
      allowInternational: false,
      allowPremium: false,
      domesticPrefixes: [],
      premiumPrefixes: ['1900', '0900'],
      allow: {},
    });
    expect(acme?.maxTokenLifetimeSeconds).toBe(259_200);
    expect(acme?.quotas).toEqual({
      loginsPerMinutePerAddress: 300,
      loginsPerMinute: 3000,
      commandsPerSecond: 50,
      commandsPerSecondPerAgent: 200,
      tabsPerAgent: 20,
    });
    expect(acme?.agents['7000']?.allowedDevices).toEqual([1, 2, 3, 4]);
  });

  it('reads a dial policy, quotas and allowed devices', () => {
    const acme = parseDomainsFile(
      file(
        `    dialPolicy: { allowInternational: true, domesticPrefixes: ['+84'], allow: { mobile: ['09'] } }
    quotas: { tabsPerAgent: 2 }
    maxTokenLifetimeSeconds: 3600`,
        '        allowedDevices: [4]',
      ),
      't.yaml',
    ).domains.acme;
    expect(acme?.dialPolicy).toMatchObject({
      allowInternational: true,
      domesticPrefixes: ['+84'],
      allow: { mobile: ['09'] },
    });
    expect(acme?.quotas.tabsPerAgent).toBe(2);
    expect(acme?.quotas.commandsPerSecond).toBe(50);
    expect(acme?.maxTokenLifetimeSeconds).toBe(3600);
    expect(acme?.agents['7000']?.allowedDevices).toEqual([4]);
  });

  it('refuses a bad prefix, a zero quota and allowed devices without the default one', () => {
    const bad = (domainExtra: string, agentExtra = ''): string => {
      try {
        parseDomainsFile(file(domainExtra, agentExtra), 't.yaml');
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(bad("    dialPolicy: { allow: { callout: ['0;x'] } }")).toMatch(
      /dialPolicy\.allow\.callout\[0\]: must be a number prefix/,
    );
    expect(bad('    quotas: { commandsPerSecond: 0 }')).toMatch(
      /quotas\.commandsPerSecond: must be positive/,
    );
    expect(bad('', '        allowedDevices: [1]')).toMatch(
      /allowedDevices: must include the default device 4/,
    );
  });
});
