import { Socket } from 'node:net';
import { HoldfastError } from './errors.js';

/**
 * What speaks at a TCP endpoint, found in under a second: a wrong scheme on
 * a live port (a mysql:// URL at PostgreSQL's port) otherwise looks like an
 * outage, the client waiting ten seconds for a greeting that never comes.
 *
 * MySQL and MariaDB speak first (a handshake packet, protocol 10); the others
 * wait for the client, so each gets the smallest question only it answers
 * that way, on a connection of its own: PostgreSQL an SSLRequest (one byte,
 * `S` or `N`), MongoDB an OP_MSG `hello` (a reply with opcode 2013), HTTP a
 * `GET /` (a reply starting `HTTP/`; MongoDB's port says so in plain words).
 */
export type Protocol = 'PostgreSQL' | 'MySQL / MariaDB' | 'MongoDB' | 'HTTP';

const PROBE_MS = 900;
/** How long a silent server is given to greet before the probes that speak first are judged. */
const GREETING_MS = 300;

export interface ProbeResult {
  /** The protocol recognised, if any. */
  protocol?: Protocol;
  /** What the endpoint said, for a protocol not recognised: its first bytes as text. */
  greeting?: string;
}

export async function probeProtocol(host: string, port: number, timeoutMs = PROBE_MS): Promise<ProbeResult> {
  const [greeting, postgres, mongo, http] = await Promise.all([
    exchange(host, port, undefined, Math.min(GREETING_MS, timeoutMs)),
    exchange(host, port, Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), timeoutMs),
    exchange(host, port, mongoHello(), timeoutMs),
    exchange(host, port, Buffer.from(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`), timeoutMs),
  ]);
  if (greeting && greeting.length >= 5) {
    // 3-byte length, sequence 0, then protocol version 10 (or an error packet, 0xff, for a refused host).
    if (greeting[3] === 0 && (greeting[4] === 0x0a || greeting[4] === 0xff)) return { protocol: 'MySQL / MariaDB' };
    return { greeting: printable(greeting) };
  }
  if (mongo && mongo.length >= 16 && mongo.readInt32LE(12) === 2013) return { protocol: 'MongoDB' };
  if (http?.subarray(0, 5).toString('latin1') === 'HTTP/') {
    return { protocol: /MongoDB/.test(http.toString('latin1')) ? 'MongoDB' : 'HTTP' };
  }
  if (postgres && postgres.length === 1 && (postgres[0] === 0x53 || postgres[0] === 0x4e)) return { protocol: 'PostgreSQL' };
  return {};
}

/**
 * Waits for `connecting` (a client's own connect); should it take longer
 * than a moment, or fail in a way that is not a plain refusal, asks what
 * speaks at the endpoint, and fails at once, naming it, when it is not
 * `expected`. `abandon` then stops the client's attempt (its socket would
 * keep the process waiting for the client's own timeout).
 */
export async function connectOrNameProtocol<T>(
  connecting: Promise<T>,
  endpoint: { host: string; port: number; expected: Protocol; service?: string; driver?: string },
  abandon: () => void = () => undefined,
): Promise<T> {
  if (!endpoint.host || endpoint.host.startsWith('/') || !endpoint.port) return connecting;
  let settled = false;
  const watched = connecting.finally(() => (settled = true));
  const mismatch = () => protocolMismatch(endpoint);
  const slow = new Promise<'slow'>((resolve) => setTimeout(() => resolve('slow'), SLOW_MS).unref());
  let first: T | 'slow';
  try {
    first = await Promise.race([watched, slow]);
  } catch (error) {
    if (!isRefusal(error)) {
      const named = await mismatch().catch(() => undefined);
      if (named) throw named;
    }
    throw error;
  }
  if (first !== 'slow') return first;
  if (!settled) {
    const named = await mismatch().catch(() => undefined);
    if (named && !settled) {
      watched.catch(() => undefined);
      abandon();
      throw named;
    }
  }
  return watched;
}

/** The error naming what speaks at the endpoint when it is not `expected`; undefined when it is, or nothing tells. */
export async function protocolMismatch(endpoint: { host: string; port: number; expected: Protocol; service?: string; driver?: string }): Promise<HoldfastError | undefined> {
  const found = await probeProtocol(endpoint.host, endpoint.port);
  if (found.protocol && found.protocol !== endpoint.expected) {
    return wrongProtocol(endpoint, `this port answers ${found.protocol}'s protocol, not ${endpoint.expected}'s`, found.protocol);
  }
  if (found.greeting !== undefined) {
    return wrongProtocol(endpoint, `this port greets with ${JSON.stringify(found.greeting)}, which is not ${endpoint.expected}`);
  }
  return undefined;
}

/**
 * For a protocol whose server never speaks first (MongoDB): a server that
 * greets unasked within `ms` is another engine (MySQL / MariaDB greet at
 * once), named before the client is let near it. The MongoDB driver reads a
 * MariaDB greeting as a message and grows its heap until the process dies,
 * so this check must come before its connect, not after a slow one.
 */
export async function refuseGreetingServer(endpoint: { host: string; port: number; expected: Protocol; service?: string; driver?: string }, ms = 150): Promise<void> {
  if (!endpoint.host || endpoint.host.startsWith('/') || !endpoint.port) return;
  const greeting = await exchange(endpoint.host, endpoint.port, undefined, ms);
  if (!greeting) return;
  throw (await protocolMismatch(endpoint).catch(() => undefined)) ?? wrongProtocol(endpoint, `this port greets with ${JSON.stringify(printable(greeting))} before it is asked anything, which ${endpoint.expected} never does`);
}

/**
 * For clients whose failure comes fast but reads as an outage (an HTTP
 * client at a database's port: "socket hang up"): a 'connect' error is
 * replaced by one naming what speaks there, when something else does.
 */
export async function withProtocolNamed(error: HoldfastError, endpoint: { host: string; port: number; expected: Protocol }): Promise<HoldfastError> {
  if (error.code !== 'connect' || !endpoint.host || !endpoint.port) return error;
  const named = await protocolMismatch({ ...endpoint, ...(error.service ? { service: error.service } : {}), ...(error.driver ? { driver: error.driver } : {}) }).catch(() => undefined);
  return named ?? error;
}

/** A connect that takes longer than this (on a local network a handshake takes milliseconds) is probed. */
const SLOW_MS = 400;

function isRefusal(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENOENT' || code === 'EAI_AGAIN';
}

function wrongProtocol(endpoint: { host: string; port: number; expected: Protocol; service?: string; driver?: string }, what: string, found?: Protocol): HoldfastError {
  const scheme: Record<Protocol, string> = { PostgreSQL: 'postgres://', 'MySQL / MariaDB': 'mysql://', MongoDB: 'mongodb://', HTTP: 'opensearch:// or qdrant://' };
  return new HoldfastError('connect', `${endpoint.host}:${endpoint.port} does not speak ${endpoint.expected}: ${what}`, {
    ...(endpoint.service ? { service: endpoint.service } : {}),
    ...(endpoint.driver ? { driver: endpoint.driver } : {}),
    hint: found
      ? `check the port and the scheme in the URL: a ${found} server wants a ${scheme[found]} URL, and ${endpoint.expected} listens elsewhere`
      : `check the port in the URL: it belongs to another program`,
  });
}

/** Sends `question` (or nothing) and collects what comes back until the server stops, closes, or time is up. */
function exchange(host: string, port: number, question: Buffer | undefined, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      clearTimeout(quiet);
      socket.destroy();
      resolve(chunks.length ? Buffer.concat(chunks) : undefined);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.once('error', done);
    socket.once('close', done);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // The first bytes tell; a short pause after them ends the wait.
      clearTimeout(quiet);
      quiet = setTimeout(done, 50);
    });
    socket.connect(port, host, () => {
      if (question) socket.write(question);
    });
  });
}

/** OP_MSG `{ hello: 1, $db: 'admin' }`: what every MongoDB since 4.4 (and FerretDB) answers. */
function mongoHello(): Buffer {
  const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return b;
  };
  const db = cstring('admin');
  const elements = Buffer.concat([Buffer.from([0x10]), cstring('hello'), int32(1), Buffer.from([0x02]), cstring('$db'), int32(db.length), db]);
  const document = Buffer.concat([int32(elements.length + 5), elements, Buffer.from([0])]);
  const body = Buffer.concat([int32(0), Buffer.from([0]), document]);
  return Buffer.concat([int32(16 + body.length), int32(1), int32(0), int32(2013), body]);
}

function printable(bytes: Buffer): string {
  return bytes.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
}
