import type { EventDataMap } from '@callgate/contracts';
import type { CommandAnswer } from './client.js';
import { JsPhoneFacade, type JsPhoneOptions, type RegisterResult } from './js-phone.js';
import {
  domainFromEndpoint,
  formatCallTime,
  parseSipIdentity,
  VENDOR_INPUT_IDS,
  VENDOR_PASSWORD_KEY,
  VENDOR_STORAGE_KEYS,
} from './js-phone-vendor.js';
import { WIDGET_CSS, WIDGET_ROOT_CLASS, callPanelsHtml, loginHtml } from './js-phone-widget-html.js';

/**
 * The Alohub JS-PHONE widget that `sipjs.js` is for the vendor: it builds the UI into
 * `#alohub_sipml5` (or uses the page's own markup), signs the agent in with the form's extension
 * and SIP password, switches its panels with the call, and answers every incoming call by itself
 * (`isAutoAnswer = 1`). Calls run through the gateway like every callgate tab.
 */
export interface JsPhoneWidgetFunctions {
  /** Signs in with the form (extension + password), then connects and makes this tab the phone. */
  onRegister(): Promise<RegisterResult>;
  onCall(number?: string): Promise<CommandAnswer<'call.dial'>>;
  onAnswer(): Promise<CommandAnswer<'call.answer'>>;
  onHangUp(): Promise<CommandAnswer<'call.hangup'>>;
  /** Toggles the class `is_open` on `#alohub_login_form`; returns whether it is open now. */
  onTogglePhone(): boolean;
  /** Toggles the widget between its full size and its header only; returns whether it is minimized. */
  minimizeContent(): boolean;
  /** Shows the panel of the current state (login, dial, ringing or answer). */
  loadContentPhone(): void;
  loadContentPhoneDial(): void;
  /** The calling panel: the number called, or calling in. */
  loadContentPhoneRinging(phone?: string): void;
  /** The answer panel, with its running timer `#txtCallTime`. */
  loadContentPhoneAnswer(phone?: string): void;
  /** Builds the call panels into `#alohub_sipml5` (those the page does not have). */
  addHtml(): void;
  /** Builds the login panel into `#alohub_sipml5` (when the page does not have it). */
  addHtmlLogin(): void;
  /** Appends a digit (keypad) to `#txtPhoneNumber`. */
  addPhoneNumber(digit: string): void;
  startRingTone(): void;
  stopRingTone(): void;
  startRingbackTone(): void;
  stopRingbackTone(): void;
  /** Stores the form (never the password) under the vendor's `alohub.identity.*` keys. */
  saveCredentials(): Record<string, string> | null;
  /** Fills the form from the vendor's `alohub.identity.*` keys (never a password). */
  loadCredentials(): Record<string, string> | null;
  /** The vendor's REST "make call" to the endpoint in `#txtDomain` with the key in `#txtApiKey`. */
  alohubMakeCall(phone?: string): Promise<Record<string, unknown>>;
}

export const JS_PHONE_WIDGET_FUNCTION_NAMES = [
  'onRegister',
  'onCall',
  'onAnswer',
  'onHangUp',
  'onTogglePhone',
  'minimizeContent',
  'loadContentPhone',
  'loadContentPhoneDial',
  'loadContentPhoneRinging',
  'loadContentPhoneAnswer',
  'addHtml',
  'addHtmlLogin',
  'addPhoneNumber',
  'startRingTone',
  'stopRingTone',
  'startRingbackTone',
  'stopRingbackTone',
  'saveCredentials',
  'loadCredentials',
  'alohubMakeCall',
] as const satisfies readonly (keyof JsPhoneWidgetFunctions)[];

/** The panels and the ids of their elements. */
const PANELS = {
  login: 'alohub_login_content',
  dial: 'alohub_call_dial',
  ringing: 'alohub_calling_content',
  answer: 'alohub_answer_content',
} as const;
type Panel = keyof typeof PANELS;

const ROOT_ID = 'alohub_sipml5';
const LOG = '[callgate]';

export interface JsPhoneWidgetOptions {
  /** The gateway's base URL (from the script's own URL). */
  gatewayUrl: () => string | undefined;
  /** For tests: the facade's connection. */
  connect?: JsPhoneOptions['connect'];
}

