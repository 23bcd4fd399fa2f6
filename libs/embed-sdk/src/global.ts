/**
 * Entry of the classic script `/embed/callgate.js` (an IIFE), for pages written for 3C:
 *
 * ```html
 * <script src="https://gateway.example.com/embed/callgate.js"></script>
 * <script>csInit(token, 'demo');</script>
 * ```
 *
 * Installs `window.callgate = { connect, configure, version }`, the 3C functions (`csInit`,
 * `csEnableCall`, ...) and `window.csVoice`. The gateway URL is, in order of precedence:
 * `callgate.configure({ gatewayUrl })`, `window.CALLGATE_URL`, then the URL this script was
 * loaded from (`https://gateway.example.com/embed/callgate.js` gives `https://gateway.example.com`).
 */
import { connect } from './client.js';
import { gatewayUrlFromScriptSrc } from './gateway-url.js';
import { installThreeC } from './three-c.js';
import { VERSION } from './version.js';

export interface CallgateGlobal {
  connect: typeof connect;
  /** Sets the gateway URL used by `csInit` (overrides `window.CALLGATE_URL` and the script URL). */
  configure(options: { gatewayUrl?: string }): void;
  /** The gateway URL `csInit` will use now, if known. */
  readonly gatewayUrl: string | undefined;
  readonly version: string;
}

// document.currentScript is only set while the script first runs: read it now
const loadedFrom =
  document.currentScript instanceof HTMLScriptElement ? document.currentScript.src : undefined;
const scriptGatewayUrl = gatewayUrlFromScriptSrc(loadedFrom);
let configuredGatewayUrl: string | undefined;

function currentGatewayUrl(): string | undefined {
  const fromWindow: unknown = Reflect.get(window, 'CALLGATE_URL');
  return (
    configuredGatewayUrl ??
    (typeof fromWindow === 'string' && fromWindow !== '' ? fromWindow : scriptGatewayUrl)
  );
}

const callgate: CallgateGlobal = {
  connect,
  configure(options) {
    if (options.gatewayUrl !== undefined) configuredGatewayUrl = options.gatewayUrl.replace(/\/+$/, '');
  },
  get gatewayUrl() {
    return currentGatewayUrl();
  },
  version: VERSION,
};

if (Reflect.get(window, 'callgate') !== undefined) {
  // a second copy would install a second facade next to the first one's live connection
  console.warn('[callgate] callgate.js was loaded twice on this page; the first copy stays in use');
} else {
  Object.assign(window, { callgate });
  installThreeC(window, { gatewayUrl: currentGatewayUrl });
}
