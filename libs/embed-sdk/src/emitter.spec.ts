import { jest } from '@jest/globals';
import { TypedEmitter } from './emitter.js';

interface Events {
  ping: { n: number };
  pong: string;
}

describe('TypedEmitter', () => {
  it('a throwing listener is reported with console.error and the other listeners still run', () => {
    const report = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const emitter = new TypedEmitter<Events>('test');
      const seen: number[] = [];
      emitter.on('ping', () => {
        throw new Error('boom');
      });
      emitter.on('ping', ({ n }) => seen.push(n));
      emitter.emit('ping', { n: 1 });
      emitter.emit('ping', { n: 2 });
      expect(seen).toEqual([1, 2]);
      expect(report).toHaveBeenCalledTimes(2);
      expect(report.mock.calls[0]?.[0]).toBe('[test] a listener of "ping" threw');
      expect(report.mock.calls[0]?.[1]).toEqual(new Error('boom'));
    } finally {
      report.mockRestore();
    }
  });

  it('once() listens to one event; the function returned by on() removes the listener', () => {
    const emitter = new TypedEmitter<Events>('test');
    const seen: string[] = [];
    emitter.once('pong', (s) => seen.push(`once:${s}`));
    const off = emitter.on('pong', (s) => seen.push(`on:${s}`));
    emitter.emit('pong', 'a');
    off();
    emitter.emit('pong', 'b');
    expect(seen).toEqual(['once:a', 'on:a']);
    expect(emitter.listenerCount('pong')).toBe(0);
  });

  it('a listener removed while an event is delivered does not stop that delivery to the others', () => {
    const emitter = new TypedEmitter<Events>('test');
    const seen: string[] = [];
    emitter.on('pong', () => {
      seen.push('first');
      offSecond();
    });
    const offSecond = emitter.on('pong', () => seen.push('second'));
    emitter.emit('pong', 'x');
    emitter.emit('pong', 'y');
    expect(seen).toEqual(['first', 'second', 'first']);
  });
});
