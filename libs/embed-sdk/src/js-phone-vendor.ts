/**
 * Pure pieces of the Alohub JS-PHONE widget (`sipjs.js`): the vendor's `localStorage` keys, where
 * the domain comes from, the call timer's text and the gateway URL of the served script.
 */

/** The form inputs `saveCredentials` / `loadCredentials` keep, with the vendor's storage keys. */
export const VENDOR_STORAGE_KEYS = {
  txtWebsocketServerUrl: 'alohub.identity.websocket_server_url',
  txtPublicIdentity: 'alohub.identity.impu',
  txtPrivateIdentity: 'alohub.identity.impi',
  txtDisplayName: 'alohub.identity.display_name',
  txtDomain: 'alohub.identity.endpoint',
  txtApiKey: 'alohub.identity.key',
  txtIceServers: 'alohub.identity.ice_servers',
  txtRealm: 'alohub.identity.realm',
} as const;

/** The vendor's key of the SIP password: callgate never writes it, and removes one it finds. */
export const VENDOR_PASSWORD_KEY = 'alohub.identity.password';

export type VendorInputId = keyof typeof VENDOR_STORAGE_KEYS;
export const VENDOR_INPUT_IDS = Object.keys(VENDOR_STORAGE_KEYS) as VendorInputId[];

/**
 * The callgate domain named by a make-call endpoint (`https://gw/alohub/demo/makeCall` gives
 * `demo`), or undefined when the endpoint is not a callgate one.
 */
export function domainFromEndpoint(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  const match = /(?:^|\/)alohub\/([a-z0-9][a-z0-9_-]{0,62})(?:\/|$)/.exec(endpoint.trim());
  return match?.[1];
}

/** The user and host of `sip:<user>@<host>` (or a bare user). */
export function parseSipIdentity(value: string | undefined): { user?: string; host?: string } {
  const match = /^\s*<?(?:sips?:)?([^@\s:;<>]+)(?:@([^\s;>:]+))?/i.exec(value ?? '');
  if (!match?.[1]) return {};
  return { user: match[1], ...(match[2] ? { host: match[2] } : {}) };
}

/** `mm:ss`, or `h:mm:ss` from an hour on. */
export function formatCallTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = String(total % 60).padStart(2, '0');
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${String(m).padStart(2, '0')}:${s}`;
}

/**
 * The gateway's base URL from the URL `sipjs.js` was loaded from and the path the gateway served
 * it at (`https://example.com/callgate/lib/sipjs.js` served as `/lib/sipjs.js` gives
 * `https://example.com/callgate`). Without the served path, the folder of the script is dropped.
 */
export function gatewayUrlFromSipjs(
  src: string | undefined,
  servedPath: string | undefined,
): string | undefined {
  if (!src) return undefined;
  let url: URL;
  try {
    url = new URL(src);
  } catch {
    // not an absolute URL: unknown
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const path = url.pathname;
  if (servedPath && servedPath.startsWith('/') && path.endsWith(servedPath)) {
    return url.origin + path.slice(0, path.length - servedPath.length);
  }
  return url.origin;
}
