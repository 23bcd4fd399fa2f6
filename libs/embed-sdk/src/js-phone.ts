import { EventTypes, type CommandName, type CommandPayload, type EventDataMap } from '@callgate/contracts';
import {
  connect,
  type CallgateClient,
  type ClientEventMap,
  type CommandAnswer,
  type ConnectOptions,
  type ConnectionEventMap,
} from './client.js';
import { TypedEmitter, type Listener } from './emitter.js';
import { AudioElementTone, type ToneElement, type TonePlayer } from './tones.js';

/**
 * The Alohub JS-PHONE functions (the `sipjs.js` of its demo), installed on `window` by
 * `/embed/callgate.js`. The ones that talk to the gateway resolve to the command's answer and
 * never reject; a refusal is also logged with `console.warn` and its code.
 */
export interface JsPhoneFunctions {
  /**
   * Connects this tab to the gateway with the credentials given to `callgate.configure`, and
   * makes it the agent's voice tab (`voice.enable`) when another tab holds voice: in browser
   * mode (device type 1) the voice tab's in-page phone is the one that rings.
   */
  onRegister(): Promise<RegisterResult>;
  /** Calls the number typed in `#alohub_call_dial` (or `#txtPhoneNumber`), or the one given. */
  onCall(number?: string): Promise<CommandAnswer<'call.dial'>>;
  onAnswer(): Promise<CommandAnswer<'call.answer'>>;
  onHangUp(): Promise<CommandAnswer<'call.hangup'>>;
  /** Plays the ring tone (`#ringtone`, or the built-in one) until `stopRingTone()`. */
  startRingTone(): void;
  stopRingTone(): void;
  stopRingbackTone(): void;
  /**
   * Toggles the class `is_open` on `#alohub_login_form` (the vendor's), or, on a page without it,
   * shows or hides `#alohub_shipjs_container`; returns whether it is open / visible now.
   */
  onTogglePhone(): boolean;
  /**
   * Stores the non-secret settings (gateway URL, domain, extension, display name) in
   * `localStorage[JS_PHONE_STORAGE_KEY]`: the current ones, overridden by `settings`. Never a
   * token or a password. Returns what was stored, or null when the storage is unavailable.
   */
  saveCredentials(settings?: JsPhoneSettings): JsPhoneSettings | null;
  /** What `saveCredentials` stored, or null. It changes nothing by itself. */
  loadCredentials(): JsPhoneSettings | null;
}

export const JS_PHONE_FUNCTION_NAMES = [
  'onRegister',
  'onCall',
  'onAnswer',
  'onHangUp',
  'startRingTone',
  'stopRingTone',
  'stopRingbackTone',
  'onTogglePhone',
  'saveCredentials',
  'loadCredentials',
] as const satisfies readonly (keyof JsPhoneFunctions)[];

/** The `localStorage` key of `saveCredentials` / `loadCredentials` (a JSON object). */
export const JS_PHONE_STORAGE_KEY = 'callgate.jsphone.credentials';

/** What `saveCredentials` stores: settings only, never a secret. */
export interface JsPhoneSettings {
  gatewayUrl?: string;
  domain?: string;
  /** the agent's extension */
  ipphone?: string;
  /** the agent's display name */
  name?: string;
}

const SETTING_NAMES = [
  'gatewayUrl',
  'domain',
  'ipphone',
  'name',
] as const satisfies readonly (keyof JsPhoneSettings)[];

/** What `onRegister` resolves to (it never rejects). */
export type RegisterResult =
  { ok: true; session: EventDataMap['session.ready'] } | { ok: false; code: string; message: string };

/** The part of a client the facade uses (a `CallgateClient`, or a fake in unit tests). */
export type JsPhoneClient = Pick<CallgateClient, 'on' | 'command' | 'close'>;

