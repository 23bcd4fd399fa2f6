/**
 * Short-lived SIP credentials through the real stack: a domain shares a secret with the field
 * PBX (`pbx.ephemeralAuth`), Kamailio checks `<expiry>:<user>` names with auth_ephemeral, and the
 * voice tab never sees the permanent password. Waits are on events or on the clock, bounded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipError, SipUserAgent } from '@callgate/sip';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import { startRtpengine, type Rtpengine } from '../apps/lab/src/rtpengine.js';
import { DEMO_CONFIG, login, startGateway } from './support/gateway.js';
import { eventually, Tab } from './support/tabs.js';

const T = 120_000;
const SECRET = 'lab-ephemeral-secret-0123456789abcdef';
/** Long enough for a loaded machine to register once, short enough to wait for its end. */
const LIFETIME_SECONDS = 8;
const PERMANENT = 'demo-5001';

describe('short-lived SIP credentials (pbx.ephemeralAuth, Kamailio auth_ephemeral)', () => {
  let rtpengine: Rtpengine;
  let pbx: Kamailio;
  let gateway: RunningGateway;
  let dir: string;
  let configPath: string;
  const uas: SipUserAgent[] = [];
  const tabs: Tab[] = [];

  beforeAll(async () => {
    rtpengine = await startRtpengine();
    pbx = await startKamailio({
      field: {
        // 5001 also has a digest password: both ways work side by side on one PBX.
        passwords: { '5001': PERMANENT },
        rtpengineSocket: rtpengine.ngSocket,
        ephemeralSecret: SECRET,
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'callgate-ephemeral-'));
    configPath = join(dir, 'domains.yaml');
    // The demo domain (first in the file) on this PBX, with the secret it shares.
    const demo = readFileSync(DEMO_CONFIG, 'utf8')
      .replace('      wsUri: ws://127.0.0.1:5066\n', `      wsUri: ${pbx.wsUri}\n`)
      .replace('      sipDomain: 127.0.0.1\n', `      sipDomain: ${pbx.sipDomain}\n`)
      .replace(
        "      mobilePrefix: '9'\n",
        `      mobilePrefix: '9'\n      ephemeralAuth: { secret: '${SECRET}', lifetimeSeconds: ${LIFETIME_SECONDS} }\n`,
      );
    expect(demo).toContain('ephemeralAuth');
    writeFileSync(configPath, demo);
    gateway = await startGateway({ configPath });
  }, T);

  afterEach(async () => {
    await Promise.all(uas.splice(0).map((ua) => ua.close()));
    for (const tab of tabs.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
  });

  afterAll(async () => {
    await gateway.close();
    await pbx.stop();
    await rtpengine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function voiceTab(): Promise<Tab> {
    const tab = await Tab.open(gateway.url, {
      domain: 'demo',
      token: await login(gateway.url, '5001', 'demo', configPath),
    });
    tabs.push(tab);
    return tab;
  }

  function phone(authUser: string, password: string): SipUserAgent {
    const ua = new SipUserAgent({
      wsUri: pbx.wsUri,
      sipDomain: pbx.sipDomain,
      user: '5001',
      authUser,
      password,
      register: true,
    });
    uas.push(ua);
    return ua;
  }

  it(
    'the voice tab gets <expiry>:<user> credentials that register, never the password, and they are refused after expiry',
    async () => {
      const before = Math.floor(Date.now() / 1000);
      const tab = await voiceTab();
      const sip = (await tab.nth('voice.sip', 1)).data;
      const after = Math.floor(Date.now() / 1000);

      // The permanent password reaches the tab nowhere, in no event.
      expect(JSON.stringify(tab.events)).not.toContain(PERMANENT);
      expect(sip.user).toBe('5001');
      const match = /^(\d+):5001$/.exec(sip.authUser ?? '');
      expect(match).not.toBeNull();
      const expiry = Number(match?.[1]);
      expect(expiry).toBeGreaterThanOrEqual(before + LIFETIME_SECONDS);
      expect(expiry).toBeLessThanOrEqual(after + LIFETIME_SECONDS);
      expect(sip.expiresAt).toBe(new Date(expiry * 1000).toISOString());
      expect(sip.password).toMatch(/^[A-Za-z0-9+/]{27}=$/); // base64 of a 20-byte HMAC-SHA1

      // They register with the PBX (auth_ephemeral accepts them) …
      await phone(sip.authUser ?? '', sip.password).start();
      expect(pbx.countLog(/auth: REGISTER of 5001 by \d+:5001 accepted \(ephemeral\)/)).toBeGreaterThan(0);
      // … a forged password for the same name does not …
      await expect(phone(sip.authUser ?? '', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=').start()).rejects.toBeInstanceOf(
        SipError,
      );

      // … and once their expiry has passed, the same credentials are refused (401 again).
      await eventually(() => Date.now() / 1000 > expiry + 1, (LIFETIME_SECONDS + 10) * 1000, 'the expiry');
      const refusedBefore = pbx.countLog(/auth: REGISTER of 5001 by \d+:5001 refused \(ephemeral/);
      await expect(phone(sip.authUser ?? '', sip.password).start()).rejects.toBeInstanceOf(SipError);
      expect(pbx.countLog(/auth: REGISTER of 5001 by \d+:5001 refused \(ephemeral/)).toBeGreaterThan(
        refusedBefore,
      );

      // A new connection of the voice tab gets fresh credentials, which register again.
      tab.close();
      await tab.waitForDisconnect();
      const again = await voiceTab();
      const fresh = (await again.nth('voice.sip', 1)).data;
      expect(fresh.authUser).not.toBe(sip.authUser);
      expect(Number(/^(\d+):/.exec(fresh.authUser ?? '')?.[1])).toBeGreaterThan(expiry);
      await phone(fresh.authUser ?? '', fresh.password).start();
    },
    T,
  );

  it(
    'digest users of the same PBX are unaffected: the permanent password still registers, a wrong one does not',
    async () => {
      await phone('5001', PERMANENT).start();
      await expect(phone('5001', 'wrong').start()).rejects.toBeInstanceOf(SipError);
    },
    T,
  );
  it(
    'a gateway whose domains file has a bad ephemeralAuth refuses to boot, naming the path',
    () => {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, readFileSync(configPath, 'utf8').replace(`secret: '${SECRET}'`, "secret: 'short'"));
      // Validated when the config is loaded, before anything listens.
      expect(() => startGateway({ configPath: bad })).toThrow(
        /domains\.demo\.pbx\.ephemeralAuth\.secret: must be at least 16 characters/,
      );
    },
    T,
  );
});
