/**
 * A fault inside JsSIP on one incoming SIP message must not stop the process (the gateway holds
 * every agent's calls): the soak saw JsSIP throw from its message handler (a 481 reply with no
 * server transaction) and from a peer connection listener after close (see guarded-pc.spec.ts).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { NodeWsSocket, type SipLogger } from '@callgate/sip';
import { eventually } from './support/tabs.js';

describe('a SIP message JsSIP fails on', () => {
  let server: WebSocketServer;
  let peer: WebSocket | undefined;

  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'sip' });
    server.on('connection', (ws) => {
      peer = ws;
    });
    await once(server, 'listening');
  });
  afterAll(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  it('is dropped and logged with its start line (no credentials), and the next message is delivered', async () => {
    const errors: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: SipLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (message, fields) => errors.push({ message, ...(fields ? { fields } : {}) }),
    };
    const { port } = server.address() as AddressInfo;
    const socket = new NodeWsSocket(`ws://127.0.0.1:${port}`, logger);
    const delivered: string[] = [];
    socket.ondata = (text) => {
      delivered.push(text.slice(0, text.indexOf('\r\n')));
      // What JsSIP 3.13 does on some in-dialog requests it cannot match (UA.receiveRequest).
      if (text.startsWith('NOTIFY'))
        throw new TypeError("Cannot read properties of null (reading 'receiveResponse')");
    };
    const connected = new Promise<void>((resolve) => {
      socket.onconnect = resolve;
    });
    socket.connect();
    await connected;
    const ws = await eventually(() => peer);
    ws.send(
      'NOTIFY sip:7001@127.0.0.1 SIP/2.0\r\nCall-ID: gone-1\r\nCSeq: 2 NOTIFY\r\nAuthorization: Digest response="secret"\r\n\r\n',
    );
    ws.send('OPTIONS sip:7001@127.0.0.1 SIP/2.0\r\nCall-ID: next-1\r\nCSeq: 3 OPTIONS\r\n\r\n');
    await eventually(() => (delivered.length === 2 ? true : undefined));
    expect(delivered).toEqual(['NOTIFY sip:7001@127.0.0.1 SIP/2.0', 'OPTIONS sip:7001@127.0.0.1 SIP/2.0']);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe(
      'JsSIP failed on an incoming message; dropped: NOTIFY sip:7001@127.0.0.1 SIP/2.0 | Call-ID gone-1 | CSeq 2 NOTIFY',
    );
    expect(String(errors[0]?.fields?.error)).toContain("reading 'receiveResponse'");
    expect(JSON.stringify(errors)).not.toContain('secret');
    expect(socket.isConnected()).toBe(true);
    await socket.drop();
  });
});
