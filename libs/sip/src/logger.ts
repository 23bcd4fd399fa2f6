/**
 * A small structured logger interface: one line per lifecycle transition at info,
 * SIP traffic and details at debug. Any logger with these four methods fits
 * (pino, a Nest logger adapter, or {@link consoleLogger}).
 */
export interface SipLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type SipLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const order: Record<SipLogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A logger that drops everything (the default when none is given). */
export const silentLogger: SipLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A named logger writing one line per message to stderr, from `level` upwards. */
export function consoleLogger(name: string, level: SipLogLevel = 'info'): SipLogger {
  const write =
    (at: Exclude<SipLogLevel, 'silent'>) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (order[at] < order[level]) return;
      const suffix = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      process.stderr.write(`${new Date().toISOString()} ${at.toUpperCase()} [${name}] ${message}${suffix}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A child logger whose messages carry a fixed prefix (e.g. the user or the call id). */
export function prefixedLogger(logger: SipLogger, prefix: string): SipLogger {
  return {
    debug: (m, f) => logger.debug(`${prefix} ${m}`, f),
    info: (m, f) => logger.info(`${prefix} ${m}`, f),
    warn: (m, f) => logger.warn(`${prefix} ${m}`, f),
    error: (m, f) => logger.error(`${prefix} ${m}`, f),
  };
}