/** The element ids of the JS-PHONE markup. */
export const JS_PHONE_ELEMENT_IDS = {
  container: 'alohub_shipjs_container',
  /** the vendor's login form; `onTogglePhone` toggles its class `is_open` */
  loginForm: 'alohub_login_form',
  dial: 'alohub_call_dial',
  /** the number input of the JS-PHONE demo page */
  dialDemo: 'txtPhoneNumber',
  remoteAudio: 'audio_remote',
  ringTone: 'ringtone',
  ringbackTone: 'ringbacktone',
  dtmfTone: 'dtmfTone',
} as const;

export interface JsPhoneOptions {
  /** The gateway's base URL, or a function asked at each `onRegister` (undefined: not known). */
  gatewayUrl: string | (() => string | undefined);
  /** The domain and the gateway session token `onRegister` connects with, asked at each call. */
  credentials: () => { domain?: string | undefined; token?: string | undefined };
  /** Opens the connection; `connect` of the SDK by default. */
  connect?: (options: ConnectOptions) => JsPhoneClient;
  /** Where the JS-PHONE elements are looked up; `document` by default. */
  document?: Pick<Document, 'getElementById'>;
  /** Where `saveCredentials` stores; `localStorage` by default. */
  storage?: () => Pick<Storage, 'getItem' | 'setItem'> | undefined;
  /** The ring and ringback tones; by default the page's `#ringtone` / `#ringbacktone` or the built-in ones. */
  tones?: { ring: TonePlayer; ringback: TonePlayer };
}

/** Events of the client itself, relayed like the gateway's. */
const CONNECTION_EVENTS = [
  'connection.open',
  'connection.lost',
  'connection.retrying',
  'connection.error',
  'connection.refused',
  'closed',
] as const satisfies readonly (keyof ConnectionEventMap)[];

const LOG = '[callgate]';

/**
 * The JS-PHONE facade: `onRegister` opens a connection (one at a time), the call functions send
 * the same commands as the 3C facade (`call.dial`, `call.answer`, `call.hangup`), and the
 * gateway's events drive the tones: `call.ringing` rings, `callout.started` plays the ringback,
 * `call.accepted`, `call.customerAccepted`, `callout.failed`, `call.ended` (and a lost
 * connection) stop them. Every event of the connection but `voice.sip` (the in-page phone's SIP
 * account) is relayed to `on(type, handler)`.
 */
export class JsPhoneFacade {
  readonly tones: { ring: TonePlayer; ringback: TonePlayer };
  private readonly events = new TypedEmitter<ClientEventMap>('callgate');
  private readonly open: (options: ConnectOptions) => JsPhoneClient;
  private client: JsPhoneClient | undefined;
  /** gateway URL, domain and token of the current client: a new onRegister with the same reuses it */
  private clientKey = '';
  private live = false;
  private ready = false;
  private lastSession: EventDataMap['session.ready'] | undefined;
  private registration: Promise<RegisterResult> | undefined;
  private settled: RegisterResult | undefined;
  private settleRegistration: ((result: RegisterResult) => void) | undefined;
  private connectErrorReported = false;
  /** No session.ready yet since onRegister: the next one may take voice. */
  private firstReady = false;
  private holdsVoice = false;
  private voiceFence = -1;
  private audioRemote: HTMLMediaElement | undefined;

  constructor(private readonly options: JsPhoneOptions) {
    this.open = options.connect ?? connect;
    this.tones = options.tones ?? {
      ring: new AudioElementTone({
        kind: 'ring',
        find: () => this.mediaElement(JS_PHONE_ELEMENT_IDS.ringTone),
      }),
      ringback: new AudioElementTone({
        kind: 'ringback',
        // one vendor integration spells it #ringBackTone
        find: () => this.mediaElement(JS_PHONE_ELEMENT_IDS.ringbackTone) ?? this.mediaElement('ringBackTone'),
      }),
    };
  }

