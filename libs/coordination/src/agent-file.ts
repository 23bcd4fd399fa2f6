// The in-memory store's agent state (device, mobile, call status), kept in a file so that a
// restarted single instance brings every agent back with the device and On/Off it had. One JSON
// line per change (`{"k": key, "f": {deviceType?, mobile?, callStatus?}}`), appended; the last
// line of a key wins; at load the file is rewritten with one line per agent when it holds more.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { StoredAgentFields } from './common.js';
import type { CoordinationLogger } from './types.js';

const FIELDS = ['deviceType', 'mobile', 'callStatus'] as const;

export class AgentFile {
  constructor(
    private readonly path: string,
    private readonly logger: CoordinationLogger,
  ) {}

  /** Each agent's last stored fields, by store key. A missing file is an empty one. */
  load(): Map<string, StoredAgentFields> {
    const agents = new Map<string, StoredAgentFields>();
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.logger.warn(`agent state: cannot read ${this.path}: ${(err as Error).message}`);
      return agents;
    }
    let lines = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      lines += 1;
      const entry = parseLine(line);
      if (entry === undefined) {
        this.logger.warn(`agent state: skipped a malformed line of ${this.path}`);
        continue;
      }
      agents.set(entry.key, entry.fields);
    }
    if (lines > agents.size) this.rewrite(agents);
    return agents;
  }

  append(key: string, fields: StoredAgentFields): void {
    try {
      appendFileSync(this.path, line(key, fields), { mode: 0o600 });
    } catch (err) {
      // The state still holds in memory; only a restart would forget it.
      this.logger.warn(`agent state: cannot write ${this.path}: ${(err as Error).message}`);
    }
  }

  private rewrite(agents: ReadonlyMap<string, StoredAgentFields>): void {
    const aside = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(aside, [...agents].map(([key, fields]) => line(key, fields)).join(''), { mode: 0o600 });
      renameSync(aside, this.path);
    } catch (err) {
      this.logger.warn(`agent state: cannot compact ${this.path}: ${(err as Error).message}`);
    }
  }
}

function line(key: string, fields: StoredAgentFields): string {
  return `${JSON.stringify({ k: key, f: fields })}\n`;
}

function parseLine(text: string): { key: string; fields: StoredAgentFields } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // reported by the caller as a malformed line
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { k, f } = value as { k?: unknown; f?: unknown };
  if (typeof k !== 'string' || typeof f !== 'object' || f === null) return undefined;
  const fields: StoredAgentFields = {};
  for (const name of FIELDS) {
    const field = (f as Record<string, unknown>)[name];
    if (field === undefined) continue;
    if (typeof field !== 'string') return undefined;
    fields[name] = field;
  }
  return { key: k, fields };
}
