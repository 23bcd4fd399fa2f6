/**
 * Entry of the classic script `/embed/callgate.js` (an IIFE), for pages written for 3C or for
 * Alohub JS-PHONE:
 *
 * ```html
 * <script src="https://gateway.example.com/embed/callgate.js"></script>
 * <script>csInit(token, 'demo');</script>
 * <!-- or, JS-PHONE: -->
 * <script>callgate.configure({ domain: 'demo', token }); onRegister();</script>
 * ```
 *
 * Installs `window.callgate` (`connect`, `configure`, `on`/`off`, `registered`, `jsPhone`,
 * `version`), the 3C functions (`csInit`, `csEnableCall`, ...) with `window.csVoice`, and the
 * JS-PHONE functions (`onRegister`, `onCall`, ...; a name the page already defines is kept).
 * Each facade opens its own connection, only when the page first calls `csInit` or
 * `onRegister`: a page that uses one of them has one connection.
 *
 * The gateway URL is, in order of precedence: `callgate.configure({ gatewayUrl })`,
 * `window.CALLGATE_URL`, then the URL this script was loaded from
 * (`https://gateway.example.com/embed/callgate.js` gives `https://gateway.example.com`).
 */
import { connect, type ClientEventMap } from './client.js';
import type { Listener } from './emitter.js';
import { gatewayUrlFromScriptSrc } from './gateway-url.js';
import { installJsPhone, type JsPhoneFunctions } from './js-phone.js';
import { installThreeC } from './three-c.js';
import { VERSION } from './version.js';

/** What `callgate.configure` accepts; every field is optional and replaces the one set before. */
export interface CallgateConfig {
  /** The gateway's base URL, for `csInit` and `onRegister`. */
  gatewayUrl?: string;
  /** The domain `onRegister` connects to (JS-PHONE; `csInit` takes its own). */
  domain?: string;
  /**
   * The gateway session token `onRegister` connects with: `user.token` of
   * `POST /{domain}/thirdParty/login`, or the CRM token that was logged in. Kept in memory only.
   */
  token?: string;
}

export interface CallgateGlobal {
  connect: typeof connect;
  /** Sets the gateway URL (both facades) and the JS-PHONE domain and token. */
  configure(options: CallgateConfig): void;
  /** The gateway URL `csInit` and `onRegister` will use now, if known. */
  readonly gatewayUrl: string | undefined;
  /** Listens to an event of the JS-PHONE connection (`onRegister`); returns a function that removes it. */
  on<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): () => void;
  off<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): void;
  /** Whether the JS-PHONE connection is up and accepted by the gateway. */
  readonly registered: boolean;
  /** The JS-PHONE functions, also where a page's own global of the same name shadows one. */
  readonly jsPhone: JsPhoneFunctions;
  readonly version: string;
}

// document.currentScript is only set while the script first runs: read it now
const loadedFrom =
  document.currentScript instanceof HTMLScriptElement ? document.currentScript.src : undefined;
const scriptGatewayUrl = gatewayUrlFromScriptSrc(loadedFrom);
let configuredGatewayUrl: string | undefined;
let configuredDomain: string | undefined;
let configuredToken: string | undefined;

function currentGatewayUrl(): string | undefined {
  const fromWindow: unknown = Reflect.get(window, 'CALLGATE_URL');
  return (
    configuredGatewayUrl ??
    (typeof fromWindow === 'string' && fromWindow !== '' ? fromWindow : scriptGatewayUrl)
  );
}

/** A configured string: given and non-empty replaces, empty clears, absent keeps. */
function setting(value: unknown, previous: string | undefined): string | undefined {
  if (value === undefined) return previous;
  const text = typeof value === 'string' || typeof value === 'number' ? String(value).trim() : '';
  return text === '' ? undefined : text;
}

if (Reflect.get(window, 'callgate') !== undefined) {
  // a second copy would install second facades next to the first one's live connections
  console.warn('[callgate] callgate.js was loaded twice on this page; the first copy stays in use');
} else {
  installThreeC(window, { gatewayUrl: currentGatewayUrl });
  const jsPhone = installJsPhone(window, {
    gatewayUrl: currentGatewayUrl,
    credentials: () => ({ domain: configuredDomain, token: configuredToken }),
  });
  const jsPhoneFunctions = jsPhone.functions();

  const callgate: CallgateGlobal = {
    connect,
    configure(options) {
      if (typeof options !== 'object' || options === null) return;
      const url = setting(options.gatewayUrl, configuredGatewayUrl);
      configuredGatewayUrl = url?.replace(/\/+$/, '');
      configuredDomain = setting(options.domain, configuredDomain);
      configuredToken = setting(options.token, configuredToken);
    },
    get gatewayUrl() {
      return currentGatewayUrl();
    },
    on: (type, handler) => jsPhone.on(type, handler),
    off: (type, handler) => jsPhone.off(type, handler),
    get registered() {
      return jsPhone.registered;
    },
    jsPhone: jsPhoneFunctions,
    version: VERSION,
  };
  Object.assign(window, { callgate });
}
