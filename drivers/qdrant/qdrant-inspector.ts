import type { Inspection } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { q, type QdrantNode } from './qdrant-connection.js';

/** `GET /`: `{ title: "qdrant - vector search engine", version }`. */
export async function qdrantVersion(node: QdrantNode): Promise<{ title: string; version: string }> {
  const info = await q(node, 'read its version (GET /)', () => node.client.versionInfo());
  return { title: info.title, version: info.version };
}

export async function listCollections(node: QdrantNode): Promise<string[]> {
  const res = await q(node, 'list collections', () => node.client.getCollections());
  return res.collections.map((c) => c.name).sort();
}

/** The collections a backup takes: the service option `collections` (list or comma string), else all. */
export async function selectCollections(node: QdrantNode, service: Service): Promise<string[]> {
  const all = await listCollections(node);
  const wanted = service.options.collections ?? service.endpoint?.params.collections;
  if (wanted === undefined) return all;
  const names = Array.isArray(wanted) ? wanted.map(String) : String(wanted).split(',').map((s) => s.trim()).filter(Boolean);
  const missing = names.filter((n) => !all.includes(n));
  if (missing.length > 0) {
    throw new HoldfastError('not-found', `no collection ${missing.join(', ')} on ${node.location}`, { service: service.name, driver: 'qdrant', hint: `collections there: ${all.join(', ') || 'none'}` });
  }
  return names;
}

export async function inspectQdrant(node: QdrantNode): Promise<Inspection> {
  const { version, title } = await qdrantVersion(node);
  const names = await listCollections(node);
  const objects: Inspection['objects'] = [];
  for (const name of names) objects.push({ name, kind: 'collection' });
  return { version, objects, details: { title } };
}
