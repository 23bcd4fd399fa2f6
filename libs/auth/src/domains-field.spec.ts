import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseDomainsFile } from './domains.js';

/** A domains file with a field PBX: `pbx` and `sip` lines given by the test. */
function fileWith(pbx: string, sip = '{ user: "5000", password: "secret" }'): string {
  return `
domains:
  acme:
    accessKey: "acme-access-key-0123456789abcdef0123"
    apiKeys: ["acme-api-key-0123456789"]
    allowedOrigins: ["*"]
    timezone: Asia/Ho_Chi_Minh
    pbx: ${pbx}
    agents:
      "5000":
        name: "Agent 5000"
        sip: ${sip}
        defaultDevice: 1
`;
}

function problemsOf(yamlText: string, source = 'config/test.yaml'): string[] {
  try {
    parseDomainsFile(yamlText, source);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('the file was accepted');
}

const WSS = 'wsUri: "wss://127.0.0.1:8089", sipDomain: pbx.acme.example, mobilePrefix: ""';

describe('domains file: a field PBX', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-domains-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads credentials, ICE servers and the CA at boot, relative to the file', () => {
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const file = parseDomainsFile(
      fileWith(
        `{ ${WSS}, iceServers: [{ urls: "stun:127.0.0.1:3478" }, { urls: ["turn:127.0.0.1:3478"], username: u, credential: p }], tls: { caFile: ca.pem, serverName: pbx.acme.example }, iceTransportPolicy: relay }`,
        '{ user: "5000", password: "secret", authUser: "a5000", realm: "pbx.acme.example" }',
      ),
      join(dir, 'domains.yaml'),
    );
    const domain = file.domains.acme;
    expect(domain?.pbx.iceServers).toEqual([
      { urls: ['stun:127.0.0.1:3478'] },
      { urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'p' },
    ]);
    expect(domain?.pbx.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(domain?.pbx.tls?.caFile).toBe(join(dir, 'ca.pem'));
    expect(domain?.pbx.tls?.serverName).toBe('pbx.acme.example');
    expect(domain?.pbx.iceTransportPolicy).toBe('relay');
    expect(domain?.agents['5000']?.sip).toEqual({
      user: '5000',
      password: 'secret',
      authUser: 'a5000',
      realm: 'pbx.acme.example',
    });
  });

  it('refuses a TURN server without credentials, a bad ICE URL and relay without TURN', () => {
    expect(
      problemsOf(
        fileWith(
          `{ ${WSS}, iceServers: [{ urls: "turn:1.2.3.4" }, { urls: "http://x" }], iceTransportPolicy: relay }`,
        ),
      ),
    ).toEqual([
      'domains.acme.pbx.iceServers[0].username: is required for a TURN server',
      'domains.acme.pbx.iceServers[1].urls: must be a stun:, stuns:, turn: or turns: URL',
    ]);
    expect(
      problemsOf(fileWith(`{ ${WSS}, iceServers: [{ urls: "stun:1.2.3.4" }], iceTransportPolicy: relay }`)),
    ).toEqual(["domains.acme.pbx.iceTransportPolicy: 'relay' needs a TURN server in pbx.iceServers"]);
  });

  it('refuses TLS settings on ws://, and a CA file that is missing or not PEM, naming the path', () => {
    expect(
      problemsOf(
        fileWith('{ wsUri: "ws://127.0.0.1:5066", sipDomain: x, mobilePrefix: "", tls: { serverName: x } }'),
      ),
    ).toEqual(['domains.acme.pbx.tls: needs a wss:// wsUri']);
    const missing = problemsOf(fileWith(`{ ${WSS}, tls: { caFile: nope.pem } }`), join(dir, 'domains.yaml'));
    expect(missing).toEqual([
      expect.stringMatching(/^domains\.acme\.pbx\.tls\.caFile: cannot be read \(.*nope\.pem: ENOENT\)$/),
    ]);
    writeFileSync(join(dir, 'bad.pem'), 'not a certificate');
    expect(problemsOf(fileWith(`{ ${WSS}, tls: { caFile: bad.pem } }`), join(dir, 'domains.yaml'))).toEqual([
      expect.stringMatching(/^domains\.acme\.pbx\.tls\.caFile: holds no PEM certificate/),
    ]);
  });
  it('reads pbx.ephemeralAuth (the secret shared with the PBX and a lifetime)', () => {
    const file = parseDomainsFile(
      fileWith(`{ ${WSS}, ephemeralAuth: { secret: "0123456789abcdef-shared", lifetimeSeconds: 3600 } }`),
      join(dir, 'domains.yaml'),
    );
    expect(file.domains.acme?.pbx.ephemeralAuth).toEqual({
      secret: '0123456789abcdef-shared',
      lifetimeSeconds: 3600,
    });
    expect(
      parseDomainsFile(fileWith(`{ ${WSS} }`), join(dir, 'domains.yaml')).domains.acme?.pbx,
    ).not.toHaveProperty('ephemeralAuth');
  });

  it('refuses a short secret, a missing or bad lifetime and unknown ephemeralAuth keys, naming each', () => {
    expect(
      problemsOf(fileWith(`{ ${WSS}, ephemeralAuth: { secret: "short", lifetimeSeconds: 0 } }`)),
    ).toEqual([
      'domains.acme.pbx.ephemeralAuth.secret: must be at least 16 characters',
      'domains.acme.pbx.ephemeralAuth.lifetimeSeconds: must be at least 1',
    ]);
    expect(
      problemsOf(
        fileWith(`{ ${WSS}, ephemeralAuth: { secret: "0123456789abcdef-shared", lifetimeSeconds: 1.5 } }`),
      ),
    ).toEqual(['domains.acme.pbx.ephemeralAuth.lifetimeSeconds: must be a whole number of seconds']);
    expect(
      problemsOf(
        fileWith(`{ ${WSS}, ephemeralAuth: { secret: "0123456789abcdef-shared", lifetimeSeconds: 700000 } }`),
      ),
    ).toEqual(['domains.acme.pbx.ephemeralAuth.lifetimeSeconds: must be at most 604800']);
    const missing = problemsOf(fileWith(`{ ${WSS}, ephemeralAuth: { secret: "0123456789abcdef-shared" } }`));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/^domains\.acme\.pbx\.ephemeralAuth\.lifetimeSeconds: /);
    const extra = problemsOf(
      fileWith(
        `{ ${WSS}, ephemeralAuth: { secret: "0123456789abcdef-shared", lifetimeSeconds: 60, sha: 256 } }`,
      ),
    );
    expect(extra).toHaveLength(1);
    expect(extra[0]).toMatch(/sha/);
  });
});
