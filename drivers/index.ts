import type { Driver } from '../src/core/driver.js';
import { lazyDriver } from '../src/core/lazy-driver.js';
import { DriverRegistry } from '../src/core/registry.js';
import { detectMongo, MONGO_SCHEMES } from './mongodb/mongodb-detect.js';
import { detectMysql, MYSQL_SCHEMES } from './mysql/mysql-detect.js';
import { detectOpenSearch, OPENSEARCH_SCHEMES } from './opensearch/opensearch-detect.js';
import { detectPostgres, POSTGRES_SCHEMES } from './postgres/postgres-detect.js';
import { detectQdrant, QDRANT_SCHEMES } from './qdrant/qdrant-detect.js';
import { detectVolume, VOLUME_SCHEMES } from './volume/volume-detect.js';
import { withVolumeFallback } from './volume/volume-fallback.js';

/**
 * Every built-in driver; a new engine is added here and in its own folder.
 * Each is loaded on first use (see lazyDriver): detection needs only the
 * light `<engine>-detect.ts`.
 */
export const builtinDrivers: readonly Driver[] = [
  lazyDriver({ engine: 'postgres', title: 'PostgreSQL', schemes: POSTGRES_SCHEMES, detect: detectPostgres }, async () => (await import('./postgres/postgres-driver.js')).postgresDriver),
  lazyDriver({ engine: 'mysql', title: 'MySQL / MariaDB', schemes: MYSQL_SCHEMES, detect: detectMysql }, async () => (await import('./mysql/mysql-driver.js')).mysqlDriver),
  lazyDriver({ engine: 'mongodb', title: 'MongoDB', schemes: MONGO_SCHEMES, detect: detectMongo }, async () => (await import('./mongodb/mongodb-driver.js')).mongoDriver),
  lazyDriver({ engine: 'opensearch', title: 'OpenSearch', schemes: OPENSEARCH_SCHEMES, detect: detectOpenSearch }, async () => (await import('./opensearch/opensearch-driver.js')).openSearchDriver),
  lazyDriver({ engine: 'qdrant', title: 'Qdrant', schemes: QDRANT_SCHEMES, detect: detectQdrant }, async () => (await import('./qdrant/qdrant-driver.js')).qdrantDriver),
  lazyDriver({ engine: 'volume', title: 'Docker volume', schemes: VOLUME_SCHEMES, detect: detectVolume }, async () => (await import('./volume/volume-driver.js')).volumeDriver),
];

export function defaultRegistry(): DriverRegistry {
  // Engines in containers fall back to a quiesced tar of their volumes when their own method cannot run.
  return new DriverRegistry(builtinDrivers.map(withVolumeFallback));
}
