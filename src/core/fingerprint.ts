import type { Fingerprint } from './driver.js';

export interface FingerprintComparison {
  equal: boolean;
  compared: number;
  differences: string[];
}

/**
 * Compares what a restore holds with what the backup recorded. Keys are
 * object paths (`db.schema.table`); with `prefixes`, only recorded items under
 * them count (a restore of one database out of several). When one side has
 * counts only, checksums are not compared.
 */
export function compareFingerprints(recorded: Fingerprint, restored: Fingerprint, prefixes?: readonly string[]): FingerprintComparison {
  const inScope = (key: string) => !prefixes || prefixes.some((p) => key === p || key.startsWith(`${p}.`));
  const differences: string[] = [];
  const checksums = recorded.scope === 'full' && restored.scope === 'full';
  let compared = 0;
  for (const [key, want] of Object.entries(recorded.items)) {
    if (!inScope(key)) continue;
    compared++;
    const got = restored.items[key];
    if (!got) {
      differences.push(`${key}: missing after restore`);
      continue;
    }
    if (got.count !== want.count) differences.push(`${key}: ${got.count} rows after restore, ${want.count} at backup`);
    else if (checksums && got.checksum !== want.checksum) differences.push(`${key}: content checksum differs`);
  }
  for (const key of Object.keys(restored.items)) {
    if (inScope(key) && !(key in recorded.items)) differences.push(`${key}: present after restore, absent at backup`);
  }
  return { equal: differences.length === 0, compared, differences };
}