  /** The JS-PHONE functions, bound to this facade. */
  functions(): JsPhoneFunctions {
    // pages wire these as event handlers (`button.onclick = onCall`): an Event is not an argument
    return {
      onRegister: () => this.register(),
      onCall: (number?: unknown) => this.call(number),
      onAnswer: () => this.answer(),
      onHangUp: () => this.hangUp(),
      startRingTone: () => {
        this.tones.ringback.stop();
        this.tones.ring.play();
      },
      stopRingTone: () => this.tones.ring.stop(),
      stopRingbackTone: () => this.tones.ringback.stop(),
      onTogglePhone: () => this.togglePhone(),
      saveCredentials: (settings?: unknown) => this.saveCredentials(settings),
      loadCredentials: () => this.loadCredentials(),
    };
  }

  /** Whether the connection of `onRegister` is up and the gateway accepted it. */
  get registered(): boolean {
    return this.ready;
  }

  /** The last `session.ready` of the connection (agent, device, call status). */
  get session(): EventDataMap['session.ready'] | undefined {
    return this.lastSession;
  }

  /** Whether this tab holds the agent's voice lock. */
  get voice(): boolean {
    return this.holdsVoice;
  }

  /** `<audio id="audio_remote">`, where the in-page phone (browser mode) plays the call. */
  get remoteAudio(): HTMLMediaElement | undefined {
    return this.audioRemote ?? this.mediaElement(JS_PHONE_ELEMENT_IDS.remoteAudio) ?? undefined;
  }

