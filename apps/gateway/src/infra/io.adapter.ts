import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';

/** Largest Socket.IO message a client may send; larger ones close that connection. */
export const MAX_SOCKET_MESSAGE_BYTES = 64 * 1024;
/** How long a connection may stay without joining a namespace (the handshake). */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * Socket.IO server options in one place. With Redis, the streams adapter carries room emits to
 * every instance (it survives short Redis cuts); without it, the default in-process adapter.
 * Origins are checked per domain at the handshake, so CORS here accepts any origin.
 */
export class CallgateIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly redis: Redis | undefined,
    /** REDIS_KEY_PREFIX: the adapter's stream is one of our keys like any other */
    private readonly keyPrefix = '',
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      cors: { origin: true, credentials: false },
      maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
      pingInterval: 10_000,
      pingTimeout: 10_000,
      // A client that joins no namespace within this time is closed (Socket.IO's default is 45 s).
      connectTimeout: HANDSHAKE_TIMEOUT_MS,
    } as ServerOptions);
    // Nothing is served on the default namespace: a socket there is closed at once.
    server.of('/').on('connection', (socket) => socket.disconnect(true));
    if (this.redis) {
      server.adapter(
        createAdapter(this.redis, { streamName: `${this.keyPrefix}callgate:sio`, blockTimeInMs: 1_000 }),
      );
    }
    return server;
  }
}