interface SignedIn {
  domain: string;
  ipphone: string;
  token: string;
}

export class JsPhoneWidget {
  readonly facade: JsPhoneFacade;
  private signedIn: SignedIn | undefined;
  private signingIn: { key: string; promise: Promise<RegisterResult> } | undefined;
  /** the form the current session signed in with */
  private signedInWith: string | undefined;
  private deviceType: number | undefined;
  private panel: Panel = 'login';
  private number = '';
  private inCall = false;
  /** the current call is a callout */
  private outbound = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private timerStartedAt = 0;

  constructor(
    private readonly host: Window,
    private readonly options: JsPhoneWidgetOptions,
  ) {
    this.facade = new JsPhoneFacade({
      gatewayUrl: options.gatewayUrl,
      credentials: () => ({ domain: this.signedIn?.domain, token: this.signedIn?.token }),
      ...(options.connect ? { connect: options.connect } : {}),
    });
    this.wire();
  }

  private get document(): Document {
    return this.host.document;
  }

  /** The functions the page calls, bound to this widget. */
  functions(): JsPhoneWidgetFunctions {
    const phone = this.facade.functions();
    return {
      onRegister: () => this.register(),
      onCall: (number?: unknown) => phone.onCall(typeof number === 'string' ? number : undefined),
      onAnswer: () => phone.onAnswer(),
      onHangUp: () => phone.onHangUp(),
      onTogglePhone: () => this.toggleLoginForm(),
      minimizeContent: () => this.root().classList.toggle('alohub_minimized'),
      loadContentPhone: () => this.show(this.currentPanel()),
      loadContentPhoneDial: () => this.show('dial'),
      loadContentPhoneRinging: (phoneNumber?: unknown) => {
        if (typeof phoneNumber === 'string') this.setNumber(phoneNumber);
        this.show('ringing');
      },
      loadContentPhoneAnswer: (phoneNumber?: unknown) => {
        if (typeof phoneNumber === 'string') this.setNumber(phoneNumber);
        this.show('answer');
      },
      addHtml: () => this.addHtml(),
      addHtmlLogin: () => this.addHtmlLogin(),
      addPhoneNumber: (digit?: unknown) => this.addPhoneNumber(digit),
      startRingTone: () => phone.startRingTone(),
      stopRingTone: () => phone.stopRingTone(),
      startRingbackTone: () => {
        this.facade.tones.ring.stop();
        this.facade.tones.ringback.play();
      },
      stopRingbackTone: () => phone.stopRingbackTone(),
      saveCredentials: () => this.saveCredentials(),
      loadCredentials: () => this.loadCredentials(),
      alohubMakeCall: (phoneNumber?: unknown) => this.makeCall(phoneNumber),
    };
  }

  /** What the vendor's script does on load: credentials, the UI, and auto-login if asked. */
  start(): void {
    this.addHtmlLogin();
    this.addHtml();
    // the vendor's order is credentials first: they fill the form, which must exist by then
    this.loadCredentials();
    this.show('login');
    if (flag(this.host, 'usingAutoLogin') && this.value('txtPassword') && this.extension()) {
      void this.register();
    }
  }

  // ------------------------------------------------------------------------------------------
  // markup

  /** `#alohub_sipml5`, made at the end of `<body>` when the page has none. */
  private root(): HTMLElement {
    const found = this.document.getElementById(ROOT_ID);
    if (found) return found;
    const root = this.document.createElement('div');
    root.id = ROOT_ID;
    this.document.body.append(root);
    return root;
  }

  /** Marks the root as built by the widget: its scoped stylesheet applies (once per page). */
  private adopt(root: HTMLElement): void {
    if (!root.classList.contains(WIDGET_ROOT_CLASS)) {
      root.classList.add(WIDGET_ROOT_CLASS);
      root.addEventListener('click', (event) => this.clicked(event));
      root.addEventListener('keydown', (event) => this.keyed(event));
    }
    if (!this.document.getElementById('alohub_sipml5_style')) {
      const style = this.document.createElement('style');
      style.id = 'alohub_sipml5_style';
      style.textContent = WIDGET_CSS;
      this.document.head.append(style);
    }
  }

