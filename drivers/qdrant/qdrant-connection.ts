import { readFileSync } from 'node:fs';
import { withProtocolNamed } from '../../src/core/protocol-probe.js';
import { QdrantClient } from '@qdrant/js-client-rest';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';

/**
 * One Qdrant node: the official client for JSON calls, plus what the client
 * does not wrap (the binary snapshot download and upload), done with fetch
 * and the same `api-key` header. The key is never part of a message.
 */
export interface QdrantNode {
  readonly service: string;
  /** `http://host:port` for messages. */
  readonly location: string;
  readonly client: QdrantClient;
  /** Headers for fetch calls (the api-key when there is one). */
  headers(): Record<string, string>;
}

export function connectQdrant(service: Service): QdrantNode {
  const e = service.endpoint;
  if (!e?.host) {
    throw new HoldfastError('config', 'a Qdrant service needs a URL such as qdrant://127.0.0.1:6333', { service: service.name, driver: 'qdrant' });
  }
  const tls = e.params.tls === 'true' || e.scheme === 'qdrants';
  const location = `${tls ? 'https' : 'http'}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port ?? 6333}`;
  const apiKey = lookupApiKey(service);
  // checkCompatibility would print a warning on a version mismatch; holdfast reports versions itself.
  const client = new QdrantClient({ url: location, ...(apiKey ? { apiKey } : {}), checkCompatibility: false });
  return { service: service.name, location, client, headers: (): Record<string, string> => (apiKey ? { 'api-key': apiKey } : {}) };
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
  const err = cause as { status?: number; message?: string; cause?: { code?: string } };
  const opts = { service: node.service, driver: 'qdrant', cause };
  if (err.status === 401 || err.status === 403) {
    return new HoldfastError('auth', `Qdrant at ${node.location} refused the api-key while trying to ${what} (${err.status})`, {
      ...opts,
      hint: `set HOLDFAST_${node.service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD (or the service option api_key_env / api_key_file) to the node's api key`,
    });
  }
  if (err.cause?.code === 'ECONNREFUSED' || /fetch failed|ECONNREFUSED/.test(err.message ?? '')) {
    return new HoldfastError('connect', `cannot reach Qdrant at ${node.location} to ${what}`, { ...opts, hint: 'check the host and port in the service URL and that Qdrant is running' });
  }
  return new HoldfastError(err.status === 404 ? 'not-found' : 'tool', `Qdrant at ${node.location}: cannot ${what}: ${err.message ?? String(cause)}`, opts);
}

/** Runs a client call, wrapping its failure. */
export async function q<T>(node: QdrantNode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    const url = new URL(node.location);
    // A fast failure at a port that speaks another protocol is named as such (protocol-probe.ts).
    throw await withProtocolNamed(qdrantError(node, what, cause), { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)), expected: 'HTTP' });
  }
}
