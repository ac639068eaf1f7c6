/**
 * The freshness of each service's backups, from the repository's manifests
 * and restore-test verdicts: what `holdfast status` prints and `serve`'s
 * metrics export.
 */
import type { Manifest } from '../repository/manifest.js';
import { isBroken, type Repository } from '../repository/repository.js';
import { readRestoreTest, type RestoreTestAnnotation, type RestoreTestVerdict } from './restore-test.js';

export interface ServiceFreshness {
  service: string;
  /** The newest snapshot in which this service's status is ok. */
  lastGood?: { snapshot: string; at: string; ageMs: number; bytes: number; storedBytes: number; durationMs: number };
  /** The newest snapshot that holds the service at all, when its status there is not ok. */
  lastFailed?: { snapshot: string; at: string; error?: string };
  /** The newest restore-test verdict that covers the service. */
  restoreTest?: { snapshot: string; at: string; ageMs: number; verdict: RestoreTestVerdict; detail?: string };
  /** Why this service breaks the bounds: no good snapshot, too old, no or old or failed restore test. */
  problems: string[];
}

export interface FreshnessBounds {
  /** A good snapshot older than this is a problem. */
  maxAgeMs?: number;
  /** When set, a restore test older than this, missing, or not ok is a problem. */
  maxRestoreTestAgeMs?: number;
}

export interface SnapshotWithVerdict {
  manifest: Manifest;
  restoreTest?: RestoreTestAnnotation;
}

/**
 * One row per service: the configured ones when `services` is not empty
 * (a configured service never backed up is a problem), otherwise every
 * service the repository holds. Snapshots must be oldest first.
 */
export function serviceFreshness(snapshots: readonly SnapshotWithVerdict[], services: readonly string[], bounds: FreshnessBounds, now = Date.now()): ServiceFreshness[] {
  const names = services.length ? [...new Set(services)] : [...new Set(snapshots.flatMap((s) => Object.keys(s.manifest.services).filter((n) => !s.manifest.services[n]!.physicalOf)))].sort();
  return names.map((service) => {
    const row: ServiceFreshness = { service, problems: [] };
    for (let i = snapshots.length - 1; i >= 0; i--) {
      const { manifest, restoreTest } = snapshots[i]!;
      const record = manifest.services[service];
      if (!record) continue;
      if (record.status === 'ok' && !row.lastGood) {
        row.lastGood = {
          snapshot: manifest.id,
          at: manifest.createdAt,
          ageMs: now - Date.parse(manifest.createdAt),
          bytes: record.artifacts.reduce((n, a) => n + a.rawBytes, 0),
          storedBytes: record.artifacts.reduce((n, a) => n + a.storedBytes, 0),
          durationMs: record.durationMs,
        };
      }
      if (record.status !== 'ok' && !row.lastGood && !row.lastFailed) {
        row.lastFailed = { snapshot: manifest.id, at: manifest.createdAt, ...(record.error ? { error: record.error.message } : {}) };
      }
      const verdict = restoreTest?.services[service];
      if (verdict && !row.restoreTest) {
        row.restoreTest = { snapshot: manifest.id, at: restoreTest.at, ageMs: now - Date.parse(restoreTest.at), verdict: verdict.verdict, ...(verdict.detail ? { detail: verdict.detail } : {}) };
      }
      if (row.lastGood && row.restoreTest) break;
    }
    if (!row.lastGood) row.problems.push('no good snapshot');
    else if (bounds.maxAgeMs !== undefined && row.lastGood.ageMs > bounds.maxAgeMs) row.problems.push('last good snapshot too old');
    if (bounds.maxRestoreTestAgeMs !== undefined) {
      if (!row.restoreTest) row.problems.push('no restore test');
      else if (row.restoreTest.verdict !== 'ok') row.problems.push(`last restore test ${row.restoreTest.verdict}`);
      else if (row.restoreTest.ageMs > bounds.maxRestoreTestAgeMs) row.problems.push('last restore test too old');
    }
    return row;
  });
}

/** Every readable snapshot with its restore-test verdict, oldest first. */
export async function snapshotsWithVerdicts(repo: Repository): Promise<SnapshotWithVerdict[]> {
  const out: SnapshotWithVerdict[] = [];
  for (const e of await repo.list()) {
    if (isBroken(e)) continue;
    const restoreTest = readRestoreTest(await repo.annotations(e.id));
    out.push({ manifest: e, ...(restoreTest ? { restoreTest } : {}) });
  }
  return out;
}
