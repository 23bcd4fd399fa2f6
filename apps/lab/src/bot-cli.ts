/**
 * One lab bot in its own process, for tests that need an endpoint to die for real (SIGKILL: no BYE,
 * no WebSocket close handshake). Prints one JSON line per event on stdout.
 *
 *   node dist/apps/lab/src/bot-cli.js --ws ws://127.0.0.1:5066 --domain 127.0.0.1 --user 0901000009 \
 *     --call 5000 [--tone 440]
 */
import { parseArgs } from 'node:util';
import { startBot } from './bots.js';

const { values } = parseArgs({
  options: {
    ws: { type: 'string' },
    domain: { type: 'string', default: '127.0.0.1' },
    user: { type: 'string' },
    call: { type: 'string' },
    tone: { type: 'string', default: '440' },
  },
});
if (!values.ws || !values.user) {
  console.error('usage: bot-cli --ws <wsUri> --user <user> [--call <target>] [--tone <hz>]');
  process.exit(2);
}
const say = (event: string, detail: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, ...detail })}\n`);
};

const bot = await startBot({
  pbx: { wsUri: values.ws, sipDomain: values.domain },
  user: values.user,
  kind: 'customer',
  tone: Number(values.tone),
});
say('registered', { user: values.user });
bot.on('answered', () => say('answered'));
bot.on('ended', (record) => say('ended', { cause: record.end.cause }));
if (values.call) bot.call(values.call);
process.once('SIGTERM', () => {
  void bot.close().then(() => process.exit(0));
});
