import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';

/**
 * Sends one UDP datagram from an ephemeral port on `host` and resolves true when an answer that
 * `accept` takes arrives within `timeoutMs`; false on a timeout or a socket error. `message` gets
 * the local port (a SIP request names it in its Via). The health probe of the lab's UDP servers.
 */
export function udpProbe(
  host: string,
  port: number,
  message: (localPort: number) => string,
  accept: (answer: Buffer) => boolean,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('error', () => finish(false));
    socket.on('message', (answer) => {
      if (accept(answer)) finish(true);
    });
    socket.bind(0, host, () => {
      socket.send(message(socket.address().port), port, host, (error) => {
        if (error) finish(false);
      });
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs` if the process has not exited; resolves once it has. */
export async function terminate(child: ChildProcess, exited: Promise<void>, graceMs = 5_000): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
