// The embedded default's own folder (DATA_DIR): what a single instance without Redis must keep
// across a restart so that its open pages come back by themselves. Today: the session secret
// (tokens signed before the restart stay valid) and the agents' device and On/Off (see
// libs/coordination's `agentsFile`). Read once at boot, by loadConfig; a bad folder or file
// stops the boot with a message naming DATA_DIR.
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@callgate/auth';

/** The session secret's file inside DATA_DIR (mode 0600, created on first start). */
export const SESSION_SECRET_FILE = 'session-secret';
/** The agents' device and call status inside DATA_DIR (one JSON line per change, mode 0600). */
export const AGENTS_FILE = 'agents.jsonl';

const refuse = (message: string): ConfigError => new ConfigError('environment', [`DATA_DIR: ${message}`]);

/** Creates the folder (mode 0700) when missing; refuses one that cannot be written. */
export function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    accessSync(dir, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw refuse(`cannot use ${dir}: ${(err as Error).message}`);
  }
}

/**
 * The session secret kept in `dir`: read when present, else made (32 random bytes) and written
 * with mode 0600. Several processes starting at once agree on one secret: the file appears
 * whole (written aside, then hard-linked into place; the loser of the race reads the winner's).
 * A file that others can read or that is too short is refused, never silently replaced.
 */
export function loadOrCreateSessionSecret(dir: string): string {
  prepareDataDir(dir);
  const file = join(dir, SESSION_SECRET_FILE);
  const existing = readSecret(file);
  if (existing !== undefined) return existing;
  const aside = join(dir, `.${SESSION_SECRET_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(aside, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(aside, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } catch (err) {
    throw refuse(`cannot write ${file}: ${(err as Error).message}`);
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // never written: nothing to remove
    }
  }
  const made = readSecret(file);
  if (made === undefined) throw refuse(`${file} vanished while it was created`);
  return made;
}

function readSecret(file: string): string | undefined {
  let text: string;
  try {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw refuse(
        `${file} is readable by others (mode ${mode.toString(8)}): chmod 600 it, or set SESSION_SECRET`,
      );
    }
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refuse(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (text.length < 32) throw refuse(`${file} holds fewer than 32 characters: remove it to make a new one`);
  return text;
}
