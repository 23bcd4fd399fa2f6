// The in-memory store's remembered logins, kept in a file so that a restarted single instance
// still accepts the CRM tokens its pages logged in with. One JSON line per login
// (`{"k": key, "until": epoch ms}`), appended (O_APPEND: instances sharing the file never tear a
// line); at load the live ones are kept and the file is rewritten without the expired ones.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { CoordinationLogger } from './types.js';

export interface RememberedLogin {
  key: string;
  /** wall-clock expiry (epoch ms) */
  until: number;
}

export class LoginFile {
  constructor(
    private readonly path: string,
    private readonly logger: CoordinationLogger,
  ) {}

  /** The logins not yet expired; the file is compacted to them. A missing file is an empty one. */
  load(now = Date.now()): RememberedLogin[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      this.logger.warn(`remembered logins: cannot read ${this.path}: ${(err as Error).message}`);
      return [];
    }
    const live = new Map<string, number>();
    let lines = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      lines += 1;
      const entry = parseLine(line);
      if (entry === undefined) {
        this.logger.warn(`remembered logins: skipped a malformed line of ${this.path}`);
        continue;
      }
      if (entry.until > now) live.set(entry.key, Math.max(entry.until, live.get(entry.key) ?? 0));
    }
    const logins = [...live].map(([key, until]) => ({ key, until }));
    if (lines > logins.length) this.rewrite(logins);
    return logins;
  }

  append(login: RememberedLogin): void {
    try {
      appendFileSync(this.path, `${JSON.stringify({ k: login.key, until: login.until })}\n`, { mode: 0o600 });
    } catch (err) {
      // The login still holds in memory; only a restart would forget it.
      this.logger.warn(`remembered logins: cannot write ${this.path}: ${(err as Error).message}`);
    }
  }

  private rewrite(logins: readonly RememberedLogin[]): void {
    const aside = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(aside, logins.map((l) => `${JSON.stringify({ k: l.key, until: l.until })}\n`).join(''), {
        mode: 0o600,
      });
      renameSync(aside, this.path);
    } catch (err) {
      this.logger.warn(`remembered logins: cannot compact ${this.path}: ${(err as Error).message}`);
    }
  }
}

function parseLine(line: string): RememberedLogin | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return undefined;
    const { k, until } = value as { k?: unknown; until?: unknown };
    return typeof k === 'string' && typeof until === 'number' && Number.isFinite(until)
      ? { key: k, until }
      : undefined;
  } catch {
    // reported by the caller as a malformed line
    return undefined;
  }
}
