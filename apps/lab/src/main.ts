/**
 * `npm run lab`: the lab PBX with a few simulated endpoints, up until Ctrl-C.
 *
 *   npm run lab                  WebSocket 5066 and UDP 5060 (the demo config's wsUri) when free,
 *                                free ports otherwise
 *   npm run lab -- --ws-port=7066 --udp-port=7060
 *   npm run lab -- --free-ports  always free ports
 *   npm run lab -- --profile field   a PBX like the ones users run: digest auth, rtpengine, wss://,
 *                                pike, baresip desk phones and plain-RTP customers
 */
import { consoleLogger } from '@callgate/sip';
import type { BotBehaviour, BotKind } from './bots.js';
import { KamailioError } from './kamailio.js';
import { startLab, type Lab, type LabProfile } from './lab.js';
import { startLabControl } from './control.js';
import { isTcpPortFree, isUdpPortFree } from './ports.js';

const PREFERRED = { wsPort: 5066, udpPort: 5060 };
/** The lab's HTTP control port (GET /bots, POST /calls, POST /hangup); free one if taken. */
const CONTROL_PORT = 5070;

interface CliOptions {
  wsPort?: number;
  udpPort?: number;
  freePorts: boolean;
  profile: LabProfile;
}

function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { freePorts: false, profile: 'plain' };
  const args = [...argv];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [name, inline] = arg.split('=', 2);
    const value = name === '--profile' && inline === undefined ? args[++i] : inline;
    switch (name) {
      case '--ws-port':
        options.wsPort = port(name, value);
        break;
      case '--udp-port':
        options.udpPort = port(name, value);
        break;
      case '--free-ports':
        options.freePorts = true;
        break;
      case '--profile':
        if (value !== 'plain' && value !== 'field') throw new Error("--profile is 'plain' or 'field'");
        options.profile = value;
        break;
      default:
        throw new Error(
          `unknown argument '${arg}' (known: --ws-port=N, --udp-port=N, --free-ports, --profile plain|field)`,
        );
    }
  }
  return options;
}

function port(name: string, value: string | undefined): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535)
    throw new Error(`${name} needs a port number`);
  return parsed;
}

async function choosePorts(cli: CliOptions): Promise<{ wsPort?: number; udpPort?: number; note: string }> {
  if (cli.wsPort !== undefined || cli.udpPort !== undefined) {
    return { wsPort: cli.wsPort, udpPort: cli.udpPort, note: 'ports from the command line' };
  }
  if (cli.freePorts) return { note: 'free ports (--free-ports)' };
  const free = (await isTcpPortFree(PREFERRED.wsPort)) && (await isUdpPortFree(PREFERRED.udpPort));
  if (free) return { ...PREFERRED, note: "the demo config's ports" };
  return {
    note: `ports ${PREFERRED.wsPort}/${PREFERRED.udpPort} are taken: free ports instead (update pbx.wsUri in the domains file)`,
  };
}

/** What each kind of lab endpoint does (the demo's scripts). */
const behaviours: Partial<Record<BotKind, Partial<BotBehaviour>>> = {
  ipPhone: { incoming: { action: 'answer', afterMs: 2_000 } },
  mobile: { incoming: { action: 'answer', afterMs: 3_000 } },
  queue: { incoming: { action: 'answer', afterMs: 0 } },
  customer: { incoming: { action: 'answer', afterMs: 1_000 } },
};

function describeBehaviour(b: BotBehaviour): string {
  const incoming =
    b.incoming.action === 'answer'
      ? `answers after ${b.incoming.afterMs ?? 0} ms`
      : b.incoming.action === 'reject'
        ? `rejects with ${b.incoming.statusCode}`
        : 'never answers';
  return `${incoming}, plays ${b.tone === null ? 'silence' : `${b.tone} Hz`}, ${b.refer === 'follow' ? 'follows' : 'refuses'} REFER`;
}

