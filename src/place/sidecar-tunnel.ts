import { createServer, type Server, type Socket } from 'node:net';
import { HoldfastError } from '../core/errors.js';
import type { StreamRun } from '../docker/docker-api.js';
import type { Reached } from './place.js';

/**
 * A TCP tunnel through docker exec: a listener on 127.0.0.1 (a free port,
 * this machine only) whose every connection runs one forwarder inside a
 * container that sees the engine (a sidecar in its network namespace) and
 * pipes the bytes both ways through the exec's stdin and stdout. Clients
 * (mysql2, the mongodb driver, HTTP) connect to it as to the engine.
 *
 * The forwarder is fixed text: `nc HOST PORT` where the image has nc (its
 * EOF on stdin half-closes the connection and the reply is still read),
 * else bash's /dev/tcp. Host and port reach it as arguments, never spliced
 * into the script.
 */
const FORWARDER = [
  'if command -v nc >/dev/null 2>&1; then exec nc "$1" "$2"; fi',
  // When holdfast's side ends (also a kill -9: the exec's stdin ends), the reader goes too, so the connection closes:
  // else the server keeps it (measured: a MariaDB session left Sleeping, which could be the one holding commits).
  'if command -v bash >/dev/null 2>&1; then exec bash -c \'exec 3<>"/dev/tcp/$1/$2" || exit 1; cat <&3 & r=$!; cat >&3; kill "$r" 2>/dev/null; wait\' holdfast-forward "$1" "$2"; fi',
  'echo "the sidecar image has neither nc nor bash" >&2; exit 127',
].join('\n');

export interface Tunnel extends Reached {
  /** The stderr of the last forwarder that failed ("can't connect", "neither nc nor bash"), for errors. */
  lastError(): string | undefined;
}

export type ExecIn = (cmd: readonly string[], options: { stdin: true; signal?: AbortSignal }) => Promise<StreamRun>;

export interface TunnelOptions {
  service: string;
  where: string;
  signal?: AbortSignal;
  /**
   * Start the first connection's forwarder now, not when the client connects: its exec (50-100 ms) then overlaps
   * what the caller does meanwhile. Only where a client connects right away: the forwarder opens its connection
   * to the engine at once, and one never used is a connection the engine sees dropped (MariaDB counts it in
   * Aborted_connects). Closed with the tunnel when no client came.
   */
  warm?: boolean;
}

export async function openTunnel(exec: ExecIn, host: string, port: number, options: TunnelOptions): Promise<Tunnel> {
  let lastError: string | undefined;
  const sockets = new Set<Socket>();
  const runs = new Set<StreamRun>();
  // Each client's connection and its forwarder, for a close that lets their last bytes through (closeGently).
  const spliced = new Map<Socket, StreamRun>();
  const forwarder = () => {
    const run = exec(['sh', '-c', FORWARDER, 'holdfast-forward', host, String(port)], { stdin: true, ...(options.signal ? { signal: options.signal } : {}) });
    run.catch(() => undefined);
    return run;
  };
  let warm = options.warm ? forwarder() : undefined;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    // Without it, Nagle's algorithm holds small writes (a driver's request) for the peer's ACK: measured 17.1 s
    // against 2.8 s to read 11.6 MB of MongoDB documents through the tunnel.
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pause();
    const started = warm ?? forwarder();
    warm = undefined;
    started.then(
      (run) => splice(socket, run),
      (error: unknown) => {
        lastError = (error as Error).message;
        socket.destroy();
      },
    );
  });
  function splice(socket: Socket, run: StreamRun): void {
    runs.add(run);
    spliced.set(socket, run);
    socket.on('close', () => spliced.delete(socket));
    const stdin = run.stdin!;
    stdin.on('error', () => undefined);
    socket.pipe(stdin);
    run.stdout.pipe(socket);
    socket.resume();
    // The client went away: stop the forwarder (the exec's stream is cut, nc then exits on EPIPE/EOF).
    socket.on('close', () => run.abort());
    run.done.then(
      (exit) => {
        runs.delete(run);
        if (exit.exitCode !== 0 && exit.stderr.trim()) lastError = exit.stderr.trim().split('\n').slice(-2).join(' ');
        socket.end();
      },
      () => {
        runs.delete(run);
        socket.destroy();
      },
    );
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new HoldfastError('internal', `cannot open a local port for the tunnel to ${options.where}: ${error.message}`, { service: options.service, cause: error })));
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new HoldfastError('internal', 'the tunnel has no TCP address', { service: options.service });
  let closed = false;
  return {
    host: '127.0.0.1',
    port: address.port,
    lastError: () => lastError,
    close: async () => {
      if (closed) return;
      closed = true;
      // A warm forwarder no client took.
      void warm?.then((run) => run.abort(), () => undefined);
      warm = undefined;
      await Promise.all([...spliced].map(([socket, run]) => closeGently(socket, run)));
      for (const s of sockets) s.destroy();
      for (const r of runs) r.abort();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** How long a forwarder gets, at the tunnel's close, to pass on what its client sent last and exit by itself. */
const GENTLE_CLOSE_MS = 250;

/**
 * A client's last bytes reach the engine before its forwarder is cut: a driver's goodbye (MySQL's COM_QUIT, which
 * mysql2 writes a turn of the event loop after its end() resolved) is still on its way when the caller closes the
 * tunnel. Cut at once, MariaDB logged "Aborted connection ... (Got an error reading communication packets)" for
 * each connection of a plan and of a backup (its Aborted_clients grew by 2 per command, and its general log showed
 * no Quit). So the client's socket is read until two turns in a row bring nothing (at most 20 turns, well under a
 * millisecond each); then the forwarder's stdin ends (nc half-closes, the bash forwarder closes) and it gets
 * GENTLE_CLOSE_MS to exit by itself.
 */
async function closeGently(socket: Socket, run: StreamRun): Promise<void> {
  let last = -1;
  let quiet = 0;
  for (let turn = 0; turn < 20 && quiet < 2; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    quiet = socket.bytesRead === last ? quiet + 1 : 0;
    last = socket.bytesRead;
  }
  socket.unpipe(run.stdin!);
  run.stdin!.end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([run.done.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, GENTLE_CLOSE_MS)))]);
  clearTimeout(timer);
}
