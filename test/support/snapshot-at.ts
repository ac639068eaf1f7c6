import { DirRepository } from '../../src/repository/dir-repository.js';
import { newSnapshotId } from '../../src/repository/snapshot-id.js';

/**
 * Retention is about time, and a test cannot wait for days: this commits a
 * copy of a real snapshot (its very artifacts, checked on the way) as if it
 * had been taken at `at`, through the repository's own import path. The
 * copy restores exactly like the original.
 */
export async function copySnapshotAt(repoPath: string, sourceId: string, at: string, tags: string[] = []): Promise<string> {
  const repo = new DirRepository(repoPath);
  await repo.open({ create: false });
  const source = await repo.load(sourceId);
  const writer = await repo.beginSnapshot('test copy', { id: newSnapshotId(new Date(at)) });
  try {
    for (const [service, record] of Object.entries(source.services)) {
      for (const artifact of record.artifacts) await writer.putStored(service, artifact, repo.openStored(sourceId, service, artifact));
    }
    await writer.commit({ ...source, id: writer.id, createdAt: at, finishedAt: at, tags });
    return writer.id;
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Records the verdict of a restore test the test ran itself, in the annotation `verify --restore-test` writes. */
export async function recordRestoreTest(repoPath: string, id: string, passed: boolean, detail?: string): Promise<void> {
  const repo = new DirRepository(repoPath);
  await repo.open({ create: false });
  const manifest = await repo.load(id);
  const verdict = { verdict: passed ? 'ok' : 'mismatch', ...(detail ? { detail } : {}) };
  const services = Object.fromEntries(Object.keys(manifest.services).map((name) => [name, verdict]));
  await repo.annotate(id, 'restore-test', { at: new Date().toISOString(), passed, services });
}
