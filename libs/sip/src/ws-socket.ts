import { WebSocket, type RawData } from 'ws';
import type { JsSipSocket } from './jssip.js';
import { silentLogger, type SipLogger } from './logger.js';

/** TLS settings of a wss:// connection (the `ws` package passes them to Node's tls.connect). */
export interface WsTlsOptions {
  /** PEM certificate(s) of the CA(s) to trust instead of Node's default list (a private PBX CA). */
  ca?: string;
  /** The name the server certificate must carry (SNI), when the URI's host is an address. */
  servername?: string;
}

/**
 * JsSIP's Socket over the `ws` package. Unlike JsSIP's WebSocketInterface it knows
 * when every connection it opened has really closed ({@link whenClosed}), and can drop
 * its connection as a transport failure ({@link drop}) so that JsSIP clears its
 * transactions at once.
 */
export class NodeWsSocket implements JsSipSocket {
  readonly sip_uri: string;
  via_transport: string;
  onconnect: () => void = () => undefined;
  ondisconnect: (error: boolean, code?: number, reason?: string) => void = () => undefined;
  ondata: (data: string) => void = () => undefined;

  private ws: WebSocket | undefined;
  private readonly open = new Set<WebSocket>();
  private readonly closeWaiters = new Set<() => void>();
  private lastErrorMessage: string | undefined;

  constructor(
    readonly url: string,
    private readonly logger: SipLogger = silentLogger,
    private readonly tls: WsTlsOptions = {},
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new TypeError(`not a WebSocket URI: ${url}`);
    }
    this.sip_uri = `sip:${parsed.host};transport=ws`;
    this.via_transport = parsed.protocol === 'wss:' ? 'WSS' : 'WS';
  }

  connect(): void {
    if (this.isConnected() || this.isConnecting()) return;
    const ws = new WebSocket(this.url, 'sip', {
      ...(this.tls.ca === undefined ? {} : { ca: this.tls.ca }),
      ...(this.tls.servername === undefined ? {} : { servername: this.tls.servername }),
    });
    this.ws = ws;
    this.open.add(ws);
    ws.on('open', () => {
      this.lastErrorMessage = undefined;
      if (this.ws === ws) this.onconnect();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (this.ws !== ws) return;
      const text = isBinary ? rawToBuffer(data).toString('latin1') : rawToBuffer(data).toString('utf8');
      this.logger.debug(`SIP in: ${sipSummary(text)}`);
      try {
        this.ondata(text);
      } catch (err) {
        // JsSIP threw on this message (e.g. it replies 481 to an in-dialog CANCEL it has no
        // transaction for, and reads the missing transaction). An exception here would be an
        // uncaught one and stop the process with every call in it; the message is dropped instead.
        this.logger.error(`JsSIP failed on an incoming message; dropped: ${sipSummary(text)}`, {
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        });
      }
    });
    ws.on('error', (error: Error & { code?: string }) => {
      this.lastErrorMessage = error.code ? `${error.code}: ${error.message}` : error.message;
      this.logger.debug('websocket error', { url: this.url, error: this.lastErrorMessage });
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.open.delete(ws);
      if (this.ws === ws) {
        this.ws = undefined;
        this.ondisconnect(code !== 1000, code, reason.toString());
      }
      if (this.open.size === 0) {
        for (const resolve of [...this.closeWaiters]) resolve();
        this.closeWaiters.clear();
      }
    });
  }

  /** JsSIP's disconnect: closes without telling JsSIP (it detached its handlers already). */
  disconnect(): void {
    const ws = this.ws;
    this.ws = undefined;
    if (ws) closeWs(ws);
  }

  /**
   * Closes the current connection and reports it to JsSIP as a disconnection, which
   * makes JsSIP fail its pending transactions right away. Resolves once closed.
   */
  async drop(): Promise<void> {
    const ws = this.ws;
    if (ws) closeWs(ws);
    await this.whenClosed();
  }

  send(message: string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    this.logger.debug(`SIP out: ${sipSummary(message)}`);
    ws.send(message);
    return true;
  }

  /** Why the last connection failed (e.g. `SELF_SIGNED_CERT_IN_CHAIN: …`); cleared once one opens. */
  get lastError(): string | undefined {
    return this.lastErrorMessage;
  }

  isConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  isConnecting(): boolean {
    return this.ws?.readyState === WebSocket.CONNECTING;
  }

  /** Resolves when every connection this socket opened has closed. */
  whenClosed(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.add(resolve));
  }
}

/** Closes gracefully, but never waits more than a second for the peer's close frame. */
function closeWs(ws: WebSocket): void {
  if (ws.readyState === WebSocket.CONNECTING) {
    ws.terminate();
  } else if (ws.readyState === WebSocket.OPEN) {
    const timer = setTimeout(() => ws.terminate(), 1000);
    ws.once('close', () => clearTimeout(timer));
    ws.close(1000);
  }
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * One SIP message in a log line: its start line, Call-ID and CSeq. Not the rest: headers such as
 * Authorization carry credentials (a digest response), and bodies are long.
 */
export function sipSummary(message: string): string {
  const end = message.indexOf('\r\n');
  const startLine = (end === -1 ? message : message.slice(0, end)).slice(0, 200);
  if (startLine === '') return '(keep-alive)';
  const header = (name: RegExp): string | undefined => name.exec(message)?.[1]?.trim();
  const callId = header(/^(?:Call-ID|i):([^\r\n]*)/im);
  const cseq = header(/^CSeq:([^\r\n]*)/im);
  return [startLine, callId && `Call-ID ${callId}`, cseq && `CSeq ${cseq}`].filter(Boolean).join(' | ');
}
