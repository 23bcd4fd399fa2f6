/** Waiting and timing helpers the benchmarks share. */
import type { Tab } from '../../test/support/tabs.js';

/** A hrtime difference in ms. */
export const ms = (ns: bigint): number => Number(ns) / 1e6;

/** A fixed pause between measurement windows (never a wait for an event). */
export function sleep(msToWait: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msToWait));
}

/** Waits for `promise` at most `timeoutMs`; rejects after that when `what` is given, else resolves. */
export async function bounded(promise: Promise<unknown>, timeoutMs: number, what?: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => (what ? reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) : resolve()),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The receipt time (hrtime) of the tab's next event of a type. */
export function nextEvent(
  tab: Tab,
  type: 'call.ringing' | 'call.ended',
  timeoutMs = 10_000,
): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const socket = tab.socket as unknown as {
      once(event: string, fn: () => void): void;
      off(event: string, fn: () => void): void;
    };
    const listener = (): void => {
      clearTimeout(timer);
      resolve(process.hrtime.bigint());
    };
    const timer = setTimeout(() => {
      socket.off(type, listener);
      reject(new Error(`no ${type} at the tab within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(type, listener);
  });
}
