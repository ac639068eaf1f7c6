import { Client } from '@opensearch-project/opensearch';
import { withProtocolNamed } from '../../src/core/protocol-probe.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';

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

export function connectOpenSearch(service: Service): OpenSearchApi {
  const e = service.endpoint;
  if (!e?.host) {
    throw new HoldfastError('config', 'an OpenSearch service needs a URL such as opensearch://127.0.0.1:9200', { service: service.name, driver: 'opensearch' });
  }
  const tls = e.params.tls === 'true' || e.scheme === 'opensearchs' || e.scheme === 'https';
  const location = `${tls ? 'https' : 'http'}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port ?? 9200}`;
  const password = lookupPassword(service);
  const auth = e.user ? { username: e.user, password: password ?? '' } : undefined;
  // The default 30 s request timeout is fine: long work (snapshot, restore) is polled, never held open.
  const client = new Client({ node: location, ...(auth ? { auth } : {}), ssl: { rejectUnauthorized: e.params.insecure !== 'true' } });
  return {
    service: service.name,
    location,
    async call(method, path, body, query) {
      try {
        const res = await client.transport.request({ method, path, ...(body === undefined ? {} : { body: body as any }), ...(query ? { querystring: query } : {}) });
        return res.body as any;
      } catch (cause) {
        // A fast failure at a port that speaks another protocol is named as such (protocol-probe.ts).
        throw await withProtocolNamed(openSearchError(service.name, location, method, path, cause), { host: e.host, port: e.port ?? 9200, expected: 'HTTP' });
      }
    },
    close: () => client.close(),
  };
}

/** Turns client errors into messages that say what the server answered and what to do. */
function openSearchError(service: string, location: string, method: string, path: string, cause: unknown): HoldfastError {
  const err = cause as { name?: string; statusCode?: number; body?: any; message?: string };
  const opts = { service, driver: 'opensearch', cause };
  if (err.name === 'ConnectionError' || err.name === 'TimeoutError' || err.name === 'NoLivingConnectionsError') {
    return new HoldfastError('connect', `cannot reach OpenSearch at ${location}: ${err.message}`, { ...opts, hint: 'check the host and port in the service URL and that the node is running' });
  }
  if (err.statusCode === 401 || err.statusCode === 403) {
    return new HoldfastError('auth', `OpenSearch at ${location} refused the credentials (${err.statusCode})`, {
      ...opts,
      hint: `put the user in the URL (opensearch://admin@host:9200) and the password in HOLDFAST_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`,
    });
  }
  const reason = err.body?.error?.root_cause?.[0]?.reason ?? err.body?.error?.reason ?? err.message ?? String(cause);
  const code = err.statusCode === 404 ? 'not-found' : 'tool';
  return Object.assign(new HoldfastError(code, `${method} ${path} failed (${err.statusCode ?? '?'}): ${reason}`, opts), { status: err.statusCode, reason });
}

/** The HTTP status of a failed call, for callers that expect a 404. */
export function statusOf(error: unknown): number | undefined {
  return (error as { status?: number }).status;
}
