/**
 * The measured process of `bench/direct-media.ts`: one SipUserAgent (user 5003) that connects
 * every incoming call to the device `5003-desk` with direct media (DirectMediaCall.inbound), as
 * the gateway's server-side calls will. Run as `node dist/bench/direct-media-gateway.js <wsUri>
 * <sipDomain>` with --expose-gc. Writes one JSON line per event on stdout (`ready`, `connected`
 * with the set-up time, `failed`, `ended`, `stats`); reads `stats` lines on stdin (answers the RSS
 * after a full GC) and `quit`.
 */
import { createInterface } from 'node:readline';
import { DirectMediaCall, PassThroughPeerConnection, SipUserAgent } from '@callgate/sip';

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  const [wsUri, sipDomain] = process.argv.slice(2);
  if (!wsUri || !sipDomain) throw new Error('usage: direct-media-gateway <wsUri> <sipDomain>');
  const ua = new SipUserAgent({ wsUri, sipDomain, user: '5003', register: true, noAnswerTimeoutSec: 30 });
  let active = 0;
  ua.on('incomingCall', ({ call }) => {
    const started = performance.now();
    DirectMediaCall.inbound(ua, call, '5003-desk').then(
      (direct) => {
        active++;
        emit({ event: 'connected', setupMs: performance.now() - started, active });
        direct.once('ended', () => {
          active--;
          emit({ event: 'ended', active });
        });
      },
      (error: unknown) => {
        emit({ event: 'failed', error: String(error) });
        if (!call.isTerminated) call.reject(480);
      },
    );
  });
  await ua.start();
  emit({ event: 'ready' });
  const gc = (globalThis as { gc?: () => void }).gc;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'stats') {
      gc?.();
      gc?.();
      const memory = process.memoryUsage();
      emit({
        event: 'stats',
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        active,
        passThrough: PassThroughPeerConnection.created,
      });
    } else if (line === 'quit') {
      break;
    }
  }
  await ua.close('bench done');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('direct-media-gateway failed', error);
    process.exit(1);
  },
);
