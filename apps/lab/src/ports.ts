import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/**
 * A TCP port free on `host` right now (the kernel picks one for a listener on port 0,
 * which is closed again). Another process may take it before the caller binds it:
 * callers retry with new ports when binding fails.
 */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close(() => reject(new Error('freeTcpPort: the listener has no TCP address')));
        return;
      }
      server.close((error) => (error ? reject(error) : resolve(address.port)));
    });
  });
}

/** A UDP port free on `host` right now (same caveat as {@link freeTcpPort}). */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.unref();
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** Whether `port` can be bound on `host` for TCP right now. */
export function isTcpPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Whether `port` can be bound on `host` for UDP right now. */
export function isUdpPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.unref();
    socket.once('error', () => resolve(false));
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

/** A pair of distinct free ports: one TCP (for SIP over WebSocket), one UDP (for SIP over UDP). */
export async function freeSipPorts(host = '127.0.0.1'): Promise<{ wsPort: number; udpPort: number }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const wsPort = await freeTcpPort(host);
    const udpPort = await freeUdpPort(host);
    if (wsPort !== udpPort) return { wsPort, udpPort };
  }
  throw new Error('freeSipPorts: no distinct TCP and UDP ports found');
}
