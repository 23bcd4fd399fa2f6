/**
 * Entry of `sipjs.js` (a classic script, IIFE), served by the gateway at the vendor's name, under
 * whatever folder the page used for Alohub's files (`/sipjs.js`, `/lib/sipjs.js`, ...):
 *
 * ```html
 * <script src="https://gateway.example.com/lib/jssip-3.10.0.min.js"></script>  <!-- a no-op -->
 * <script src="https://gateway.example.com/lib/sipjs.js"></script>
 * ```
 *
 * Installs the JS-PHONE widget (its functions and flags on `window`), `window.callgate`
 * (`on`/`off`, `registered`, `jsPhone`, `version`) and `window.JsSIP` (the bundled JsSIP, which
 * the page used to get from `jssip-3.10.x.min.js`). The gateway is found from this script's own
 * URL: the gateway adds the path it served the script at (`data-callgate-path`), which is cut
 * from the end of the URL.
 */
import JsSIP from 'jssip';
import type { ClientEventMap } from './client.js';
import type { Listener } from './emitter.js';
import { gatewayUrlFromSipjs } from './js-phone-vendor.js';
import { installJsPhoneWidget, type JsPhoneWidgetFunctions } from './js-phone-widget.js';
import { VERSION } from './version.js';

export interface SipjsGlobal {
  readonly gatewayUrl: string | undefined;
  on<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): () => void;
  off<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): void;
  readonly registered: boolean;
  readonly jsPhone: JsPhoneWidgetFunctions;
  readonly version: string;
}

const script = document.currentScript instanceof HTMLScriptElement ? document.currentScript : undefined;
const gatewayUrl = gatewayUrlFromSipjs(script?.src, script?.getAttribute('data-callgate-path') ?? undefined);

if (Reflect.get(window, 'callgate') !== undefined) {
  console.warn(
    '[callgate] sipjs.js or callgate.js was loaded already on this page; the first copy stays in use',
  );
} else {
  const widget = installJsPhoneWidget(window, { gatewayUrl: () => gatewayUrl });
  const callgate: SipjsGlobal = {
    gatewayUrl,
    on: (type, handler) => widget.facade.on(type, handler),
    off: (type, handler) => widget.facade.off(type, handler),
    get registered() {
      return widget.facade.registered;
    },
    jsPhone: widget.functions(),
    version: VERSION,
  };
  Object.assign(window, { callgate });
  // the page had `JsSIP` from the vendor's jssip-3.10.x.min.js (now a no-op): the bundled one
  if (Reflect.get(window, 'JsSIP') === undefined) Object.assign(window, { JsSIP });
}
