import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from './ports.js';

/** The scenarios shipped in apps/lab/sipp (one per expected response code). */
export type SippScenario =
  | 'uac-answered-200'
  | 'uac-rejected-403'
  | 'uac-rejected-404'
  | 'uac-rejected-408'
  | 'uac-rejected-480'
  | 'uac-rejected-486'
  | 'uac-rejected-603'
  /** registers `service` with a Contact on `-key contact_port` (for a UAS in another sipp) */
  | 'register-contact'
  /** a UAS that answers one INVITE with 486 */
  | 'uas-busy-486'
  /** a UAS that rings (180), answers 200 when the CANCEL comes (as if it crossed), waits for ACK and BYE */
  | 'uas-answer-after-cancel'
  /** direct media: a plain-RTP UAS that answers, then refuses the re-INVITE with 488 */
  | 'uas-reinvite-488'
  /** direct media: a plain-RTP UAC that answers our first two re-INVITEs 491, the third 200, waits for BYE */
  | 'uac-reinvite-491'
  /** direct media: a plain-RTP UAC that moves its media by re-INVITE mid-call, hangs up 4 s later */
  | 'uac-sdp-change'
  /**
   * direct media: a plain-RTP UAC whose offer names `-key first_port`, which re-INVITEs once answered
   * to move its media to `-key moved_port`, then waits for BYE (the test holds both UDP ports)
   */
  | 'uac-sdp-move'
  /**
   * direct media: a glare. A plain-RTP UAC that, when a re-INVITE arrives, sends its own (media to
   * [media_port+2]) first, expects 491, answers the far end's 491, then 200 to its next one, sends
   * its re-INVITE again (expects 200), waits for BYE
   */
  | 'uac-glare'
  /**
   * direct media: a plain-RTP UAS (PCMU) that answers 183 with SDP and streams `tone.ulaw` (give
   * it in `files`) as early media, answers 200 after 6 s (same SDP, still streaming), waits for BYE
   */
  | 'uas-early-media';

/** The scenario that expects `statusCode` (200: answered, then BYE). */
export function uacScenarioFor(statusCode: 200 | 403 | 404 | 408 | 480 | 486 | 603): SippScenario {
  return statusCode === 200 ? 'uac-answered-200' : `uac-rejected-${statusCode}`;
}

export interface SippRunOptions {
  /** The SIP server (Kamailio's UDP side). */
  host: string;
  port: number;
  scenario: SippScenario;
  /** User part of the Request-URI: the user called. */
  service: string;
  /** Kill sipp after this long (ms). Default 20 000. */
  timeoutMs?: number;
  /** Path of the binary. Default "sipp" (on PATH; Debian package sip-tester). */
  binary?: string;
  /** Local UDP port; default a free one. A UAS scenario listens there. */
  localPort?: number;
  /** `[keyword]` values for the scenario (sipp -key). */
  keys?: Record<string, string>;
  /** Files the scenario reads (e.g. an audio file for rtp_stream), written to sipp's working directory. */
  files?: Record<string, Uint8Array>;
  /** Local RTP port (sipp -mp); default a free one (sipp's own default, 6000, may be taken). */
  mediaPort?: number;
}

export interface SippResult {
  /** 0: every call succeeded; 1: a call failed (unexpected message or timeout); other: sipp's error. */
  exitCode: number | null;
  durationMs: number;
  output: string;
  /** Unexpected messages sipp logged. */
  errors: string;
}

/** Directory of the scenario files, from the sources (apps/lab/src) or from the build (dist/apps/lab/src). */
export function sippScenarioDir(): string {
  const candidates = [
    new URL('../sipp/', import.meta.url),
    new URL('../../../../apps/lab/sipp/', import.meta.url),
  ];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(join(dir, 'uac-answered-200.xml'))) return dir;
  }
  throw new Error('apps/lab/sipp scenario files not found');
}

/**
 * A sipp UAS scenario answering as `user` of the PBX: sipp listens on a free port and a REGISTER
 * (`register-contact`) binds `user` there. Resolves once registered; `done` is the UAS run's result.
 */
export async function registeredSippUas(
  options: Omit<SippRunOptions, 'service' | 'localPort'> & { user: string },
): Promise<{ done: Promise<SippResult> }> {
  const { user, ...run } = options;
  const localPort = await freeUdpPort(options.host);
  const done = runSipp({ ...run, service: 'x', localPort });
  const registered = await runSipp({
    host: options.host,
    port: options.port,
    scenario: 'register-contact',
    service: user,
    keys: { contact_port: String(localPort) },
  });
  if (registered.exitCode !== 0) {
    void done.catch(() => undefined);
    throw new Error(
      `sipp: registering ${user} failed (exit ${String(registered.exitCode)}): ${registered.errors}`,
    );
  }
  return { done };
}

/** Runs one sipp call (-m 1) as a UAC over UDP and resolves with its exit code and logs. */
export async function runSipp(options: SippRunOptions): Promise<SippResult> {
  const work = mkdtempSync(join(tmpdir(), 'callgate-sipp-'));
  const errorFile = join(work, 'errors.log');
  const localPort = options.localPort ?? (await freeUdpPort(options.host));
  const timeoutMs = options.timeoutMs ?? 20_000;
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(work, name), content);
  const media =
    options.files || options.mediaPort
      ? ['-mp', String(options.mediaPort ?? (await freeUdpPort(options.host)))]
      : [];
  const args = [
    `${options.host}:${options.port}`,
    '-sf',
    join(sippScenarioDir(), `${options.scenario}.xml`),
    '-s',
    options.service,
    '-m',
    '1',
    '-i',
    options.host,
    '-p',
    String(localPort),
    '-nostdin',
    ...media,
    '-timeout',
    `${Math.ceil(timeoutMs / 1000)}s`,
    '-timeout_error',
    '-trace_err',
    '-error_file',
    errorFile,
    ...Object.entries(options.keys ?? {}).flatMap(([key, value]) => ['-key', key, value]),
  ];
  const startedAt = performance.now();
  try {
    return await new Promise<SippResult>((resolve, reject) => {
      const child = spawn(options.binary ?? 'sipp', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5_000);
      child.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(killer);
        reject(
          error.code === 'ENOENT'
            ? new Error('sipp not found: run bash scripts/ensure-deps.sh (Debian package sip-tester)')
            : error,
        );
      });
      child.once('close', (exitCode) => {
        clearTimeout(killer);
        const errors = existsSync(errorFile) ? readFileSync(errorFile, 'utf8') : '';
        resolve({ exitCode, durationMs: performance.now() - startedAt, output, errors });
      });
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
