import type { Candidate, Detection } from '../../src/core/driver.js';

export const VOLUME_SCHEMES = ['volume'] as const;

/** Volumes are claimed only when named so: any engine with a stronger signal wins its own volumes. */
export function detectVolume(c: Candidate): Detection | undefined {
  if (c.engine === 'volume') return { engine: 'volume', signal: 'configured engine', strength: 100 };
  if (c.endpoint?.scheme === 'volume') return { engine: 'volume', signal: 'URL scheme volume:', strength: 80 };
  return undefined;
}
