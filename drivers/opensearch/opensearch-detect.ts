import type { Candidate, Detection } from '../../src/core/driver.js';

export const OPENSEARCH_SCHEMES = ['opensearch', 'opensearchs'] as const;

/** Signals, strongest first: configured engine, URL scheme, image, environment, data files. */
export function detectOpenSearch(c: Candidate): Detection | undefined {
  const hit = (signal: string, strength: number): Detection => ({ engine: 'opensearch', signal, strength });
  if (c.engine === 'opensearch') return hit('configured engine', 100);
  if (c.endpoint && (OPENSEARCH_SCHEMES as readonly string[]).includes(c.endpoint.scheme)) return hit(`URL scheme ${c.endpoint.scheme}:`, 80);
  if (c.image && /(^|\/)opensearch(:|$)/.test(c.image)) return hit(`image ${c.image}`, 60);
  if (c.envNames?.some((n) => n === 'OPENSEARCH_INITIAL_ADMIN_PASSWORD' || n === 'OPENSEARCH_JAVA_OPTS')) return hit('OPENSEARCH_* environment', 40);
  if (c.volumeEntries?.includes('nodes') && c.volumeEntries.includes('indices')) return hit('nodes/ and indices in the volume', 20);
  if (c.volumeEntries?.includes('nodes')) return hit('nodes/ in the volume', 20);
  return undefined;
}
