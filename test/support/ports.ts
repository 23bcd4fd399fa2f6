import { createServer } from 'node:net';

/**
 * A TCP port free on the loopback interface right now: the kernel picks one for a listener on
 * port 0, which is closed again. Another process may take it before the caller binds it, so
 * callers that start servers on it retry with a new port when binding fails.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close(() => reject(new Error('freePort: the listener has no TCP address')));
        return;
      }
      server.close((error) => (error ? reject(error) : resolve(address.port)));
    });
  });
}
