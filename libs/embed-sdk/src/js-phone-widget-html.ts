/**
 * The markup and stylesheet the JS-PHONE widget builds when the page has none: the vendor's ids,
 * buttons that name the global they call (`data-alohub`), and a stylesheet whose every rule starts
 * with `#alohub_sipml5.alohub-cg`, so it styles only a widget it built and leaks nothing.
 */

/** The class the widget puts on `#alohub_sipml5` when it built (part of) the UI. */
export const WIDGET_ROOT_CLASS = 'alohub-cg';

const R = `#alohub_sipml5.${WIDGET_ROOT_CLASS}`;

const head = (title: string): string => `
<div class="alohub-head">
  <span class="alohub-logo" aria-hidden="true">☎</span>
  <span class="alohub-title">${title}</span>
  <button type="button" class="alohub-icon" data-alohub="minimizeContent" title="Thu nhỏ" aria-label="Thu nhỏ">–</button>
</div>`;

const field = (id: string, label: string, type = 'text', placeholder = ''): string => `
    <label class="alohub-field" for="${id}"><span>${label}</span>
      <input id="${id}" type="${type}" autocomplete="off" spellcheck="false"${placeholder ? ` placeholder="${placeholder}"` : ''}>
    </label>`;

/** `#alohub_login_content`: the toggle button, the form with every vendor input, the status line. */
export function loginHtml(): string {
  return `
<div id="alohub_login_content" class="alohub-panel">${head('Alohub')}
  <div class="alohub-body">
    <button type="button" id="btnOpenLoginForm" class="alohub-link" data-alohub="onTogglePhone">Thông tin đăng nhập</button>
    <div id="alohub_login_form" class="is_open">${field('txtPrivateIdentity', 'Số máy lẻ (extension)', 'text', '5000')}${field(
      'txtPassword',
      'Mật khẩu SIP',
      'password',
    )}${field('txtPublicIdentity', 'Public identity', 'text', 'sip:5000@pbx.example.com')}${field(
      'txtDisplayName',
      'Tên hiển thị',
    )}${field('txtDomain', 'Endpoint', 'text', 'https://gateway/alohub/{domain}/makeCall')}${field(
      'txtApiKey',
      'API key',
      'password',
    )}
      <details class="alohub-more"><summary>Nâng cao</summary>${field('txtRealm', 'Realm')}${field(
        'txtWebsocketServerUrl',
        'WebSocket server',
        'text',
        'wss://…',
      )}${field('txtIceServers', 'ICE servers')}
      </details>
      <button type="button" id="btnRegister" class="alohub-btn alohub-primary" data-alohub="onRegister">Đăng nhập</button>
    </div>
    <div id="txtRegStatus" class="alohub-status" role="status"></div>
  </div>
</div>`;
}

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

const PANEL_HTML = {
  dial: () => `
<div id="alohub_call_dial" class="alohub-panel">${head('Gọi điện')}
  <div class="alohub-body">
    <input id="txtPhoneNumber" class="alohub-number-input" type="tel" autocomplete="off" placeholder="Nhập số điện thoại">
    <div class="alohub-keypad">${KEYS.map(
      (k) =>
        `<button type="button" class="alohub-key" data-alohub="addPhoneNumber" data-arg="${k}">${k}</button>`,
    ).join('')}</div>
    <button type="button" id="btnCall" class="alohub-btn alohub-call" data-alohub="onCall">Gọi</button>
    <div id="alohub_call_status" class="alohub-status" role="status"></div>
    <div id="alohub_agent" class="alohub-agent"></div>
  </div>
</div>`,
  ringing: () => `
<div id="alohub_calling_content" class="alohub-panel">${head('Cuộc gọi')}
  <div class="alohub-body alohub-center">
    <div class="alohub-avatar alohub-pulse" aria-hidden="true">☎</div>
    <div id="txtCallingLabel" class="alohub-label">Đang gọi…</div>
    <div id="txtPhoneCalling" class="alohub-number"></div>
    <div class="alohub-actions">
      <button type="button" id="btnAlohubAnswer" class="alohub-btn alohub-call" data-alohub="onAnswer" hidden>Trả lời</button>
      <button type="button" class="alohub-btn alohub-hangup" data-alohub="onHangUp">Kết thúc</button>
    </div>
  </div>
</div>`,
  answer: () => `
<div id="alohub_answer_content" class="alohub-panel">${head('Đang đàm thoại')}
  <div class="alohub-body alohub-center">
    <div class="alohub-avatar" aria-hidden="true">☎</div>
    <div id="txtPhoneAnswer" class="alohub-number"></div>
    <div id="txtCallTime" class="alohub-time">00:00</div>
    <div class="alohub-actions">
      <button type="button" class="alohub-btn alohub-hangup" data-alohub="onHangUp">Kết thúc</button>
    </div>
  </div>
</div>`,
};

