import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createCoordination, type Coordination } from '@callgate/coordination';
import { weakAccessKeyWarnings } from '@callgate/auth';
import { AgentGateway } from './agent/agent.gateway.js';
import { CallEngine } from './calls/call-engine.service.js';
import { originAllowedForPath } from './agent/origins.js';
import type { GatewayConfig } from './config.js';
import { GatewayModule } from './gateway.module.js';
import { ErrorFilter } from './http/error.filter.js';
import { AGENTS_FILE } from './session/data-dir.js';
import { CallgateIoAdapter } from './infra/io.adapter.js';
import { gatewayLogger } from './infra/logging.js';
import { createMetrics } from './infra/metrics.js';

/** Largest HTTP body accepted (login and REST): larger ones answer 413 PAYLOAD_TOO_LARGE. */
export const MAX_BODY = '16kb';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly config: GatewayConfig;
  readonly coordination: Coordination;
  /**
   * Graceful shutdown's first part: /ready answers 503, idle server-side agents are handed to other
   * instances at once, calls in progress may finish until `drainTimeoutMs`, then end (SHUTDOWN)
   * and their agents are handed over too. Follow with `close()`.
   */
  drain(): Promise<void>;
  /** Stop: closes every socket (tabs free their voice locks), then the stores. Idempotent. */
  close(): Promise<void>;
}

/** Builds and starts one gateway instance from a validated config. */
export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  const logger = new Logger('Gateway');
  const metrics = createMetrics(config);
  for (const warning of weakAccessKeyWarnings(config.domains.file)) logger.warn(warning);
  const coordination = await createCoordination({
    ...(config.metricsEnabled ? { redisObserver: metrics } : {}),
    instanceId: config.instanceId,
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    keyPrefix: config.redisKeyPrefix,
    leaseMs: config.leaseMs,
    eventLogMaxLen: config.eventLogMaxLen,
    agentLogMaxLen: config.agentEventLogMaxLen,
    logger: new Logger('Coordination'),
    // The embedded default keeps its agents' state across a restart (Redis keeps it otherwise).
    ...(config.redisUrl ? {} : { agentsFile: join(config.dataDir, AGENTS_FILE) }),
  });
  // The Socket.IO adapter needs its own connection (it blocks on stream reads).
  const adapterRedis = config.redisUrl
    ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 })
    : undefined;
  adapterRedis?.on('error', (err: Error) => logger.warn(`socket.io adapter redis: ${err.message}`));

  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      GatewayModule.forRoot(config, coordination, metrics),
      {
        bodyParser: false,
        logger: gatewayLogger(config),
      },
    );
    app.useBodyParser('json', { limit: MAX_BODY });
    app.useBodyParser('urlencoded', { limit: MAX_BODY, extended: false });
    // Decided per request: a domain's routes answer that domain's origins only.
    app.enableCors((req: { url?: string; headers: { origin?: string } }, cb) => {
      cb(null, { origin: originAllowedForPath(config.domains, req.url ?? '/', req.headers.origin) });
    });
    app.useGlobalFilters(new ErrorFilter());
    app.useWebSocketAdapter(new CallgateIoAdapter(app, adapterRedis, config.redisKeyPrefix));
    app.disable('x-powered-by');
    await app.listen(config.port, config.host);
  } catch (err) {
    await coordination.close();
    adapterRedis?.disconnect();
    throw err;
  }
  const address = app.getHttpServer().address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  logger.log(
    `callgate ${config.instanceId} listening on ${url} (coordination: ${coordination.kind}, config: ${config.configPath})`,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const tabs = app.get(AgentGateway);
      await app.close();
      await tabs.drain();
      await coordination.close();
      if (adapterRedis) await adapterRedis.quit().catch(() => adapterRedis.disconnect());
      logger.log(`callgate ${config.instanceId} stopped`);
    })();
    return closing;
  };
  const drain = (): Promise<void> => app.get(CallEngine).drain(config.drainTimeoutMs);
  return { url, port: address.port, config, coordination, drain, close };
}
