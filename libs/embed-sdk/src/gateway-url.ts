/**
 * The gateway's base URL from the URL the SDK script was loaded from, the way 3C pages find
 * their server: `https://gw.example.com/embed/callgate.js` gives `https://gw.example.com`, and
 * `https://example.com/callgate/embed/callgate.js?v=2` gives `https://example.com/callgate`, and
 * the 3C path `https://gw.example.com/js/embed/cs_voice.js` gives `https://gw.example.com`.
 * Returns undefined when `src` is not an absolute http(s) URL.
 */
export function gatewayUrlFromScriptSrc(src: string | undefined): string | undefined {
  const url = parseUrl(src);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  const base = url.pathname.replace(/\/[^/]*$/, '').replace(/\/(?:js\/)?embed$/, '');
  return url.origin + base;
}

/** `new URL(value)`, or undefined when value is not an absolute URL (no `URL.canParse` on older browsers). */
function parseUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  try {
    return new URL(value);
  } catch {
    // `new URL` throws only for a value that is not an absolute URL: that is the answer, not an error
    return undefined;
  }
}
