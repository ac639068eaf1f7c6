import { randomBytes } from 'node:crypto';
import type { ScratchContext, ScratchTarget } from './driver.js';
import { formatEndpoint } from './service.js';

/** Every scratch database, collection, index and volume of a restore test starts with this. */
export const SCRATCH_PREFIX = 'holdfast_scratch_';

/** A new run: `{ run: 'k3x9a1', prefix: 'holdfast_scratch_k3x9a1_' }` (lower case: OpenSearch index names must be). */
export function newScratchRun(): { run: string; prefix: string } {
  const run = randomBytes(3).toString('hex');
  return { run, prefix: `${SCRATCH_PREFIX}${run}_` };
}

/**
 * The scratch name of a recorded object: the prefix and its name, or, when
 * that exceeds the engine's limit (in bytes), the prefix, its index and as
 * much of the name as fits. Always unique within a run, always recognisable.
 */
export function scratchObjectName(prefix: string, name: string, index: number, maxBytes: number): string {
  const whole = prefix + name;
  if (Buffer.byteLength(whole) <= maxBytes) return whole;
  let out = `${prefix}${index}_`;
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

/** A `rename` restore option that sends every recorded name under the prefix. */
export function scratchRenames(prefix: string, names: readonly string[], maxBytes: number): Record<string, string> {
  return Object.fromEntries(names.map((name, i) => [name, scratchObjectName(prefix, name, i, maxBytes)]));
}

/**
 * A restore test into temporary databases on the source's own server: every
 * database the backup recorded (`details.databases`) is restored under the
 * prefix through the restore's `rename` option, and `drop` removes them.
 */
export function sameServerScratchTarget(
  ctx: ScratchContext,
  options: { maxNameBytes: number; restoreOptions?: Record<string, unknown>; keepSourcePath?: boolean; drop: () => Promise<void> },
): ScratchTarget {
  const recorded = ((ctx.recorded.details.databases as Array<{ name: string }> | undefined) ?? []).map((d) => d.name);
  const rename = scratchRenames(ctx.prefix, recorded, options.maxNameBytes);
  const endpoint = { ...ctx.source.endpoint!, path: '' };
  return {
    target: options.keepSourcePath ? ctx.source : { ...ctx.source, endpoint },
    options: { rename, ...options.restoreOptions },
    describe: Object.values(rename).map((name) => formatEndpoint({ ...endpoint, path: name }, false)).join(', ') || formatEndpoint(endpoint, false),
    cleanup: options.drop,
  };
}
