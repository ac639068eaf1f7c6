import type { Candidate, Detection } from '../../src/core/driver.js';

/** Kept free of client libraries: detection runs before any driver module is loaded. */
export const MONGO_SCHEMES = ['mongodb'] as const;

/** Official, community, Bitnami and Percona images, and FerretDB (the MongoDB wire protocol on other storage). */
const IMAGE = /(^|\/)(mongo|mongodb|mongodb-community-server|mongodb-enterprise-server|percona-server-mongodb|ferretdb)(:|@|$)/;

/** Signals, strongest first: configured engine, URL scheme, image, environment, data files. */
export function detectMongo(c: Candidate): Detection | undefined {
  const hit = (signal: string, strength: number): Detection => ({ engine: 'mongodb', signal, strength });
  if (c.engine === 'mongodb') return hit('configured engine', 100);
  if (c.endpoint && (MONGO_SCHEMES as readonly string[]).includes(c.endpoint.scheme)) return hit(`URL scheme ${c.endpoint.scheme}:`, 80);
  if (c.image && IMAGE.test(c.image)) return hit(`image ${c.image}`, 60);
  if (c.envNames?.some((n) => n.startsWith('MONGO_INITDB_'))) return hit('MONGO_INITDB_* environment', 40);
  if (c.volumeEntries?.some((e) => e === 'WiredTiger' || e === 'WiredTiger.wt')) return hit('WiredTiger files in the volume', 20);
  return undefined;
}
