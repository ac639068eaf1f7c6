/**
 * A small HTTP server on 127.0.0.1 that misbehaves the ways real servers do, for the "every network
 * step has a bound" tests (issue 12):
 *
 *   - 'error-early': answers 500 with a body at once, before reading the request body;
 *   - 'stall-half':  reads about half of the request body (or none, without one), then stops
 *                    reading and never answers;
 *   - 'close-mid-body': reads half of the request body, answers 200 with a Content-Length, sends
 *                    part of the body, and closes the connection;
 *   - 'stall-mid-body': the same, but instead of closing it stops sending and keeps the connection.
 *
 *   const server = await startMisbehaving('error-early', { body: 'disk full' });
 *   ... point the client at server.url ...
 *   await server.stop();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type Misbehaviour = 'error-early' | 'stall-half' | 'close-mid-body' | 'stall-mid-body';

export interface MisbehavingServer {
  url: string;
  /** Requests seen (method and URL), in order. */
  requests: string[];
  /** Bytes of request bodies read, all requests together. */
  bytesRead(): number;
  stop(): Promise<void>;
}

export async function startMisbehaving(mode: Misbehaviour, options: { body?: string; contentType?: string } = {}): Promise<MisbehavingServer> {
  const body = options.body ?? 'the server failed on purpose';
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let read = 0;

  const readHalf = (req: IncomingMessage, then: () => void) => {
    const half = Math.floor(Number(req.headers['content-length'] ?? 0) / 2);
    if (half === 0 && req.headers['transfer-encoding'] === undefined) return then();
    let seen = 0;
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      read += chunk.length;
      if (seen >= Math.max(1, half)) {
        req.off('data', onData);
        req.pause();
        then();
      }
    };
    req.on('data', onData);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    if (mode === 'error-early') {
      res.writeHead(500, { 'content-type': options.contentType ?? 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (mode === 'stall-half') {
      readHalf(req, () => undefined);
      return;
    }
    readHalf(req, () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write('{"partial": "'.padEnd(100, 'x'));
      if (mode === 'close-mid-body') setTimeout(() => res.socket?.destroy(), 20);
    });
  };

  const server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    bytesRead: () => read,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
