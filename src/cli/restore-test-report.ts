import { placeLine } from '../core/place-record.js';
import { formatDuration, ProgressReporter } from '../core/progress.js';
import { restoreTestAnnotation, runRestoreTest, type RestoreTestAnnotation, type ServiceRestoreTest } from '../core/restore-test.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import type { CommandContext } from './context.js';
import { table } from './output.js';
import { verifySnapshot, type ArtifactCheck } from './commands/verify.js';

export interface SnapshotProof {
  checksums: ArtifactCheck[];
  /** Undefined when only the checksums were asked for. */
  restoreTest?: { passed: boolean; services: ServiceRestoreTest[] };
  ok: boolean;
}

/**
 * `verify [--restore-test]` and `backup --verify`: the checksums of every
 * artifact first, then (with restoreTest) each service restored into a
 * scratch target and its fingerprint compared; the verdict is stored beside
 * the snapshot as its `restore-test` annotation. An interrupted run stores
 * nothing.
 */
export async function proveSnapshot(
  ctx: CommandContext,
  repo: Repository,
  manifest: Manifest,
  restoreTest: boolean,
  options: Record<string, unknown> = {},
  /** Told the checksums as soon as they are known, before a restore test starts: output in the order of the work. */
  onChecksums?: (checksums: ArtifactCheck[]) => void,
): Promise<SnapshotProof> {
  const checksums = await verifySnapshot(repo, manifest, ctx.signal);
  const checksumsOk = checksums.every((r) => r.ok);
  onChecksums?.(checksums);
  if (!restoreTest) return { checksums, ok: checksumsOk };
  const damaged = new Map<string, string>();
  for (const c of checksums) if (!c.ok && !damaged.has(c.service)) damaged.set(c.service, c.error ?? `artifact ${c.artifact} is damaged`);
  const { accept, ...restoreOptions } = options;
  const services = await runRestoreTest(repo, await ctx.drivers(), {
    snapshot: manifest,
    accept: Array.isArray(accept) ? accept.map(String) : [],
    configured: new Map(ctx.config.services.map((s) => [s.name, s])),
    damaged,
    options: restoreOptions,
    signal: ctx.signal,
    progress: ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose),
    announce: (line) => ctx.out.info(line),
  });
  const annotation = restoreTestAnnotation(services);
  if (!ctx.signal.aborted) await repo.annotate(manifest.id, 'restore-test', annotation);
  return { checksums, restoreTest: { passed: annotation.passed, services }, ok: checksumsOk && annotation.passed };
}

/** The verdict table for people. */
export function printRestoreTest(ctx: CommandContext, manifest: Manifest, services: ServiceRestoreTest[]): void {
  if (services.length === 0) {
    ctx.out.line(`snapshot ${manifest.id}: no service to restore-test (every service failed at backup)`);
    return;
  }
  ctx.out.details(
    table(
      ['SERVICE', 'ENGINE', 'STRATEGY', 'VERDICT', 'TIME', 'DETAIL'],
      services.map((s) => [s.service, s.engine, s.strategy, s.verdict === 'ok' ? 'ok' : s.verdict.toUpperCase(), formatDuration(s.durationMs), s.detail ?? '']),
    ),
  );
  // Where each restore's tools ran, once per service.
  for (const s of services) if (s.place) ctx.out.info(`place: [${s.service}] ${placeLine(s.place)}`);
  for (const s of services) for (const n of s.notes) ctx.out.info(`note: [${s.service}] ${n}`);
  const bad = services.filter((s) => s.verdict !== 'ok');
  ctx.out.line(bad.length === 0 ? `snapshot ${manifest.id}: restore test passed (${services.length} services)` : `snapshot ${manifest.id}: restore test FAILED for ${bad.map((s) => s.service).join(', ')}`);
}

/** One line for `snapshots` and `show`: `passed 2026-11-30 14:02Z`, `FAILED ...` or `-`. */
export function restoreTestSummary(verdict: RestoreTestAnnotation | undefined): string {
  if (!verdict) return '-';
  return `${verdict.passed ? 'passed' : 'FAILED'} ${verdict.at.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z')}`;
}
