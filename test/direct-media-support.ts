/** Helpers of the direct-media tests (test/direct-media*.test.ts). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type AudioAnalyser, SipUserAgent, type ToneSource } from '@callgate/sip';
import { BaresipPhone, type BaresipOptions } from '../apps/lab/src/baresip.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';

/** The UDP sockets this process holds (inodes of /proc/self/fd that /proc/net/udp{,6} lists). */
export function ownUdpSockets(): number {
  return udpSocketsOf('self');
}

/** The UDP sockets process `pid` holds (one of ours: /proc/<pid>/fd must be readable). */
export function udpSocketsOf(pid: number | 'self'): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // the fd closed between readdir and readlink: not a socket we hold
    }
  }
  let count = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inodes.has(inode)) count++;
    }
  }
  return count;
}

/** What a direct-media test opened, closed after each test. */
export interface DirectMediaOpen {
  phones: BaresipPhone[];
  uas: SipUserAgent[];
  tones: ToneSource[];
  analysers: AudioAnalyser[];
}

/**
 * The lab of the direct-media tests: one plain Kamailio (no media relay) for the file, baresip
 * phones and JsSIP user agents made through it and closed after each test. Call it in a describe.
 */
export function directMediaLab(timeoutMs: number): {
  readonly pbx: Kamailio;
  readonly open: DirectMediaOpen;
  phone(user: string, tone: number, extra?: Partial<BaresipOptions>): Promise<BaresipPhone>;
  agent(user: string): Promise<SipUserAgent>;
} {
  let kamailio: Kamailio | undefined;
  const open: DirectMediaOpen = { phones: [], uas: [], tones: [], analysers: [] };
  const pbxOf = (): Kamailio => {
    if (!kamailio) throw new Error('the direct-media lab is not started');
    return kamailio;
  };

  beforeAll(async () => {
    kamailio = await startKamailio();
  }, timeoutMs);

  afterEach(async () => {
    for (const a of open.analysers.splice(0)) a.stop();
    await Promise.all(open.uas.splice(0).map((u) => u.close()));
    for (const t of open.tones.splice(0)) t.stop();
    await Promise.all(open.phones.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await kamailio?.stop();
  });

  return {
    get pbx() {
      return pbxOf();
    },
    open,
    async phone(user, tone, extra = {}) {
      const pbx = pbxOf();
      const started = await BaresipPhone.start({
        user,
        domain: pbx.sipDomain,
        proxy: { host: pbx.host, port: pbx.udpPort },
        tone,
        ...extra,
      });
      open.phones.push(started);
      return started;
    },
    async agent(user) {
      const pbx = pbxOf();
      const ua = new SipUserAgent({ wsUri: pbx.wsUri, sipDomain: pbx.sipDomain, user, register: true });
      open.uas.push(ua);
      await ua.start();
      return ua;
    },
  };
}
