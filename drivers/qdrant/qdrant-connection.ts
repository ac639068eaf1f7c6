import { readFileSync } from 'node:fs';
import { withProtocolNamed } from '../../src/core/protocol-probe.js';
import { QdrantClient } from '@qdrant/js-client-rest';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { stallMs } from '../../src/core/http-stall.js';

/**
 * One Qdrant node: the official client for JSON calls, plus what the client
 * does not wrap (the binary snapshot download and upload), done with fetch
 * and the same `api-key` header. The key is never part of a message.
 */
export interface QdrantNode {
  readonly service: string;
  /** `http://host:port` for messages and journals (`... in container NAME` for a node reached through a tunnel): stable across runs. */
  readonly location: string;
  /** The base URL requests go to (a tunnel's local port for a node inside a container). */
  readonly url: string;
  readonly client: QdrantClient;
  /** Headers for fetch calls (the api-key when there is one). */
  headers(): Record<string, string>;
}

/**
 * Services whose endpoint is a tunnel to a node inside a container
 * (qdrant-place.ts): the node's own name for messages, and the api key read
 * inside the container, which never goes into options (they reach the manifest).
 */
export const reachedVia = new WeakMap<Service, { location: string; apiKey?: string }>();

export function connectQdrant(service: Service): QdrantNode {
  const e = service.endpoint;
  if (!e?.host) {
    throw new HoldfastError('config', 'a Qdrant service needs a URL such as qdrant://127.0.0.1:6333', { service: service.name, driver: 'qdrant' });
  }
  const inUrl = Object.keys(e.params).find((k) => /^api[-_]?key$/i.test(k));
  if (inUrl) {
    // A key in the URL would be shown by ps, shell history and every message that prints the URL.
    throw new HoldfastError('config', `an api key in the service URL (?${inUrl}=...) is not used: a secret does not belong in a URL`, {
      service: service.name,
      driver: 'qdrant',
      hint: `drop it from the URL and set HOLDFAST_${service.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD (or _PASSWORD_FILE, or the service option api_key_env / api_key_file) to the key`,
    });
  }
  const tls = e.params.tls === 'true' || e.scheme === 'qdrants';
  const url = `${tls ? 'https' : 'http'}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port ?? 6333}`;
  const via = reachedVia.get(service);
  const location = via?.location ?? url;
  const apiKey = via ? via.apiKey : lookupApiKey(service);
  // checkCompatibility would print a warning on a version mismatch; holdfast reports versions itself.
  // The key goes in as a header, not `apiKey`: with `apiKey` the client prints "Api key is used
  // with unsecure connection." on every construction; README says what plain http means for the key.
  // A JSON call that gets no answer fails after the stall bound (at least 10 min: a snapshot is made with wait=true).
  const client = new QdrantClient({ url, ...(apiKey ? { headers: { 'api-key': apiKey } } : {}), checkCompatibility: false, timeout: Math.max(600_000, stallMs()) });
  return { service: service.name, location, url, client, headers: (): Record<string, string> => (apiKey ? { 'api-key': apiKey } : {}) };
}

/**
 * The api-key, as other secrets: HOLDFAST_<NAME>_PASSWORD[_FILE] (see
 * secrets.ts), then the service options `api_key_env` / `api_key_file`.
 */
export function lookupApiKey(service: Service): string | undefined {
  const fromSecrets = lookupPassword(service);
  if (fromSecrets) return fromSecrets;
  const envKey = service.options.api_key_env;
  if (typeof envKey === 'string' && envKey) {
    const value = process.env[envKey];
    if (value === undefined) throw new HoldfastError('config', `api_key_env names ${envKey}, which is not set`, { service: service.name, driver: 'qdrant', hint: `export ${envKey} before running holdfast` });
    return value;
  }
  const file = service.options.api_key_file;
  if (typeof file === 'string' && file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (cause) {
      throw new HoldfastError('config', `cannot read the api key file ${file}`, { service: service.name, driver: 'qdrant', hint: 'check the path and that holdfast may read it', cause });
    }
  }
  return undefined;
}

/** Client and fetch failures as messages that name the node and the fix. */
export function qdrantError(node: QdrantNode, what: string, cause: unknown): HoldfastError {
  if (cause instanceof HoldfastError) return cause;
  const err = cause as { status?: number; message?: string; cause?: { code?: string }; data?: { status?: { error?: string } } };
  const opts = { service: node.service, driver: 'qdrant', cause };
  // Qdrant's own text ({ status: { error } }) says more than the HTTP status line ("File name too long (os error 36)").
  const own = typeof err.data?.status?.error === 'string' ? err.data.status.error : undefined;
  if (err.status === 401 || err.status === 403) {
    return new HoldfastError('auth', `Qdrant at ${node.location} refused the api-key while trying to ${what} (${err.status}${own ? `: ${own}` : ''})`, {
      ...opts,
      hint: err.status === 403
        ? 'the key is valid but may not do this (a read-only key): use the node\'s full api key, which a backup and a restore need'
        : `set HOLDFAST_${node.service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD (or the service option api_key_env / api_key_file) to the node's api key`,
    });
  }
  if (err.cause?.code === 'ECONNREFUSED' || /fetch failed|ECONNREFUSED/.test(err.message ?? '')) {
    return new HoldfastError('connect', `cannot reach Qdrant at ${node.location} to ${what}`, { ...opts, hint: 'check the host and port in the service URL and that Qdrant is running' });
  }
  const status = err.status ? `HTTP ${err.status}` : '';
  const text = own ? `${status} ${own}`.trim() : (err.message ?? String(cause));
  return new HoldfastError(err.status === 404 ? 'not-found' : 'tool', `Qdrant at ${node.location}: cannot ${what}: ${text}`, opts);
}

/** An HTTP failure of a fetch-level call, with Qdrant's own error text when its body has one. */
export function httpFailure(status: number, body: string): Error & { status: number; data?: unknown } {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    data = undefined;
  }
  const own = (data as { status?: { error?: unknown } } | undefined)?.status?.error;
  return Object.assign(new Error(`HTTP ${status} ${typeof own === 'string' ? own : body.slice(0, 500)}`.trim()), { status, ...(typeof own === 'string' ? { data } : {}) });
}

/** Runs a client call, wrapping its failure. */
export async function q<T>(node: QdrantNode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    const url = new URL(node.url);
    // A fast failure at a port that speaks another protocol is named as such (protocol-probe.ts).
    throw await withProtocolNamed(qdrantError(node, what, cause), { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)), expected: 'HTTP' });
  }
}
