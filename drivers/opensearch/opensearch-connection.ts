import { Client, Connection } from '@opensearch-project/opensearch';
import { withProtocolNamed } from '../../src/core/protocol-probe.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { stallTimeoutMs } from '../../src/core/stall-timeout.js';

/**
 * The few calls holdfast makes, described locally (STYLE: the driver does not
 * lean on the client's large typed surface). Every call goes through the
 * official client's transport, so auth, TLS and retries are the client's.
 */
export interface OpenSearchApi {
  readonly service: string;
  /** `http://host:port` for messages (never credentials). */
  readonly location: string;
  call<T = any>(method: string, path: string, body?: unknown, query?: Record<string, string | number | boolean>): Promise<T>;
  close(): Promise<void>;
}

/** Service options and URL parameters, URL parameters winning (a --target carries only its URL). */
export function osOption(service: Service, key: string): string | undefined {
  const fromUrl = service.endpoint?.params[key];
  if (fromUrl) return fromUrl;
  const value = service.options[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Services whose endpoint is a tunnel to a node inside a container
 * (opensearch-place.ts): the node's own name for messages, and the password
 * read inside the container, which never goes into options (they reach the manifest).
 */
export const reachedVia = new WeakMap<Service, { location: string; password?: string }>();

export function connectOpenSearch(service: Service): OpenSearchApi {
  const e = service.endpoint;
  if (!e?.host) {
    throw new HoldfastError('config', 'an OpenSearch service needs a URL such as opensearch://127.0.0.1:9200', { service: service.name, driver: 'opensearch' });
  }
  const tls = e.params.tls === 'true' || e.scheme === 'opensearchs' || e.scheme === 'https';
  const url = `${tls ? 'https' : 'http'}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port ?? 9200}`;
  const via = reachedVia.get(service);
  const location = via?.location ?? url;
  const password = via ? via.password : lookupPassword(service);
  const auth = e.user ? { username: e.user, password: password ?? '' } : undefined;
  // Long work (snapshot, restore) is polled, never held open: 30 s without progress is a stall, or less when
  // HOLDFAST_STALL_TIMEOUT_SECONDS says so. The client's timeout watches the socket until the answer's headers
  // arrive, and with one retry a stall fails within two timeouts; the deadline below also covers an answer that
  // stops mid-body, which the client's timeout no longer watches.
  const stallMs = Math.min(30_000, stallTimeoutMs());
  const client = new Client({
    node: url,
    ...(auth ? { auth } : {}),
    ssl: { rejectUnauthorized: e.params.insecure !== 'true' },
    requestTimeout: stallMs,
    maxRetries: 1,
    Connection: QuietConnection,
  });
  return {
    service: service.name,
    location,
    async call(method, path, body, query) {
      const request = client.transport.request({ method, path, ...(body === undefined ? {} : { body: body as any }), ...(query ? { querystring: query } : {}) });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          request.abort();
          reject(Object.assign(new Error('Request timed out'), { name: 'TimeoutError' }));
        }, 3 * stallMs);
      });
      try {
        const res = await Promise.race([request, deadline]);
        return res.body as any;
      } catch (cause) {
        // A fast failure at a port that speaks another protocol is named as such (protocol-probe.ts).
        throw await withProtocolNamed(openSearchError(service.name, location, method, path, cause, stallMs), { host: e.host, port: e.port ?? 9200, expected: 'HTTP' });
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => client.close(),
  };
}

/**
 * The client's connection, except that once an answer has begun it no longer
 * prints a later socket error with console.log: that went to stdout, into the
 * middle of a --json document. The answer's own stream still reports it.
 */
class QuietConnection extends Connection {
  override request(params: any, callback: any): any {
    const request = super.request(params, callback) as { on?: (event: string, listener: () => void) => void; removeAllListeners?: (event: string) => void };
    request.on?.('response', () => {
      request.removeAllListeners?.('error');
      request.on?.('error', () => undefined);
    });
    return request;
  }
}

/** Turns client errors into messages that say what the server answered and what to do. */
function openSearchError(service: string, location: string, method: string, path: string, cause: unknown, stallMs: number): HoldfastError {
  const err = cause as { name?: string; statusCode?: number; body?: any; message?: string };
  const opts = { service, driver: 'opensearch', cause };
  if (err.name === 'TimeoutError') {
    return new HoldfastError('connect', `OpenSearch at ${location} gave no answer to ${method} ${path}: it stalled (no progress for ${stallMs / 1000} s, retried once)`, {
      ...opts,
      hint: "check the node's health and log (GET _cluster/health); on a slow link raise HOLDFAST_STALL_TIMEOUT_SECONDS (at most 30 s per try)",
    });
  }
  if (err.name === 'ConnectionError' || err.name === 'NoLivingConnectionsError') {
    return new HoldfastError('connect', `cannot reach OpenSearch at ${location}: ${err.message}`, { ...opts, hint: 'check the host and port in the service URL and that the node is running' });
  }
  if (err.statusCode === 401 || err.statusCode === 403) {
    return new HoldfastError('auth', `OpenSearch at ${location} refused the credentials (${err.statusCode})`, {
      ...opts,
      hint: `put the user in the URL (opensearch://admin@host:9200) and the password in HOLDFAST_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`,
    });
  }
  // A body that is not OpenSearch's JSON error (a proxy's page, plain text) is shown as it came, shortened.
  const text = typeof err.body === 'string' && err.body.trim() !== '' ? err.body.trim().replace(/\s+/g, ' ').slice(0, 300) : undefined;
  const reason = err.body?.error?.root_cause?.[0]?.reason ?? err.body?.error?.reason ?? text ?? err.message ?? String(cause);
  const code = err.statusCode === 404 ? 'not-found' : 'tool';
  return Object.assign(new HoldfastError(code, `${method} ${path} failed (${err.statusCode ?? '?'}): ${reason}`, opts), { status: err.statusCode, reason });
}

/** The HTTP status of a failed call, for callers that expect a 404. */
export function statusOf(error: unknown): number | undefined {
  return (error as { status?: number }).status;
}
