import {
  domainFromEndpoint,
  formatCallTime,
  gatewayUrlFromSipjs,
  parseSipIdentity,
} from './js-phone-vendor.js';

describe('JS-PHONE widget helpers', () => {
  it('finds the domain of a callgate make-call endpoint, and nothing in other endpoints', () => {
    expect(domainFromEndpoint('https://gw.example.com/alohub/demo/makeCall')).toBe('demo');
    expect(domainFromEndpoint('https://example.com/callgate/alohub/acme_2/makeCall?x=1')).toBe('acme_2');
    expect(domainFromEndpoint('/alohub/demo')).toBe('demo');
    expect(domainFromEndpoint('https://api.alohub.vn/call/makeCall')).toBeUndefined();
    expect(domainFromEndpoint('https://gw/alohub/Demo/makeCall')).toBeUndefined();
    expect(domainFromEndpoint('')).toBeUndefined();
    expect(domainFromEndpoint(undefined)).toBeUndefined();
  });

  it('parses sip:<ext>@<host>', () => {
    expect(parseSipIdentity('sip:5003@127.0.0.1')).toEqual({ user: '5003', host: '127.0.0.1' });
    expect(parseSipIdentity('<sip:5003@pbx.example.com:5060>')).toEqual({
      user: '5003',
      host: 'pbx.example.com',
    });
    expect(parseSipIdentity('5003')).toEqual({ user: '5003' });
    expect(parseSipIdentity('')).toEqual({});
  });

  it('formats the call timer', () => {
    expect(formatCallTime(0)).toBe('00:00');
    expect(formatCallTime(61_999)).toBe('01:01');
    expect(formatCallTime(3_723_000)).toBe('1:02:03');
    expect(formatCallTime(-5)).toBe('00:00');
  });

  it('finds the gateway from the served script', () => {
    expect(gatewayUrlFromSipjs('https://gw.example.com/sipjs.js', '/sipjs.js')).toBe(
      'https://gw.example.com',
    );
    expect(gatewayUrlFromSipjs('https://gw.example.com/lib/sipjs.js', '/lib/sipjs.js')).toBe(
      'https://gw.example.com',
    );
    expect(gatewayUrlFromSipjs('https://example.com/callgate/demo/sipjs.js?v=3', '/demo/sipjs.js')).toBe(
      'https://example.com/callgate',
    );
    expect(gatewayUrlFromSipjs('https://gw.example.com/lib/sipjs.js', undefined)).toBe(
      'https://gw.example.com',
    );
    expect(gatewayUrlFromSipjs('file:///x/sipjs.js', '/x/sipjs.js')).toBeUndefined();
    expect(gatewayUrlFromSipjs(undefined, undefined)).toBeUndefined();
  });
});
