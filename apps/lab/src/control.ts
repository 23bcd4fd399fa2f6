import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Lab } from './lab.js';

/**
 * A small HTTP control port for a running lab, for people and for the demo (loopback only):
 *   GET  /bots                      every bot: kind, registration, current call, what it hears
 *   POST /calls   {from, to}        bot `from` calls `to` (e.g. a customer calls agent 5000)
 *   POST /hangup  {user}            bot `user` hangs up its calls
 */
export async function startLabControl(
  lab: Lab,
  port: number,
  host = '127.0.0.1',
): Promise<{ url: string; close(): Promise<void> }> {
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify(body));
  };
  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    let text = '';
    for await (const chunk of req) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > 4096) throw new Error('body too large');
    }
    const parsed: unknown = text ? JSON.parse(text) : {};
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-headers': 'content-type',
      });
      res.end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://lab').pathname;
    if (req.method === 'GET' && path === '/bots') {
      return json(
        res,
        200,
        lab.bots.map((bot) => {
          const call = bot.lastCall && !bot.lastCall.isTerminated ? bot.lastCall : undefined;
          const audio = call ? bot.audio(call) : undefined;
          return {
            user: bot.user,
            kind: bot.kind,
            registered: bot.isRegistered,
            tone: bot.behaviour.tone,
            call: call ? { with: call.remote.user, state: call.state } : null,
            hears: audio ? { frequency: audio.frequency, level: Number(audio.level.toFixed(3)) } : null,
          };
        }),
      );
    }
    if (req.method === 'POST' && path === '/calls') {
      const body = await readJson(req);
      const from = typeof body.from === 'string' ? body.from : '';
      const to = typeof body.to === 'string' ? body.to : '';
      if (!/^[\w.-]{1,40}$/.test(from) || !/^[\w.-]{1,40}$/.test(to)) {
        return json(res, 400, { code: 'INVALID_REQUEST', message: 'from and to are lab users / extensions' });
      }
      const bot = lab.bots.find((b) => b.user === from);
      if (!bot) return json(res, 404, { code: 'NOT_FOUND', message: `no lab bot ${from}` });
      bot.call(to);
      return json(res, 201, { ok: true, from, to });
    }
    if (req.method === 'POST' && path === '/hangup') {
      const body = await readJson(req);
      const bot = lab.bots.find((b) => b.user === body.user);
      if (!bot) return json(res, 404, { code: 'NOT_FOUND', message: `no lab bot ${String(body.user)}` });
      await bot.hangup();
      return json(res, 200, { ok: true });
    }
    json(res, 404, { code: 'NOT_FOUND', message: 'GET /bots, POST /calls {from, to}, POST /hangup {user}' });
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) =>
      json(res, 400, { code: 'INVALID_REQUEST', message: String(err) }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
