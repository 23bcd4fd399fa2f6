import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** The flags of every test browser: no sandbox (containers), fake media, no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

export interface TestBrowser {
  browser: Browser;
  /** A new tab; all tabs share one browser context, like the tabs of one browser window. */
  newPage(): Promise<Page>;
  /** Closes the browser and every tab. Idempotent. */
  close(): Promise<void>;
}

/** The Debian Chromium: /usr/bin/chromium, or whatever `chromium` is on the PATH. */
export function chromiumPath(): string {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (existsSync(candidate)) return candidate;
  }
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const found = execFileSync('which', [name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      if (found) return found;
    } catch {
      // `which` exits 1 when the name is not on the PATH: try the next name
    }
  }
  throw new Error(
    'Chromium is not installed (no /usr/bin/chromium, none on the PATH): run bash scripts/ensure-deps.sh',
  );
}

/**
 * Launches headless Chromium with a fresh profile (a temporary user-data-dir made by Playwright);
 * `extraArgs` are added to {@link CHROMIUM_ARGS} (e.g. a fake microphone file).
 */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  let context: Promise<BrowserContext> | undefined;
  let closed = false;
  return {
    browser,
    async newPage() {
      context ??= browser.newContext();
      return (await context).newPage();
    },
    async close() {
      if (closed) return;
      closed = true;
      await browser.close();
    },
  };
}
