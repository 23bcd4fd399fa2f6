import { TypedEmitter, waitForEvent } from './emitter.js';
import { SipError } from './errors.js';

interface Events {
  ping: { n: number };
  pong: { text: string };
}

class Probe extends TypedEmitter<Events> {
  readonly errors: string[] = [];
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    this.safeEmit(event, payload);
  }
  protected override onListenerError(event: keyof Events, error: unknown): void {
    this.errors.push(`${String(event)}: ${String(error)}`);
  }
}

describe('TypedEmitter', () => {
  it('a throwing listener does not stop the next listeners and is reported', () => {
    const probe = new Probe();
    const seen: number[] = [];
    probe.on('ping', () => {
      throw new Error('boom');
    });
    probe.on('ping', ({ n }) => seen.push(n));
    probe.emit('ping', { n: 1 });
    expect(seen).toEqual([1]);
    expect(probe.errors).toEqual(['ping: Error: boom']);
  });

  it('once() listens to one emission; the returned function removes a listener', () => {
    const probe = new Probe();
    const seen: number[] = [];
    probe.once('ping', ({ n }) => seen.push(n));
    const off = probe.on('ping', ({ n }) => seen.push(n * 10));
    probe.emit('ping', { n: 1 });
    off();
    probe.emit('ping', { n: 2 });
    expect(seen).toEqual([1, 10]);
    expect(probe.listenerCount('ping')).toBe(0);
  });

  it('waitForEvent() resolves with the first matching payload', async () => {
    const probe = new Probe();
    const waiting = waitForEvent(probe, 'ping', { filter: ({ n }) => n > 1, timeoutMs: 1000 });
    probe.emit('ping', { n: 1 });
    probe.emit('ping', { n: 2 });
    await expect(waiting).resolves.toEqual({ n: 2 });
    expect(probe.listenerCount('ping')).toBe(0);
  });

  it('waitForEvent() rejects with a TIMEOUT SipError and removes its listener', async () => {
    const probe = new Probe();
    const waiting = waitForEvent(probe, 'pong', { timeoutMs: 20 });
    await expect(waiting).rejects.toBeInstanceOf(SipError);
    await expect(waiting).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(probe.listenerCount('pong')).toBe(0);
  });
});
