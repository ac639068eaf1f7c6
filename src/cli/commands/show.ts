import { placeLine, recordedPlace } from '../../core/place-record.js';
import { formatBytes, formatDuration } from '../../core/progress.js';
import { readRestoreTest } from '../../core/restore-test.js';
import type { HoldfastCommand } from '../command.js';
import { fingerprintSummary } from '../fingerprint-words.js';
import { restoreTestSummary } from '../restore-test-report.js';
import { showUsage } from './show-usage.js';

/** The size of the files a volume backup recorded (details.volumes[].bytes), if it did. */
function recordedBytes(details: Record<string, unknown>): number | undefined {
  const volumes = details.volumes;
  if (!Array.isArray(volumes) || !volumes.every((v) => typeof (v as { bytes?: unknown }).bytes === 'number')) return undefined;
  return volumes.reduce((n: number, v: { bytes: number }) => n + v.bytes, 0);
}

export const showCommand: HoldfastCommand = {
  ...showUsage,
  async run(ctx, args) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const manifest = await repo.load(await repo.resolve(String(args.snapshot)));
    const restoreTest = readRestoreTest(await repo.annotations(manifest.id));
    if (ctx.out.json) {
      // The manifest as stored, and beside it the verdict of the last restore test (null: never tested).
      // details.place in the one shape { kind, where, reason }, whatever form an older holdfast wrote (place-record.ts).
      const services = Object.fromEntries(Object.entries(manifest.services).map(([name, s]) => {
        const place = recordedPlace(s.details);
        return [name, place ? { ...s, details: { ...s.details, place } } : s];
      }));
      ctx.out.document({ ...manifest, services, restoreTest: restoreTest ?? null });
      return 0;
    }
    ctx.out.line(`snapshot ${manifest.id}  ${manifest.status}  ${manifest.createdAt}  host ${manifest.hostname}${manifest.tags.length ? `  tags ${manifest.tags.join(',')}` : ''}`);
    ctx.out.line(`restore test: ${restoreTest ? restoreTestSummary(restoreTest) : 'never run (holdfast verify SNAPSHOT --restore-test)'}`);
    for (const [name, s] of Object.entries(manifest.services)) {
      ctx.out.line();
      ctx.out.line(`${name}: ${s.engine} via ${s.strategy}${s.status === 'failed' ? '' : ` (${s.consistency})`}, ${s.status}, ${formatDuration(s.durationMs)}${s.endpoint ? `, ${s.endpoint}` : ''}`);
      ctx.out.line(`  why: ${s.reason}`);
      // Where the work ran (details.place; older snapshots: a phrase, `why`, or toolsRanIn).
      const place = recordedPlace(s.details);
      if (place) ctx.out.line(`  place: ${placeLine(place)}`);
      if (s.error) ctx.out.line(`  error: ${s.error.message}${s.error.hint ? ` (hint: ${s.error.hint})` : ''}`);
      for (const a of s.artifacts) {
        ctx.out.line(`  ${a.name}${a.label ? ` [${a.label}]` : ''}  ${formatBytes(a.rawBytes)} -> ${formatBytes(a.storedBytes)}  sha256 ${a.sha256.slice(0, 16)}…`);
      }
      if (s.fingerprint) ctx.out.line(`  fingerprint (${s.fingerprint.scope}): ${fingerprintSummary(s.engine, s.fingerprint, recordedBytes(s.details))}`);
      for (const n of s.notes) ctx.out.line(`  note: ${n}`);
      const tested = restoreTest?.services[name];
      if (tested) ctx.out.line(`  restore test: ${tested.verdict}${tested.detail ? `: ${tested.detail}` : ''}`);
    }
    return 0;
  },
};