  private addHtmlLogin(): void {
    if (this.document.getElementById(PANELS.login)) return;
    const root = this.root();
    this.ensureAudio(root);
    root.insertAdjacentHTML('afterbegin', loginHtml());
    this.adopt(root);
    this.syncPanels();
  }

  private addHtml(): void {
    const root = this.root();
    this.ensureAudio(root);
    const missing = (['dial', 'ringing', 'answer'] as const).filter(
      (panel) => !this.document.getElementById(PANELS[panel]),
    );
    if (missing.length === 0) return;
    root.insertAdjacentHTML('beforeend', callPanelsHtml(missing));
    this.adopt(root);
    this.syncPanels();
  }

  /** The vendor's four `<audio>` elements, those the page lacks. */
  private ensureAudio(root: HTMLElement): void {
    const audios: [string, boolean][] = [
      ['audio_remote', true],
      ['ringtone', false],
      ['ringbacktone', false],
      ['dtmfTone', false],
    ];
    for (const [id, autoplay] of audios) {
      if (this.document.getElementById(id)) continue;
      if (id === 'ringbacktone' && this.document.getElementById('ringBackTone')) continue;
      const audio = this.document.createElement('audio');
      audio.id = id;
      audio.autoplay = autoplay;
      if (id === 'ringtone' || id === 'ringbacktone') audio.loop = true;
      root.prepend(audio);
    }
  }

  /** Buttons of the built UI name the global they call (`data-alohub`), so a page's own version runs. */
  private clicked(event: Event): void {
    const target = event.target instanceof Element ? event.target.closest('[data-alohub]') : null;
    if (!target) return;
    const name = target.getAttribute('data-alohub') ?? '';
    const arg = target.getAttribute('data-arg');
    const fn: unknown = Reflect.get(this.host, name);
    if (typeof fn !== 'function') {
      console.warn(LOG, `${name} is not defined on this page`);
      return;
    }
    event.preventDefault();
    (fn as (...args: unknown[]) => unknown).apply(this.host, arg === null ? [] : [arg]);
  }

  /** Enter in the login form signs in; in the number field, calls. */
  private keyed(event: KeyboardEvent): void {
    if (event.key !== 'Enter' || !(event.target instanceof HTMLInputElement)) return;
    const name =
      event.target.id === 'txtPhoneNumber'
        ? 'onCall'
        : event.target.closest('#alohub_login_form')
          ? 'onRegister'
          : '';
    const fn: unknown = name ? Reflect.get(this.host, name) : undefined;
    if (typeof fn === 'function') {
      event.preventDefault();
      (fn as () => unknown).call(this.host);
    }
  }

  // ------------------------------------------------------------------------------------------
  // panels

  private currentPanel(): Panel {
    if (!this.facade.registered) return 'login';
    return this.panel === 'login' ? 'dial' : this.panel;
  }

  private show(panel: Panel): void {
    this.panel = panel;
    this.syncPanels();
  }

  private syncPanels(): void {
    for (const [name, id] of Object.entries(PANELS) as [Panel, string][]) {
      const element = this.document.getElementById(id);
      if (!element) continue;
      if (name !== this.panel) {
        element.style.display = 'none';
        continue;
      }
      element.style.display = '';
      // the page's stylesheet may hide it: show it as a block then
      if (this.host.getComputedStyle(element).display === 'none') element.style.display = 'block';
    }
    const root = this.document.getElementById(ROOT_ID);
    if (root) root.setAttribute('data-panel', this.panel);
  }

  private setNumber(phone: string): void {
    this.number = phone;
    this.setText('txtPhoneCalling', phone);
    this.setText('txtPhoneAnswer', phone);
  }

  private setText(id: string, text: string): void {
    const element = this.document.getElementById(id);
    if (!element) return;
    if (element instanceof HTMLInputElement) element.value = text;
    else element.textContent = text;
  }

  /** The status line `#txtRegStatus`, and the dial panel's own line when `call` (seen once signed in). */
  private status(text: string, state: 'ok' | 'error' | 'busy', call = false): void {
    for (const id of call ? ['txtRegStatus', 'alohub_call_status'] : ['txtRegStatus']) {
      const element = this.document.getElementById(id);
      if (!element) continue;
      element.textContent = text;
      element.setAttribute('data-state', state);
    }
  }

