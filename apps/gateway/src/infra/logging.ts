// The gateway's logger, a Nest LoggerService: readable coloured text by default (Nest's
// ConsoleLogger), or one JSON object per line on stdout with pino when LOG_FORMAT=json. Every
// JSON line carries the instance id and its context (the subsystem), and the domain, agent and
// call id when the line is about one: read from the message, where the code names them as
// `<domain>/<ipphone>` and as the call's UUID (a line about a whole domain starts with its name,
// `demo: …` or `demo webhook …`), or given as fields. Also the SIP logger handed to
// libs/sip (SIP traffic at debug).
import { ConsoleLogger, Logger, type LoggerService, type LogLevel as NestLogLevel } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import type { SipLogger } from '@callgate/sip';
import { type GatewayConfig, type LogFormat, type LogLevel, LogLevels } from '../config.js';

/** Nest's levels, from the most to the least severe, up to the configured one. */
export function nestLogLevels(level: LogLevel): NestLogLevel[] {
  return LogLevels.slice(0, LogLevels.indexOf(level) + 1);
}

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i;

/** Fields a line may carry beyond its message. */
type Fields = Record<string, unknown>;

/**
 * Nest's LoggerService over pino. Nest passes `(message, ...params)` with the context last
 * (and, for `error`, a stack before it); a message may be an object of fields with `msg`.
 */
export class JsonLogger implements LoggerService {
  private readonly agentPattern: RegExp | undefined;
  private readonly domainPattern: RegExp | undefined;

  constructor(
    private readonly pino: Pino,
    domainNames: readonly string[],
  ) {
    const names = domainNames.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.agentPattern = names.length
      ? new RegExp(`(?:^|[\\s(])(${names.join('|')})/([A-Za-z0-9_.-]+)`)
      : undefined;
    this.domainPattern = names.length ? new RegExp(`^(${names.join('|')})(?=[:\\s])`) : undefined;
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    const [stack, context] = params.length >= 2 ? params : [undefined, params[0]];
    this.write(
      'error',
      message,
      context === undefined ? [] : [context],
      typeof stack === 'string' ? stack : undefined,
    );
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: pino.Level, message: unknown, params: unknown[], stack?: string): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const last = params.at(-1);
    const context = typeof last === 'string' ? last : undefined;
    let msg: string;
    let fields: Fields = {};
    if (message instanceof Error) {
      msg = message.message;
      fields = { err: { type: message.name, message: message.message, stack: message.stack } };
    } else if (typeof message === 'object' && message !== null) {
      const { msg: text, ...rest } = message as Fields;
      msg = typeof text === 'string' ? text : JSON.stringify(message);
      fields = typeof text === 'string' ? rest : {};
    } else {
      msg = String(message);
    }
    const agent = this.agentPattern?.exec(msg);
    const domain = agent?.[1] ?? this.domainPattern?.exec(msg)?.[1];
    const callId = UUID.exec(msg)?.[0];
    this.pino[level](
      {
        ...(context === undefined ? {} : { context }),
        ...(domain === undefined ? {} : { domain }),
        ...(agent ? { agent: agent[2] } : {}),
        ...(callId === undefined ? {} : { callId }),
        ...fields,
        ...(stack === undefined ? {} : { stack }),
      },
      msg,
    );
  }
}

/** The gateway's LoggerService for its config: JSON lines (pino, stdout) or Nest's text. */
export function gatewayLogger(config: GatewayConfig): LoggerService {
  if (config.logFormat === 'text') return new ConsoleLogger({ logLevels: nestLogLevels(config.logLevel) });
  const destination = pino.destination({ dest: 1, sync: true });
  const logger = pino(
    {
      level: PINO_LEVEL[config.logLevel],
      base: { instance: config.instanceId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return new JsonLogger(logger, config.domains.domainNames());
}

/**
 * The SIP logger handed to libs/sip, through Nest's logger (so it follows LOG_FORMAT and
 * LOG_LEVEL): SIP traffic and details at debug, registrations and calls at info.
 */
export function sipLogger(format: LogFormat, context = 'SIP'): SipLogger {
  const logger = new Logger(context);
  const entry = (message: string, fields?: Fields): string | Fields => {
    if (!fields || Object.keys(fields).length === 0) return message;
    return format === 'json' ? { msg: message, ...fields } : `${message} ${JSON.stringify(fields)}`;
  };
  return {
    debug: (m, f) => logger.debug(entry(m, f)),
    info: (m, f) => logger.log(entry(m, f)),
    warn: (m, f) => logger.warn(entry(m, f)),
    error: (m, f) => logger.error(entry(m, f)),
  };
}
