import { Writable } from 'node:stream';
import { pino } from 'pino';
import { JsonLogger } from './logging.js';

/** A JsonLogger over pino writing into memory; `lines()` parses what it wrote. */
function memoryLogger(domains: readonly string[]): {
  logger: JsonLogger;
  lines: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = new JsonLogger(pino({ level: 'debug', base: { instance: 'gw-1' } }, sink), domains);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('JsonLogger fields', () => {
  const CALL = '0f8fad5b-d9cb-469f-a165-70867728950e';

  it('names the instance, the context, the domain and agent of `<domain>/<ipphone>`, and the call id', () => {
    const { logger, lines } = memoryLogger(['demo', 'acme.vn']);
    logger.log(`demo/5000: call ${CALL} ringing`, 'Calls');
    logger.warn(`event for acme.vn/401_202 not sent`, 'EventBus');
    expect(lines()).toEqual([
      expect.objectContaining({
        instance: 'gw-1',
        context: 'Calls',
        domain: 'demo',
        agent: '5000',
        callId: CALL,
        msg: `demo/5000: call ${CALL} ringing`,
      }),
      expect.objectContaining({ context: 'EventBus', domain: 'acme.vn', agent: '401_202' }),
    ]);
  });

  it('names the domain of a line about a whole domain (starting with its name)', () => {
    const { logger, lines } = memoryLogger(['demo']);
    logger.warn(
      'demo webhook https://crm.example.com/hook: event 1-0 attempt 1 failed (HTTP 503)',
      'Webhooks',
    );
    logger.error('demo: event 1-0 could not be queued', 'Webhooks');
    const [a, b] = lines();
    expect(a).toMatchObject({ domain: 'demo', context: 'Webhooks', level: 40 });
    expect(a).not.toHaveProperty('agent');
    expect(b).toMatchObject({ domain: 'demo', level: 50 });
  });

  it('adds no domain for a domain name inside other text, nor for an unknown domain', () => {
    const { logger, lines } = memoryLogger(['demo']);
    logger.log('backend abc subscribed to demo', 'Events');
    logger.log('demonstration: nothing', 'Events');
    logger.log('other/5000: not a configured domain', 'Events');
    for (const line of lines()) {
      expect(line).not.toHaveProperty('domain');
      expect(line).not.toHaveProperty('agent');
    }
    expect(lines()).toHaveLength(3);
  });

  it('keeps the fields of an object message and the stack of an error', () => {
    const { logger, lines } = memoryLogger(['demo']);
    logger.debug({ msg: 'SIP out INVITE', callId: CALL, cseq: '1 INVITE' }, 'SIP');
    logger.error('boom', 'Error: boom\n    at x', 'Gateway');
    expect(lines()).toEqual([
      expect.objectContaining({ msg: 'SIP out INVITE', callId: CALL, cseq: '1 INVITE', context: 'SIP' }),
      expect.objectContaining({ msg: 'boom', stack: 'Error: boom\n    at x', context: 'Gateway' }),
    ]);
  });
});
