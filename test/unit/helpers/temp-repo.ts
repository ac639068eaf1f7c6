import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgressReporter } from '../../../src/core/progress.js';
import type { Manifest, ServiceRecord } from '../../../src/repository/manifest.js';
import { DirRepository } from '../../../src/repository/dir-repository.js';

/** Temp directories made by a test file, removed by cleanupTemp(). */
const made: string[] = [];

export async function tempDir(prefix = 'holdfast-unit-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function cleanupTemp(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A fresh, initialised repository in a temp directory. */
export async function tempRepo(): Promise<{ repo: DirRepository; root: string }> {
  const root = join(await tempDir(), 'repo');
  const repo = new DirRepository(root);
  await repo.init();
  return { repo, root };
}

export async function listDir(path: string): Promise<string[]> {
  return (await readdir(path).catch(() => [] as string[])).sort();
}

export function silentProgress(): ProgressReporter {
  return new ProgressReporter(undefined);
}

export function serviceRecord(extra: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    engine: 'fake',
    driver: 'fake',
    strategy: 'dump',
    consistency: 'transactional',
    reason: 'test',
    status: 'ok',
    options: {},
    startedAt: new Date().toISOString(),
    durationMs: 1,
    artifacts: [],
    details: {},
    notes: [],
    ...extra,
  };
}

export function manifest(id: string, extra: Partial<Manifest> = {}): Manifest {
  const now = new Date().toISOString();
  return {
    format: 1,
    id,
    createdAt: now,
    finishedAt: now,
    hostname: 'test',
    holdfastVersion: '0.0.0',
    tags: [],
    status: 'ok',
    services: { db: serviceRecord() },
    ...extra,
  };
}
