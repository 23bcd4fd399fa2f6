import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { THREE_C_CALLBACK_NAMES, type ThreeCFunctions } from '@callgate/embed-sdk';
import type { TestBrowser } from './browser.js';

/** One callback the page received: its name, then its arguments. */
export type CallRecord = [string, ...unknown[]];

export interface CrmPageOptions {
  /** The gateway's base URL; the page loads `${gatewayUrl}/embed/callgate.js`. */
  gatewayUrl: string;
  token: string;
  /** Default `demo`. */
  domain?: string;
  /** Define every 3C callback, each pushing `[name, ...args]` into `window.calls`; default true. */
  callbacks?: boolean;
  /** Call `csInit(token, domain)` once the script has loaded; default true. */
  init?: boolean;
  /** The whole page instead of the generated one (a page written for the vendor, verbatim). */
  html?: string;
}

/** A static server for test CRM pages, on its own origin (not the gateway's), as in deployments. */
export interface CrmPageServer {
  /** e.g. `http://127.0.0.1:40123` */
  readonly origin: string;
  /** The URL of a page made for these options. */
  url(options: CrmPageOptions): string;
  /** Closes the server and its connections. Idempotent. */
  close(): Promise<void>;
}

/** Starts the CRM page server on a port the kernel picks (listening on port 0: no race for it). */
export async function startCrmPages(): Promise<CrmPageServer> {
  const pages = new Map<string, CrmPageOptions>();
  const server = createServer((req, res) => serve(pages, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  return {
    origin,
    url(options) {
      const id = String(pages.size + 1);
      pages.set(id, options);
      return `${origin}/crm/${id}`;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function serve(pages: ReadonlyMap<string, CrmPageOptions>, req: IncomingMessage, res: ServerResponse): void {
  const match = /^\/crm\/(\d+)$/.exec(new URL(req.url ?? '/', 'http://page').pathname);
  const options = match?.[1] ? pages.get(match[1]) : undefined;
  if (!options) {
    res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(options.html ?? crmPageHtml(options));
}

/** A JSON value safe to inline in a <script>. */
function inline(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** The page: 3C callbacks as global function declarations (as custom.js has them), the SDK, csInit. */
export function crmPageHtml(options: CrmPageOptions): string {
  const callbacks =
    options.callbacks === false
      ? ''
      : THREE_C_CALLBACK_NAMES.map(
          (name) =>
            `function ${name}() { window.calls.push([${inline(name)}].concat([].slice.call(arguments))); }`,
        ).join('\n');
  const init =
    options.init === false
      ? ''
      : `<script>csInit(${inline(options.token)}, ${inline(options.domain ?? 'demo')});</script>`;
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Test CRM</title>
<script>
window.calls = [];
${callbacks}
</script>
<script src="${options.gatewayUrl.replace(/\/+$/, '')}/embed/callgate.js"></script>
${init}
</head>
<body><h1>Test CRM</h1></body>
</html>
`;
}

/** A tab showing a test CRM page, with what it reported. */
export interface CrmTab {
  readonly page: Page;
  /** Uncaught errors of the page (`pageerror`). */
  readonly errors: Error[];
  /** The page's console output, in order, as `type: text`. */
  readonly console: string[];
  /** Every callback the page received so far. */
  calls(): Promise<CallRecord[]>;
  /** The number of callbacks so far: pass it as `after` to wait for a later callback only. */
  mark(): Promise<number>;
  /**
   * Waits for the page's callback `name` (with exactly `args` when given, compared as JSON)
   * among the callbacks after index `after`; returns it. Fails after `timeoutMs` (default
   * 10 s) with the callbacks, console and errors of the page in the message.
   */
  waitForCallback(
    name: string,
    options?: { args?: unknown[]; after?: number; timeoutMs?: number },
  ): Promise<CallRecord>;
  /** Waits until `window.csVoice.enableVoice` is `expected`. */
  waitForVoice(expected: boolean, timeoutMs?: number): Promise<void>;
  /** `window.csVoice.enableVoice` now. */
  voice(): Promise<boolean | undefined>;
  /** Calls the page's 3C function `name` (as the CRM's own code would) and returns what it resolves to. */
  call<K extends keyof ThreeCFunctions>(
    name: K,
    ...args: Parameters<ThreeCFunctions[K]>
  ): Promise<Awaited<ReturnType<ThreeCFunctions[K]>>>;
  close(): Promise<void>;
}

/**
 * How often a wait re-checks the page. An interval, not requestAnimationFrame: a tab that is not
 * in front may get no animation frames.
 */
const POLL_MS = 25;

interface PageWindow {
  calls?: CallRecord[];
  csVoice?: { enableVoice?: boolean };
}

/** Opens a CRM page in a new tab of `browser` and waits for it to load. */
export async function openCrmTab(
  browser: TestBrowser,
  pages: CrmPageServer,
  options: CrmPageOptions,
): Promise<CrmTab> {
  const page = await browser.newPage();
  const errors: Error[] = [];
  const consoleLines: string[] = [];
  page.on('pageerror', (error) => errors.push(error));
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));

  const calls = (): Promise<CallRecord[]> =>
    page.evaluate(() => (window as unknown as PageWindow).calls ?? []);

  const explain = async (what: string, timeoutMs: number): Promise<Error> => {
    const seen = page.isClosed() ? '(page closed)' : JSON.stringify(await calls());
    return new Error(
      `${what} did not happen within ${timeoutMs} ms on ${page.url()}\n` +
        `callbacks: ${seen}\nconsole:\n  ${consoleLines.join('\n  ')}\npage errors: ${errors.map(String).join('; ')}`,
    );
  };

  const tab: CrmTab = {
    page,
    errors,
    console: consoleLines,
    calls,
    async mark() {
      return (await calls()).length;
    },
    async waitForCallback(name, { args, after = 0, timeoutMs = 10_000 } = {}) {
      const expected = args === undefined ? undefined : JSON.stringify(args);
      try {
        const handle = await page.waitForFunction(
          ({ name, expected, after }) => {
            const all = (window as unknown as PageWindow).calls ?? [];
            for (let i = after; i < all.length; i++) {
              const call = all[i];
              if (
                call &&
                call[0] === name &&
                (expected === undefined || JSON.stringify(call.slice(1)) === expected)
              ) {
                return call;
              }
            }
            return undefined;
          },
          { name, expected, after },
          { timeout: timeoutMs, polling: POLL_MS },
        );
        return (await handle.jsonValue()) as CallRecord;
      } catch (error) {
        const label = `${name}(${args === undefined ? '...' : JSON.stringify(args).slice(1, -1)})`;
        const e = await explain(`callback ${label} after #${after}`, timeoutMs);
        e.cause = error;
        throw e;
      }
    },
    async waitForVoice(expected, timeoutMs = 10_000) {
      try {
        await page.waitForFunction(
          (expected) => (window as unknown as PageWindow).csVoice?.enableVoice === expected,
          expected,
          { timeout: timeoutMs, polling: POLL_MS },
        );
      } catch (error) {
        const e = await explain(`csVoice.enableVoice === ${expected}`, timeoutMs);
        e.cause = error;
        throw e;
      }
    },
    voice() {
      return page.evaluate(() => (window as unknown as PageWindow).csVoice?.enableVoice);
    },
    call<K extends keyof ThreeCFunctions>(name: K, ...args: Parameters<ThreeCFunctions[K]>) {
      return page.evaluate(
        ({ name, args }) => {
          const fn = (window as unknown as Record<string, unknown>)[name];
          if (typeof fn !== 'function') throw new Error(`the page has no global ${name}()`);
          return (fn as (...a: unknown[]) => unknown)(...args);
        },
        { name, args },
      ) as Promise<Awaited<ReturnType<ThreeCFunctions[K]>>>;
    },
    async close() {
      if (!page.isClosed()) await page.close();
    },
  };

  await page.goto(pages.url(options), { waitUntil: 'load' });
  return tab;
}
