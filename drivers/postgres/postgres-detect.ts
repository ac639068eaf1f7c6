import type { Candidate, Detection } from '../../src/core/driver.js';

export const POSTGRES_SCHEMES = ['postgres', 'postgresql'] as const;

/** Signals, strongest first: configured engine, URL scheme, image, environment, data files. */
export function detectPostgres(c: Candidate): Detection | undefined {
  const hit = (signal: string, strength: number): Detection => ({ engine: 'postgres', signal, strength });
  if (c.engine === 'postgres') return hit('configured engine', 100);
  if (c.endpoint && (POSTGRES_SCHEMES as readonly string[]).includes(c.endpoint.scheme)) return hit(`URL scheme ${c.endpoint.scheme}:`, 80);
  if (c.image && /(^|\/)(postgres|postgis|timescaledb)[^/]*(:|$)/.test(c.image)) return hit(`image ${c.image}`, 60);
  if (c.envNames?.some((n) => n === 'POSTGRES_PASSWORD' || n === 'POSTGRES_USER' || n === 'PGDATA')) return hit('POSTGRES_* environment', 40);
  if (c.volumeEntries?.includes('PG_VERSION')) return hit('PG_VERSION in the volume', 20);
  return undefined;
}