function printLab(lab: Lab, note: string): void {
  const { pbx } = lab;
  const field = pbx.field;
  const lines = [
    '',
    field
      ? 'callgate field lab PBX (Kamailio: digest auth, rtpengine, wss://, pike)'
      : 'callgate lab PBX (Kamailio, registrar + proxy, no authentication)',
    `  SIP over WebSocket  ${pbx.wsUri}      (JsSIP, the gateway: pbx.wsUri)`,
    `  SIP over UDP        ${pbx.host}:${pbx.udpPort}   (sipp, softphones)`,
    `  SIP domain          ${pbx.sipDomain}`,
    `  ports               ${note}`,
    `  Kamailio log        ${pbx.logFile}`,
    `  mobile prefix       "${lab.mobilePrefix}"`,
    ...(field
      ? [
          `  SIP over wss://     ${field.wssUri}   (pbx.tls: { caFile: ${field.caFile}, serverName: ${field.serverName} })`,
          `  trunk (trusted)     udp ${pbx.host}:${field.trunkPort}   (the "PSTN" customers)`,
          `  digest realm        ${field.realm}   (agents: demo-<ext>, desk phones: desk-<ext>)`,
          `  rtpengine           ${lab.rtpengine?.ngSocket ?? '-'}`,
          `  TURN (coturn)       ${lab.turn ? `${lab.turn.turnUrl} user ${lab.turn.username} password ${lab.turn.password}` : '-'}`,
          '',
          'baresip endpoints (plain RTP, PCMU, auto-answer):',
          ...lab.phones.map((p) => `  ${p.kind.padEnd(9)} ${p.user.padEnd(14)} plays ${p.tone} Hz`),
        ]
      : []),
    '',
    'Simulated endpoints (register as sip:<user>@' + pbx.sipDomain + '):',
    ...lab.bots.map((b) => `  ${b.kind.padEnd(9)} ${b.user.padEnd(14)} ${describeBehaviour(b.behaviour)}`),
    '',
    'Customers call agents: a registered agent extension is reachable as sip:<ext>@' + pbx.sipDomain + '.',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function main(): Promise<void> {
  const cli = parseArgs(process.argv.slice(2));
  const ports = await choosePorts(cli);
  const logger = consoleLogger('lab', 'info');
  const demoAgents = ['5000', '5001', '5002', '5003', '5004'];
  const lab = await startLab({
    profile: cli.profile,
    // The demo domains file's passwords (config/demo.yaml).
    agents: Object.fromEntries(demoAgents.map((ext) => [ext, `demo-${ext}`])),
    customers: 3,
    ipPhones: ['5000', '5003'],
    mobiles: ['0930000004'],
    queues: ['1'],
    mobilePrefix: '9',
    behaviours,
    kamailio: { wsPort: ports.wsPort, udpPort: ports.udpPort, logger },
    logger,
  });
  // The third customer is busy, to show a failed callout.
  if (lab.profile === 'plain')
    lab.bot('0901000003').setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
  for (const bot of lab.bots) {
    bot.on('incoming', ({ call }) => logger.info(`${bot.user}: incoming call from ${call.remote.user}`));
    bot.on('answered', ({ call }) => logger.info(`${bot.user}: in call with ${call.remote.user}`));
    bot.on('dtmf', ({ digit }) => logger.info(`${bot.user}: DTMF ${digit}`));
    bot.on('ended', ({ remoteUser, end }) =>
      logger.info(
        `${bot.user}: call with ${remoteUser} ${end.established ? 'ended' : 'failed'} (${end.cause}, by ${end.by}${end.statusCode ? `, ${end.statusCode}` : ''})`,
      ),
    );
  }
  printLab(lab, ports.note);
  const control = await startLabControl(lab, (await isTcpPortFree(CONTROL_PORT)) ? CONTROL_PORT : 0);
  process.stdout.write(
    [
      `Control: ${control.url}`,
      `  curl ${control.url}/bots                                   who is in a call, and what each bot hears`,
      `  curl -XPOST ${control.url}/calls -d '{"from":"0901000001","to":"5000"}'   a customer calls agent 5000`,
      `  curl -XPOST ${control.url}/hangup -d '{"user":"0901000001"}'`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: stopping the lab`);
    Promise.all([control.close(), lab.close()]).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('stopping the lab failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const message = error instanceof KamailioError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`lab failed to start: ${message}\n`);
  process.exit(1);
});
