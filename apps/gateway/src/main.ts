import { Logger } from '@nestjs/common';
import { ConfigError } from '@callgate/auth';
import { logText } from '@callgate/call-core';
import { startGateway } from './app.js';
import { loadConfig } from './config.js';

/** `npm run start:gateway`: PORT, REDIS_URL, CALLGATE_CONFIG, ... (see README). */
async function main(): Promise<void> {
  let config;
  try {
    // The one place the environment is read.
    // eslint-disable-next-line no-restricted-syntax
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`callgate: cannot start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  // Last resort: a rejection no handler caught is a bug to log, not a reason to drop every tenant's
  // calls (Node's default is to exit). Handlers answer their own errors; this only logs what slipped.
  process.on('unhandledRejection', (reason: unknown) => {
    const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    console.error(`callgate: unhandled rejection, still serving: ${logText(text, 2000)}`);
  });
  // The same for an exception thrown from a native callback (wrtc, ws) that no guard caught: libs/sip
  // guards JsSIP's message handling and its peer connections' listeners, so this is a bug to log.
  process.on('uncaughtException', (err: Error) => {
    console.error(`callgate: uncaught exception, still serving: ${logText(err.stack ?? err.message, 2000)}`);
  });
  const gateway = await startGateway(config);
  const logger = new Logger('Main');
  const stop = (signal: string): void => {
    logger.log(`${signal}: draining, then stopping`);
    gateway
      .drain()
      .then(() => gateway.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error(`unclean stop: ${String(err)}`, err instanceof Error ? err.stack : undefined);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('callgate: failed to start', err);
  process.exit(1);
});