  /** Listens to an event of the `onRegister` connection (kept across re-registrations). */
  on<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): () => void {
    return this.events.on(type, handler);
  }

  off<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): void {
    this.events.off(type, handler);
  }

  /**
   * Sends any command on the `onRegister` connection (fenced when this tab holds voice), e.g.
   * `agent.setDevice`; resolves to its answer, never rejects.
   */
  command<K extends CommandName>(name: K, payload: CommandPayload<K>): Promise<CommandAnswer<K>> {
    return this.send('command', name, payload);
  }

  private register(): Promise<RegisterResult> {
    const { domain, token } = this.options.credentials();
    const gatewayUrl =
      typeof this.options.gatewayUrl === 'function' ? this.options.gatewayUrl() : this.options.gatewayUrl;
    if (!token || !domain) {
      const message =
        'onRegister: no credentials; call callgate.configure({ domain, token }) with the session token of POST /{domain}/thirdParty/login first';
      console.error(LOG, message);
      return Promise.resolve({ ok: false, code: 'NOT_LOGGED_IN', message });
    }
    if (!gatewayUrl) {
      const message =
        'onRegister: the gateway URL is unknown; load callgate.js from the gateway, or set window.CALLGATE_URL or callgate.configure({ gatewayUrl })';
      console.error(LOG, message);
      return Promise.resolve({ ok: false, code: 'CONNECT_FAILED', message });
    }
    const key = JSON.stringify([gatewayUrl, domain, token]);
    // registering again with the same credentials keeps a connection that is up or on its way
    if (this.client && this.live && this.clientKey === key) {
      if (this.settled === undefined && this.registration) return this.registration;
      if (this.ready && this.lastSession) return Promise.resolve({ ok: true, session: this.lastSession });
    }

    const previous = this.client;
    this.client = undefined; // first: the old client's events (its `closed`) are not ours any more
    previous?.close('REINIT');
    this.reset();
    this.settle({ ok: false, code: 'REINIT', message: 'onRegister was called again' });
    this.audioRemote = this.mediaElement(JS_PHONE_ELEMENT_IDS.remoteAudio) ?? undefined;

    let client: JsPhoneClient;
    try {
      client = this.open({ gatewayUrl, domain: String(domain), token: String(token) });
    } catch (error) {
      console.error(LOG, `onRegister: could not connect to ${gatewayUrl}`, error);
      return Promise.resolve({ ok: false, code: 'CONNECT_FAILED', message: String(error) });
    }
    this.client = client;
    this.clientKey = key;
    this.live = true;
    this.firstReady = true;
    this.settled = undefined;
    this.registration = new Promise<RegisterResult>((resolve) => {
      this.settleRegistration = resolve;
    });
    this.wire(client);
    return this.registration;
  }

  private reset(): void {
    this.ready = false;
    this.live = false;
    this.connectErrorReported = false;
    this.holdsVoice = false;
    this.voiceFence = -1;
    this.stopTones();
  }

  private wire(client: JsPhoneClient): void {
    const current = (): boolean => this.client === client;

    client.on('session.ready', ({ data }) => {
      if (!current()) return;
      this.ready = true;
      this.lastSession = data;
      this.applyVoice(data.isEnable, data.voiceFence, true);
      // JS-PHONE's register makes this page the phone: it takes voice (once per onRegister; a
      // reconnection does not take it back from a tab that took it meanwhile)
      const first = this.firstReady;
      this.firstReady = false;
      if (first && !data.isEnable) void this.takeVoice(client, data);
      else this.settle({ ok: true, session: data });
    });
    client.on('session.error', ({ data }) => {
      if (current()) this.failed(data.code, data.message);
    });
    client.on('connection.refused', ({ code, message }) => {
      if (current()) this.failed(code, message);
    });
    client.on('connection.error', ({ code, message }) => {
      if (!current() || this.ready || this.connectErrorReported) return;
      // reported once; the client keeps retrying, and session.ready follows if it gets through
      this.connectErrorReported = true;
      console.warn(LOG, `onRegister: cannot reach the gateway (${message}); retrying`);
      this.settle({ ok: false, code, message });
    });
    client.on('connection.lost', () => {
      if (!current()) return;
      this.ready = false;
      this.holdsVoice = false; // the gateway frees a disconnected tab's voice lock at once
      this.stopTones();
    });
    client.on('closed', ({ reason }) => {
      if (!current()) return;
      this.ready = false;
      this.live = false;
      this.holdsVoice = false;
      this.stopTones();
      this.settle({ ok: false, code: reason, message: `the connection closed (${reason})` });
    });
    client.on('voice.changed', ({ data }) => {
      if (current()) this.applyVoice(data.isEnable, data.fence);
    });

    client.on('call.ringing', () => {
      if (!current()) return;
      this.tones.ringback.stop();
      this.tones.ring.play();
    });
    client.on('callout.started', () => {
      if (!current()) return;
      this.tones.ring.stop();
      this.tones.ringback.play();
    });
    for (const type of ['call.accepted', 'call.customerAccepted', 'callout.failed', 'call.ended'] as const) {
      client.on(type, () => {
        if (current()) this.stopTones();
      });
    }

    // after the facade's own handling, so a page handler sees the tones already switched
    // voice.sip (the SIP account of the in-page phone) is the SDK's own business, not the page's
    for (const type of EventTypes) if (type !== 'voice.sip') this.relay(client, type, current);
    for (const type of CONNECTION_EVENTS) this.relay(client, type, current);
  }

  private relay<K extends keyof ClientEventMap>(
    client: JsPhoneClient,
    type: K,
    current: () => boolean,
  ): void {
    client.on(type, (payload) => {
      if (current()) this.events.emit(type, payload);
    });
  }

  /** `voice.enable` for a registration that found another tab holding voice; then settles it. */
  private async takeVoice(client: JsPhoneClient, data: EventDataMap['session.ready']): Promise<void> {
    const answer = await client.command('voice.enable', {});
    if (this.client !== client) return;
    let session = data;
    if (answer.ok) {
      this.applyVoice(true, answer.fence);
      session = { ...data, isEnable: true, voiceFence: answer.fence };
      this.lastSession = session;
    } else {
      console.warn(LOG, `onRegister: this tab could not take voice: ${answer.code} ${answer.message}`);
    }
    this.settle({ ok: true, session });
  }

  private failed(code: string, message: string): void {
    console.warn(LOG, `registration refused: ${code} ${message}`);
    this.ready = false;
    this.holdsVoice = false;
    this.stopTones();
    this.settle({ ok: false, code, message });
  }

  private settle(result: RegisterResult): void {
    const settle = this.settleRegistration;
    this.settleRegistration = undefined;
    if (!settle) return;
    this.settled = result;
    settle(result);
  }

  private applyVoice(isEnable: boolean, fence: number | undefined, always = false): void {
    if (fence !== undefined) {
      if (fence < this.voiceFence && !always) return;
      this.voiceFence = Math.max(this.voiceFence, fence);
    }
    this.holdsVoice = isEnable;
  }

  private stopTones(): void {
    this.tones.ring.stop();
    this.tones.ringback.stop();
  }

  private call(number: unknown): Promise<CommandAnswer<'call.dial'>> {
    const given = typeof number === 'string' || typeof number === 'number' ? String(number).trim() : '';
    const typed =
      given || this.inputValue(JS_PHONE_ELEMENT_IDS.dial) || this.inputValue(JS_PHONE_ELEMENT_IDS.dialDemo);
    if (!typed) {
      const message = `onCall: no number; type one in #${JS_PHONE_ELEMENT_IDS.dial}`;
      console.warn(LOG, `onCall refused: INVALID_NUMBER ${message}`);
      return Promise.resolve({ ok: false, code: 'INVALID_NUMBER', message });
    }
    return this.send('onCall', 'call.dial', { number: typed });
  }

  private answer(): Promise<CommandAnswer<'call.answer'>> {
    return this.send('onAnswer', 'call.answer', {});
  }

  private async hangUp(): Promise<CommandAnswer<'call.hangup'>> {
    const client = this.client;
    const answer = await this.send('onHangUp', 'call.hangup', {});
    // call.ended follows; the tones stop at once all the same
    if (answer.ok && this.client === client) this.stopTones();
    return answer;
  }

  private async send<K extends CommandName>(
    label: keyof JsPhoneFunctions | 'command',
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandAnswer<K>> {
    const client = this.client;
    if (!client || !this.live) {
      const message = `${label}: not connected; call onRegister() first`;
      console.warn(LOG, message);
      return { ok: false, code: 'NOT_CONNECTED', message };
    }
    const fenced: CommandPayload<K> =
      this.holdsVoice && this.voiceFence >= 0 ? { ...payload, voiceFence: this.voiceFence } : payload;
    const answer = await client.command(name, fenced);
    if (!answer.ok) console.warn(LOG, `${label} refused: ${answer.code} ${answer.message}`);
    return answer;
  }

  private togglePhone(): boolean {
    // the vendor's widget: the class is_open on its login form
    const form = this.element(JS_PHONE_ELEMENT_IDS.loginForm);
    if (form) return form.classList.toggle('is_open');
    const element = this.element(JS_PHONE_ELEMENT_IDS.container);
    if (!element) {
      console.warn(LOG, `onTogglePhone: the page has no #${JS_PHONE_ELEMENT_IDS.container}`);
      return false;
    }
    if (isShown(element)) {
      element.style.display = 'none';
      return false;
    }
    element.hidden = false;
    element.style.display = '';
    // a stylesheet may hide it: show it as a block then
    if (!isShown(element)) element.style.display = 'block';
    return true;
  }

  private saveCredentials(settings: unknown): JsPhoneSettings | null {
    const session = this.lastSession;
    const { domain } = this.options.credentials();
    const gatewayUrl =
      typeof this.options.gatewayUrl === 'function' ? this.options.gatewayUrl() : this.options.gatewayUrl;
    const current: Record<string, unknown> = {
      gatewayUrl,
      domain: domain || session?.domain,
      ipphone: session?.ipphone,
      name: session?.name,
    };
    const given = isPlainObject(settings) ? settings : {};
    const chosen = pickSettings({ ...current, ...given });
    const storage = this.storage();
    if (!storage) return null;
    try {
      storage.setItem(JS_PHONE_STORAGE_KEY, JSON.stringify(chosen));
    } catch (error) {
      console.warn(LOG, 'saveCredentials: localStorage refused the settings', error);
      return null;
    }
    return chosen;
  }

  private loadCredentials(): JsPhoneSettings | null {
    const storage = this.storage();
    if (!storage) return null;
    let raw: string | null;
    try {
      raw = storage.getItem(JS_PHONE_STORAGE_KEY);
    } catch (error) {
      console.warn(LOG, 'loadCredentials: localStorage cannot be read', error);
      return null;
    }
    if (raw === null) return null;
    try {
      const parsed: unknown = JSON.parse(raw);
      return isPlainObject(parsed) ? pickSettings(parsed) : null;
    } catch {
      // not ours, or damaged: as good as nothing stored
      return null;
    }
  }

  private storage(): Pick<Storage, 'getItem' | 'setItem'> | undefined {
    try {
      const storage = this.options.storage ? this.options.storage() : globalThis.localStorage;
      if (storage) return storage;
    } catch (error) {
      // reading window.localStorage throws where storage is blocked (sandboxed frames, settings)
      console.warn(LOG, 'localStorage is not available', error);
      return undefined;
    }
    console.warn(LOG, 'localStorage is not available');
    return undefined;
  }

  private element(id: string): HTMLElement | null {
    const doc = this.options.document ?? (typeof document === 'undefined' ? undefined : document);
    return doc?.getElementById(id) ?? null;
  }

  private mediaElement(id: string): (HTMLMediaElement & ToneElement) | null {
    const element = this.element(id);
    return element && typeof (element as Partial<HTMLMediaElement>).play === 'function'
      ? (element as HTMLMediaElement)
      : null;
  }

  private inputValue(id: string): string {
    const value: unknown = (this.element(id) as Partial<HTMLInputElement> | null)?.value;
    return typeof value === 'string' ? value.trim() : '';
  }
}