/** The call panels the page lacks: dial (`#alohub_call_dial`), calling, answer. */
export function callPanelsHtml(panels: readonly (keyof typeof PANEL_HTML)[]): string {
  return panels.map((panel) => PANEL_HTML[panel]()).join('');
}

/** Every rule starts with the root's id and class: nothing outside a built widget is touched. */
export const WIDGET_CSS = `
${R}{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:300px;box-sizing:border-box;font:14px/1.4 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2937;text-align:left}
${R} *,${R} *::before,${R} *::after{box-sizing:border-box}
${R} audio{display:none}
${R} .alohub-panel{background:#fff;border-radius:14px;box-shadow:0 10px 30px rgba(15,23,42,.18),0 2px 6px rgba(15,23,42,.08);overflow:hidden}
${R} .alohub-head{display:flex;align-items:center;gap:8px;padding:10px 12px;background:linear-gradient(135deg,#0e7490,#0891b2);color:#fff}
${R} .alohub-logo{font-size:16px}
${R} .alohub-title{flex:1;font-weight:600;letter-spacing:.2px}
${R} .alohub-icon{border:0;background:rgba(255,255,255,.18);color:#fff;width:26px;height:26px;border-radius:50%;cursor:pointer;font:600 16px/1 inherit;padding:0}
${R} .alohub-icon:hover{background:rgba(255,255,255,.3)}
${R} .alohub-body{padding:14px}
${R} .alohub-center{text-align:center}
${R} .alohub-link{border:0;background:none;color:#0e7490;cursor:pointer;padding:0 0 8px;font:inherit;font-weight:600}
${R} #alohub_login_form{display:none}
${R} #alohub_login_form.is_open{display:block}
${R} .alohub-field{display:block;margin:0 0 8px}
${R} .alohub-field span{display:block;font-size:12px;color:#6b7280;margin:0 0 2px}
${R} input{width:100%;padding:7px 9px;border:1px solid #d1d5db;border-radius:8px;font:inherit;color:inherit;background:#fff;margin:0}
${R} input:focus{outline:2px solid #67e8f9;border-color:#0891b2}
${R} .alohub-more{margin:0 0 8px;font-size:12px;color:#6b7280}
${R} .alohub-more summary{cursor:pointer;margin:0 0 6px}
${R} .alohub-btn{display:inline-block;border:0;border-radius:999px;padding:9px 18px;font:inherit;font-weight:600;cursor:pointer;color:#fff;background:#6b7280}
${R} .alohub-btn[hidden]{display:none}
${R} .alohub-primary{width:100%;background:#0891b2}
${R} .alohub-primary:hover{background:#0e7490}
${R} .alohub-call{background:#16a34a}
${R} .alohub-call:hover{background:#15803d}
${R} .alohub-hangup{background:#dc2626}
${R} .alohub-hangup:hover{background:#b91c1c}
${R} #btnCall{width:100%;margin-top:10px}
${R} .alohub-status{margin-top:8px;font-size:12px;min-height:1em;color:#6b7280}
${R} .alohub-status[data-state="error"]{color:#b91c1c}
${R} .alohub-status[data-state="ok"]{color:#15803d}
${R} .alohub-agent{margin-top:4px;font-size:12px;color:#6b7280;text-align:center}
${R} .alohub-number-input{font-size:20px;text-align:center;letter-spacing:1px}
${R} .alohub-keypad{display:grid;grid-template-columns:repeat(3,1fr);gap:6px;margin-top:10px}
${R} .alohub-key{border:1px solid #e5e7eb;background:#f9fafb;border-radius:10px;padding:8px 0;font:600 16px/1 inherit;cursor:pointer;color:#111827}
${R} .alohub-key:hover{background:#ecfeff}
${R} .alohub-avatar{width:64px;height:64px;margin:4px auto 10px;border-radius:50%;background:#cffafe;color:#0e7490;font-size:30px;line-height:64px}
${R} .alohub-pulse{animation:alohub-pulse 1.4s ease-in-out infinite}
@keyframes alohub-pulse{0%,100%{box-shadow:0 0 0 0 rgba(8,145,178,.45)}50%{box-shadow:0 0 0 12px rgba(8,145,178,0)}}
${R} .alohub-label{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.6px}
${R} .alohub-number{font-size:22px;font-weight:700;margin:2px 0 6px;word-break:break-all}
${R} .alohub-time{font:600 18px/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;color:#0e7490;margin-bottom:12px}
${R} .alohub-actions{display:flex;gap:10px;justify-content:center;margin-top:8px}
${R}.alohub_minimized{width:220px}
${R}.alohub_minimized .alohub-body{display:none}
`;
