import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { type DomainConfig, formatLocalDateTime } from '@callgate/auth';
import type { LoginResponse } from '@callgate/contracts';

export interface DemoCrmOptions {
  /** where the gateway is reached by this server (login) and by browsers (the SDK script) */
  gatewayUrl: string;
  domain: string;
  domainConfig: DomainConfig;
  port: number;
  host: string;
  /** HTML and CSS */
  publicDir: string;
  /** the page scripts, bundled by scripts/build-web.js */
  scriptsDir: string;
  /** the CRM's customer records by phone number (the card that pops up on an incoming call) */
  customers: Record<string, unknown>;
  /** makes a simulated lab customer call an extension (the demo's "call me" button) */
  simulateCall?: (from: string, to: string) => void;
}

export interface RunningCrm {
  url: string;
  close(): Promise<void>;
}

const MAX_FORM = 4 * 1024;

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/**
 * A tiny CRM, as a CRM team would write one: its server keeps the domain's access key, signs the
 * agent's JWT (what the 3C demo's login.php does), logs the agent in at the gateway, and renders
 * the agent desk page that loads the SDK script from the gateway.
 */
export async function startDemoCrm(options: DemoCrmOptions): Promise<RunningCrm> {
  const key = new TextEncoder().encode(options.domainConfig.accessKey);
  const page = async (name: string, vars: Record<string, string>): Promise<string> => {
    const html = await readFile(join(options.publicDir, name), 'utf8');
    return html.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => vars[k] ?? '');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://crm.local');
    if (req.method === 'GET' && url.pathname === '/') {
      const agents = Object.entries(options.domainConfig.agents)
        .map(
          ([id, a]) => `<option value="${escapeHtml(id)}">${escapeHtml(id)} — ${escapeHtml(a.name)}</option>`,
        )
        .join('');
      const error = url.searchParams.get('error');
      return send(
        res,
        200,
        'text/html',
        await page('login.html', {
          agents,
          error: error ? `<p class="error">${escapeHtml(error)}</p>` : '',
        }),
      );
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      const form = new URLSearchParams(await readBody(req));
      const ipphone = form.get('ipphone') ?? '';
      if (!Object.hasOwn(options.domainConfig.agents, ipphone))
        return redirect(res, '/?error=Unknown%20agent');
      // What the CRM's server does (3C "Bước 1"): sign {ipphone, expired} with the access key...
      const crmToken = await new SignJWT({
        ipphone,
        expired: formatLocalDateTime(new Date(Date.now() + 8 * 3600_000), options.domainConfig.timezone),
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(key);
      // ...and log the agent in at the gateway.
      const answer = await fetch(`${options.gatewayUrl}/${options.domain}/thirdParty/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: crmToken }),
      });
      const body = (await answer.json()) as LoginResponse | { code: string; error?: string; message: string };
      if (!answer.ok || body.code !== 'ok' || !('user' in body)) {
        // a refusal is {code: "errors", error: <callgate's code>, message}
        const code = 'error' in body && body.error ? body.error : body.code;
        return redirect(res, `/?error=${encodeURIComponent(`Login refused: ${code}`)}`);
      }
      res.setHeader('set-cookie', `crm_session=${body.user.token}; HttpOnly; SameSite=Lax; Path=/`);
      return redirect(res, '/desk');
    }
    // The signed-in agent's pages: the 3C desk and the JS-PHONE page, with the session token.
    const agentPages: Record<string, string> = { '/desk': 'desk.html', '/jsphone': 'jsphone.html' };
    const agentPage = req.method === 'GET' ? agentPages[url.pathname] : undefined;
    if (agentPage) {
      const token = /(?:^|;\s*)crm_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (!token) return redirect(res, '/');
      return send(
        res,
        200,
        'text/html',
        await page(agentPage, {
          gatewayUrl: escapeHtml(options.gatewayUrl),
          domain: escapeHtml(options.domain),
          token: escapeHtml(token),
        }),
      );
    }
    if (req.method === 'GET' && url.pathname === '/api/customers') {
      return send(res, 200, 'application/json', JSON.stringify(options.customers));
    }
    if (req.method === 'POST' && url.pathname === '/api/simulate-call') {
      const form = new URLSearchParams(await readBody(req));
      const from = form.get('from') ?? '';
      const to = form.get('to') ?? '';
      if (!options.simulateCall)
        return send(res, 404, 'application/json', '{"code":"NOT_FOUND","message":"no lab"}');
      if (!Object.hasOwn(options.customers, from) || !Object.hasOwn(options.domainConfig.agents, to)) {
        return send(
          res,
          400,
          'application/json',
          '{"code":"INVALID_REQUEST","message":"unknown customer or agent"}',
        );
      }
      options.simulateCall(from, to);
      return send(res, 201, 'application/json', JSON.stringify({ ok: true, from, to }));
    }
    if (req.method === 'POST' && url.pathname === '/logout') {
      res.setHeader('set-cookie', 'crm_session=; Max-Age=0; Path=/');
      return redirect(res, '/');
    }
    if (req.method === 'GET' && /^\/assets\/[\w.-]+\.(css|js|svg)$/.test(url.pathname)) {
      const file = url.pathname.slice('/assets/'.length);
      const type = file.endsWith('.css')
        ? 'text/css'
        : file.endsWith('.svg')
          ? 'image/svg+xml'
          : 'text/javascript';
      const dir = file.endsWith('.js') ? options.scriptsDir : options.publicDir;
      return send(res, 200, type, await readFile(join(dir, file), 'utf8'));
    }
    send(res, 404, 'text/plain', 'not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('[demo-crm]', req.method, req.url, err);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8` });
  res.end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location });
  res.end();
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
