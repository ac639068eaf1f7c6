import type { Candidate, Detection } from '../../src/core/driver.js';

export const MYSQL_SCHEMES = ['mysql', 'mariadb'] as const;

/** Signals, strongest first: configured engine, URL scheme, image, environment, data files. */
export function detectMysql(c: Candidate): Detection | undefined {
  const hit = (signal: string, strength: number): Detection => ({ engine: 'mysql', signal, strength });
  if (c.engine === 'mysql') return hit('configured engine', 100);
  if (c.endpoint && (MYSQL_SCHEMES as readonly string[]).includes(c.endpoint.scheme)) return hit(`URL scheme ${c.endpoint.scheme}:`, 80);
  if (c.image && /(^|\/)(mysql|mariadb|percona(-server)?)(:|@|$)/.test(c.image)) return hit(`image ${c.image}`, 60);
  if (c.envNames?.some((n) => /^(MYSQL|MARIADB)_(ROOT_PASSWORD|ROOT_PASSWORD_FILE|RANDOM_ROOT_PASSWORD|ALLOW_EMPTY_ROOT_PASSWORD|DATABASE|USER)$/.test(n))) {
    return hit('MYSQL_* / MARIADB_* environment', 40);
  }
  if (c.volumeEntries?.includes('ibdata1') && c.volumeEntries.includes('mysql')) return hit('ibdata1 and mysql/ in the volume', 20);
  return undefined;
}
