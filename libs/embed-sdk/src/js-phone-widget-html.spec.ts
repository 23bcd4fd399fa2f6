import { WIDGET_CSS, WIDGET_ROOT_CLASS, callPanelsHtml, loginHtml } from './js-phone-widget-html.js';

/** The selectors of the top-level rules (and of @keyframes' names), from plain CSS without nesting. */
function selectors(css: string): string[] {
  const found: string[] = [];
  let depth = 0;
  let buffer = '';
  for (const char of css) {
    if (char === '{') {
      if (depth === 0) found.push(buffer.trim());
      depth++;
      buffer = '';
    } else if (char === '}') {
      depth--;
      buffer = '';
    } else if (depth === 0) {
      buffer += char;
    }
  }
  return found;
}

const count = (html: string, id: string): number => html.split(`id="${id}"`).length - 1;

describe('JS-PHONE widget markup and stylesheet', () => {
  it('scopes every rule to a root the widget built', () => {
    const all = selectors(WIDGET_CSS);
    expect(all.length).toBeGreaterThan(20);
    for (const selector of all) {
      if (selector.startsWith('@keyframes alohub-')) continue;
      for (const part of selector.split(',')) {
        expect(part.trim().startsWith(`#alohub_sipml5.${WIDGET_ROOT_CLASS}`)).toBe(true);
      }
    }
  });

  it('has every vendor id of the login form once, the form open', () => {
    const html = loginHtml();
    for (const id of [
      'alohub_login_content',
      'btnOpenLoginForm',
      'alohub_login_form',
      'txtRegStatus',
      'txtDomain',
      'txtApiKey',
      'txtWebsocketServerUrl',
      'txtIceServers',
      'txtDisplayName',
      'txtPrivateIdentity',
      'txtPublicIdentity',
      'txtPassword',
      'txtRealm',
      'btnRegister',
    ]) {
      expect([id, count(html, id)]).toEqual([id, 1]);
    }
    expect(html).toContain('id="alohub_login_form" class="is_open"');
    expect(html).toMatch(/id="txtPassword" type="password"/);
  });

  it('builds only the call panels asked for, each with its ids and a minimize icon', () => {
    const html = callPanelsHtml(['dial', 'ringing', 'answer']);
    for (const id of [
      'alohub_call_dial',
      'txtPhoneNumber',
      'alohub_calling_content',
      'txtPhoneCalling',
      'alohub_answer_content',
      'txtPhoneAnswer',
      'txtCallTime',
    ]) {
      expect([id, count(html, id)]).toEqual([id, 1]);
    }
    expect(html.split('data-alohub="minimizeContent"').length - 1).toBe(3);
    expect(html).toContain('<div id="alohub_call_dial"');
    expect(html).toContain('<input id="txtPhoneNumber"');
    const answerOnly = callPanelsHtml(['answer']);
    expect(count(answerOnly, 'alohub_call_dial')).toBe(0);
    expect(count(answerOnly, 'txtCallTime')).toBe(1);
  });
});
