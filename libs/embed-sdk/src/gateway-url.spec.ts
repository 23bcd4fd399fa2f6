import { gatewayUrlFromScriptSrc } from './gateway-url.js';

describe('gatewayUrlFromScriptSrc()', () => {
  it('strips /embed/callgate.js from the URL the script was loaded from', () => {
    expect(gatewayUrlFromScriptSrc('http://127.0.0.1:8080/embed/callgate.js')).toBe('http://127.0.0.1:8080');
  });
  it('keeps a path prefix and drops the query', () => {
    expect(gatewayUrlFromScriptSrc('https://example.com/callgate/embed/callgate.js?v=2')).toBe(
      'https://example.com/callgate',
    );
  });
  it('accepts a script served from elsewhere on the gateway', () => {
    expect(gatewayUrlFromScriptSrc('https://gw.example.com/callgate.js')).toBe('https://gw.example.com');
  });
  it('strips the 3C path /js/embed/cs_voice.js, prefix kept', () => {
    expect(gatewayUrlFromScriptSrc('https://gw.example.com/js/embed/cs_voice.js')).toBe(
      'https://gw.example.com',
    );
    expect(gatewayUrlFromScriptSrc('https://example.com/callgate/js/embed/cs_voice.js?v=3')).toBe(
      'https://example.com/callgate',
    );
  });
  it('gives undefined for an inline script, a relative or a non-http URL', () => {
    expect(gatewayUrlFromScriptSrc(undefined)).toBeUndefined();
    expect(gatewayUrlFromScriptSrc('')).toBeUndefined();
    expect(gatewayUrlFromScriptSrc('embed/callgate.js')).toBeUndefined();
    expect(gatewayUrlFromScriptSrc('file:///tmp/callgate.js')).toBeUndefined();
  });
});