  private toggleLoginForm(): boolean {
    const form = this.document.getElementById('alohub_login_form');
    if (!form) {
      console.warn(LOG, 'onTogglePhone: the page has no #alohub_login_form');
      return false;
    }
    return form.classList.toggle('is_open');
  }

  private addPhoneNumber(digit: unknown): void {
    const input = this.document.getElementById('txtPhoneNumber');
    const text = typeof digit === 'string' || typeof digit === 'number' ? String(digit) : '';
    if (!(input instanceof HTMLInputElement) || !/^[0-9*#+]$/.test(text)) return;
    input.value += text;
  }

  private startTimer(): void {
    this.stopTimer();
    this.timerStartedAt = Date.now();
    this.setText('txtCallTime', formatCallTime(0));
    this.timer = setInterval(
      () => this.setText('txtCallTime', formatCallTime(Date.now() - this.timerStartedAt)),
      1000,
    );
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ------------------------------------------------------------------------------------------
  // calls

  private wire(): void {
    const f = this.facade;
    f.on('session.ready', ({ data }) => {
      this.deviceType = data.deviceType;
      this.status(`Connected: ${data.name} (${data.ipphone})`, 'ok');
      this.setText('alohub_agent', `${data.name} · ${data.ipphone}`);
      if (!this.inCall) this.show('dial');
    });
    f.on('agent.device', ({ data }) => {
      this.deviceType = data.type;
    });
    f.on('session.error', ({ data }) => this.status(`Disconnected: ${data.message}`, 'error'));
    f.on('connection.lost', () => this.status('Reconnecting…', 'busy'));
    f.on('closed', () => {
      this.endCall();
      this.show('login');
    });
    f.on('call.ringing', ({ data }) => this.ringing(data));
    f.on('callout.started', ({ data }) => {
      this.inCall = true;
      this.outbound = true;
      this.status('', 'ok', true);
      this.setNumber(data.number);
      this.setText('txtCallingLabel', 'Đang gọi…');
      this.answerButton(false);
      this.show('ringing');
    });
    for (const type of ['call.accepted', 'call.customerAccepted'] as const) {
      f.on(type, () => {
        // a callout is up when the customer answers (call.accepted is the agent's own device)
        if (this.panel === 'answer' || (this.outbound && type === 'call.accepted')) return;
        this.inCall = true;
        this.setNumber(this.number);
        this.startTimer();
        this.show('answer');
      });
    }
    f.on('callout.failed', ({ data }) =>
      this.status(`Call failed: ${data.errorCode}${data.sipCode ? ` (${data.sipCode})` : ''}`, 'error', true),
    );
    f.on('call.ended', () => this.endCall());
  }

  private ringing(data: EventDataMap['call.ringing']): void {
    this.inCall = true;
    this.outbound = false;
    this.status('', 'ok', true);
    this.setNumber(data.phone);
    this.setText('txtCallingLabel', 'Cuộc gọi đến');
    const auto = flag(this.host, 'isAutoAnswer');
    // only a call that rings this tab's own phone (browser mode, this tab holds voice)
    const mine = this.facade.voice && this.deviceType === 1;
    this.answerButton(!auto && mine);
    this.show('ringing');
    if (!auto || !mine) return;
    void this.facade
      .functions()
      .onAnswer()
      .then((answer) => {
        if (!answer.ok) console.warn(LOG, `auto-answer refused: ${answer.code} ${answer.message}`);
      });
  }

  private answerButton(visible: boolean): void {
    const button = this.document.getElementById('btnAlohubAnswer');
    if (button) button.hidden = !visible;
  }

  private endCall(): void {
    this.inCall = false;
    this.stopTimer();
    if (this.panel !== 'login') this.show(this.facade.registered ? 'dial' : 'login');
  }

  // ------------------------------------------------------------------------------------------
  // sign-in

  private value(id: string): string {
    const element = this.document.getElementById(id);
    return element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement
      ? element.value.trim()
      : '';
  }

  private extension(): string {
    return this.value('txtPrivateIdentity') || parseSipIdentity(this.value('txtPublicIdentity')).user || '';
  }

  private register(): Promise<RegisterResult> {
    const form = {
      impi: this.extension(),
      impu: this.value('txtPublicIdentity'),
      realm: this.value('txtRealm') || parseSipIdentity(this.value('txtPublicIdentity')).host || '',
      endpoint: this.value('txtDomain'),
      password: this.value('txtPassword'),
    };
    const key = JSON.stringify(form);
    // a second onRegister with the same form (auto-login, then the page's own) joins the first
    if (this.signingIn?.key === key) return this.signingIn.promise;
    // and one after it signed in keeps the connection that is up
    const session = this.facade.session;
    if (this.signedInWith === key && this.facade.registered && session) {
      return Promise.resolve({ ok: true, session });
    }
    const promise = this.signIn(form);
    this.signingIn = { key, promise };
    void promise.then((result) => {
      if (this.signingIn?.promise === promise) this.signingIn = undefined;
      this.signedInWith = result.ok ? key : undefined;
    });
    return promise;
  }

  private async signIn(form: {
    impi: string;
    impu: string;
    realm: string;
    endpoint: string;
    password: string;
  }): Promise<RegisterResult> {
    const refuse = (code: string, message: string): RegisterResult => {
      this.status(message, 'error');
      console.warn(LOG, `onRegister refused: ${code} ${message}`);
      return { ok: false, code, message };
    };
    if (!form.impi || !form.password)
      return refuse('INVALID_REQUEST', 'Enter the extension and the password');
    const gateway = this.options.gatewayUrl();
    if (!gateway) return refuse('CONNECT_FAILED', 'The gateway is unknown: load sipjs.js from callgate');
    const domain = domainFromEndpoint(form.endpoint);
    if (!domain && !form.realm) {
      return refuse('INVALID_REQUEST', 'Enter the endpoint (…/alohub/{domain}/makeCall) or the realm');
    }
    this.status('Connecting…', 'busy');
    let answer: Record<string, unknown>;
    try {
      const response = await fetch(domain ? `${gateway}/alohub/${domain}/login` : `${gateway}/alohub/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          impi: form.impi,
          impu: form.impu,
          realm: form.realm,
          password: form.password,
        }),
      });
      answer = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      console.error(LOG, 'onRegister: the gateway cannot be reached', error);
      return refuse('CONNECT_FAILED', 'Disconnected: the gateway cannot be reached');
    }
    if (answer.success !== '1' || typeof answer.token !== 'string' || typeof answer.domain !== 'string') {
      const code = typeof answer.error_code === 'string' ? answer.error_code : 'AUTHENTICATION_FAILED';
      const message =
        typeof answer.error_message === 'string' ? answer.error_message : 'Authentication Error';
      return refuse(code, message);
    }
    this.signedIn = { domain: answer.domain, ipphone: String(answer.ipphone), token: answer.token };
    const result = await this.facade.functions().onRegister();
    if (!result.ok) return refuse(result.code, `Disconnected: ${result.message}`);
    this.deviceType = result.session.deviceType;
    // the vendor's widget is the agent's phone: browser mode while this tab holds voice (the
    // gateway moves the agent back to its default device when the tab goes)
    if (result.session.deviceType !== 1 && this.facade.voice) {
      const device = await this.facade.command('agent.setDevice', { type: 1 });
      if (device.ok) this.deviceType = 1;
      else console.warn(LOG, `this tab could not become the phone: ${device.code} ${device.message}`);
    }
    this.toggleOpen(false);
    this.show(this.inCall ? this.panel : 'dial');
    return result;
  }

  private toggleOpen(open: boolean): void {
    this.document.getElementById('alohub_login_form')?.classList.toggle('is_open', open);
  }

  // ------------------------------------------------------------------------------------------
  // credentials

  private storage(): Storage | undefined {
    try {
      return this.host.localStorage;
    } catch (error) {
      // reading localStorage throws where storage is blocked (sandboxed frames, settings)
      console.warn(LOG, 'localStorage is not available', error);
      return undefined;
    }
  }

  private saveCredentials(): Record<string, string> | null {
    const storage = this.storage();
    if (!storage) return null;
    const saved: Record<string, string> = {};
    try {
      for (const id of VENDOR_INPUT_IDS) {
        const value = this.value(id);
        storage.setItem(VENDOR_STORAGE_KEYS[id], value);
        saved[VENDOR_STORAGE_KEYS[id]] = value;
      }
      // the vendor's script stored the SIP password in clear: never, and not a stale one either
      storage.removeItem(VENDOR_PASSWORD_KEY);
      if (saved[VENDOR_STORAGE_KEYS.txtApiKey]) {
        console.warn(
          LOG,
          'saveCredentials: the domain API key is kept in localStorage, as the vendor widget does; a CRM should place its make calls from its server',
        );
      }
    } catch (error) {
      console.warn(LOG, 'saveCredentials: localStorage refused the settings', error);
      return null;
    }
    return saved;
  }

  private loadCredentials(): Record<string, string> | null {
    const storage = this.storage();
    if (!storage) return null;
    const loaded: Record<string, string> = {};
    try {
      storage.removeItem(VENDOR_PASSWORD_KEY);
      for (const id of VENDOR_INPUT_IDS) {
        const value = storage.getItem(VENDOR_STORAGE_KEYS[id]);
        if (value === null) continue;
        loaded[VENDOR_STORAGE_KEYS[id]] = value;
        const element = this.document.getElementById(id);
        if (element instanceof HTMLInputElement && value !== '') element.value = value;
      }
    } catch (error) {
      console.warn(LOG, 'loadCredentials: localStorage cannot be read', error);
      return null;
    }
    return Object.keys(loaded).length > 0 ? loaded : null;
  }

  // ------------------------------------------------------------------------------------------
  // REST make call

  private async makeCall(phone: unknown): Promise<Record<string, unknown>> {
    const phoneNumber =
      typeof phone === 'string' || typeof phone === 'number'
        ? String(phone).trim()
        : this.value('txtPhoneNumber');
    const gateway = this.options.gatewayUrl();
    const domain = this.signedIn?.domain ?? domainFromEndpoint(this.value('txtDomain'));
    const endpoint =
      this.value('txtDomain') || (gateway && domain ? `${gateway}/alohub/${domain}/makeCall` : '');
    const fail = (code: string, message: string): Record<string, unknown> => {
      this.status(message, 'error', true);
      console.warn(LOG, `alohubMakeCall refused: ${code} ${message}`);
      return { success: '0', error_code: code, error_message: message };
    };
    if (!endpoint) return fail('INVALID_REQUEST', 'Enter the endpoint in #txtDomain');
    let answer: Record<string, unknown>;
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: this.value('txtApiKey') },
        body: JSON.stringify({
          phoneNumber,
          ipPhone: this.signedIn?.ipphone ?? this.extension(),
          transactionId: `ALOHUB_${Date.now()}`,
        }),
      });
      answer = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      console.error(LOG, 'alohubMakeCall: the endpoint cannot be reached', error);
      return fail('ERROR_CALLOUT_CONNECT', 'The endpoint cannot be reached');
    }
    if (answer.success !== '1') {
      return fail(
        typeof answer.error_code === 'string' ? answer.error_code : 'ERROR_CALLOUT_CONNECT',
        typeof answer.error_message === 'string' ? answer.error_message : 'Có lỗi xảy ra',
      );
    }
    return answer;
  }
}

/** A vendor flag on `window` (`isAutoAnswer`, `usingAutoLogin`): 1, true or "1" are on. */
function flag(host: Window, name: string): boolean {
  const value: unknown = Reflect.get(host, name);
  return value === 1 || value === true || value === '1';
}

/**
 * Installs the widget's functions and flags on `host` (normally `window`). A function the page
 * already defines is kept (and reported); `isAutoAnswer` defaults to 1, `usingAutoLogin` to 1.
 * The UI is built and `loadCredentials` runs once the document is parsed.
 */
export function installJsPhoneWidget(host: Window, options: JsPhoneWidgetOptions): JsPhoneWidget {
  const widget = new JsPhoneWidget(host, options);
  const functions = widget.functions();
  for (const name of JS_PHONE_WIDGET_FUNCTION_NAMES) {
    if (Reflect.get(host, name) !== undefined) {
      console.warn(LOG, `the page defines ${name} already: it is kept`);
      continue;
    }
    Reflect.set(host, name, Reflect.get(functions, name));
  }
  for (const name of ['isAutoAnswer', 'usingAutoLogin']) {
    if (Reflect.get(host, name) === undefined) Reflect.set(host, name, 1);
  }
  const start = (): void => widget.start();
  if (host.document.readyState === 'loading')
    host.document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
  return widget;
}