/** Whether an element is displayed (its own style, `hidden`, and the page's stylesheet). */
function isShown(element: HTMLElement): boolean {
  if (element.hidden || element.style.display === 'none') return false;
  const view = element.ownerDocument?.defaultView;
  return !view || view.getComputedStyle(element).display !== 'none';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The known settings that are non-empty strings; anything else (a token, a password) is dropped. */
function pickSettings(source: Record<string, unknown>): JsPhoneSettings {
  const settings: JsPhoneSettings = {};
  for (const name of SETTING_NAMES) {
    const value = source[name];
    if (typeof value !== 'string' || value.trim() === '') continue;
    if (name === 'gatewayUrl') {
      const url = safeGatewayUrl(value);
      if (url) settings.gatewayUrl = url;
    } else {
      settings[name] = value.trim();
    }
  }
  return settings;
}

/** An http(s) URL without user info, query or fragment (where a secret could hide). */
function safeGatewayUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return (url.origin + url.pathname).replace(/\/+$/, '');
  } catch {
    // not an absolute URL: not stored
    return undefined;
  }
}

/**
 * Installs the JS-PHONE functions on `host` (normally `window`) and returns the facade. A name
 * the page already defines is left alone (a page's own `onCall` keeps working; the SDK's stays
 * reachable through the facade) and reported with `console.warn`.
 */
export function installJsPhone(host: object, options: JsPhoneOptions): JsPhoneFacade {
  const facade = new JsPhoneFacade(options);
  const functions = facade.functions();
  for (const name of JS_PHONE_FUNCTION_NAMES) {
    if (Reflect.get(host, name) !== undefined) {
      console.warn(
        LOG,
        `the page defines ${name} already: it is kept (the JS-PHONE one is callgate.jsPhone.${name})`,
      );
      continue;
    }
    Reflect.set(host, name, Reflect.get(functions, name));
  }
  return facade;
}
