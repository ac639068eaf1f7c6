import type { Candidate, Detection } from '../../src/core/driver.js';

export const QDRANT_SCHEMES = ['qdrant', 'qdrants'] as const;

/** Signals, strongest first: configured engine, URL scheme, image, environment, data files. */
export function detectQdrant(c: Candidate): Detection | undefined {
  const hit = (signal: string, strength: number): Detection => ({ engine: 'qdrant', signal, strength });
  if (c.engine === 'qdrant') return hit('configured engine', 100);
  if (c.endpoint && (QDRANT_SCHEMES as readonly string[]).includes(c.endpoint.scheme)) return hit(`URL scheme ${c.endpoint.scheme}:`, 80);
  if (c.image && /(^|\/)qdrant(:|$)/.test(c.image)) return hit(`image ${c.image}`, 60);
  if (c.envNames?.some((n) => n.startsWith('QDRANT__'))) return hit('QDRANT__* environment', 40);
  if (c.volumeEntries?.includes('collections') && c.volumeEntries.includes('raft_state.json')) return hit('collections/ and raft_state.json in the volume', 20);
  return undefined;
}
