import { randomBytes } from 'node:crypto';
import type { BackupContext, BackupResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { connectOpenSearch, type OpenSearchApi } from './opensearch-connection.js';
import { fingerprintIndices } from './opensearch-fingerprint.js';
import { nodeFacts, requirePathRepo, selectIndices } from './opensearch-inspector.js';
import { resolveRepoPlace } from './opensearch-repo-volume.js';
import { crossOut, journalServerSnapshot } from './opensearch-leftovers.js';
import { assertHostDirectory, assertNoSnapshotRunning, BACKUP_REPO, registerRepository, unregisterRepository, waitForSnapshot, type RepoPlace } from './opensearch-repository.js';

export const REPOSITORY_ARTIFACT = 'repository.tar';
const SNAPSHOT_TIMEOUT_MS = 6 * 60 * 60 * 1000;

/**
 * Strategy `snapshot`: an engine snapshot into holdfast's own fs repository,
 * then the whole repository directory copied out as one tar (its blobs are
 * shared between snapshots, so only the whole is self-contained). Our
 * snapshot is removed from the node afterwards and the repository
 * unregistered, so the next copy carries no stale data and the node keeps
 * nothing of ours but an empty directory; `keep_server_snapshot: true`
 * keeps both.
 */
export async function backupWithSnapshot(ctx: BackupContext, leftoverAt?: string): Promise<BackupResult> {
  const os = connectOpenSearch(ctx.service);
  try {
    return await run(ctx, os, leftoverAt);
  } finally {
    await os.close();
  }
}

/** `leftoverAt`: the service's leftover endpoint; given, the engine snapshot is journalled until it is deleted (opensearch-leftovers.ts). */
async function run(ctx: BackupContext, os: OpenSearchApi, leftoverAt: string | undefined): Promise<BackupResult> {
  const name = ctx.service.name;
  const facts = await nodeFacts(os);
  const place = await resolveRepoPlace(ctx.service, requirePathRepo(facts, name), BACKUP_REPO);
  const indices = await selectIndices(os, ctx.service);
  if (indices.length === 0) {
    throw new HoldfastError('not-found', `there is no index to back up on ${os.location} (names starting with "." are system indices and left out)`, {
      service: name,
      driver: 'opensearch',
      hint: 'create an index first, or name system indices in the service option `indices`',
    });
  }
  // A primary still initializing (an index created a moment ago) would make the snapshot PARTIAL.
  await os.call('GET', `/_cluster/health/${indices.map(encodeURIComponent).join(',')}`, undefined, { wait_for_status: 'yellow', timeout: '20s' });
  await assertNoSnapshotRunning(os);
  await registerRepository(os, BACKUP_REPO, place.location, false);
  if (!place.volume && !place.inContainer) await assertHostDirectory(name, place);

  const snapshot = `holdfast-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
  ctx.progress.phase(`snapshot ${indices.length} indices`);
  const keep = ctx.service.options.keep_server_snapshot === true;
  const journalled = leftoverAt && !keep ? await journalServerSnapshot(name, leftoverAt, snapshot, place.location) : undefined;
  await os.call('PUT', `/_snapshot/${BACKUP_REPO}/${snapshot}`, { indices: indices.join(','), include_global_state: false, ignore_unavailable: false }, { wait_for_completion: false });
  try {
    await waitForSnapshot(os, BACKUP_REPO, snapshot, ctx.signal, SNAPSHOT_TIMEOUT_MS);
    const fingerprint = ctx.fingerprintScope === 'none' ? undefined : (ctx.progress.phase('fingerprint'), await fingerprintIndices(os, indices, ctx.fingerprintScope));

    ctx.progress.phase('copy repository');
    await assertNoSnapshotRunning(os);
    // Unregistered, the repository cannot be written while tar reads it; registered again below.
    await unregisterRepository(os, BACKUP_REPO);
    const copied = await copyRepository(ctx, place, snapshot);
    const result: BackupResult = {
      details: { version: facts.version, distribution: facts.distribution, snapshot, repository: BACKUP_REPO, indices, ...copied },
    };
    if (fingerprint) result.fingerprint = fingerprint;
    return result;
  } finally {
    if (!keep) {
      // Not deleted: the entry stays, and the next command that touches the service deletes it.
      await registerRepository(os, BACKUP_REPO, place.location, false)
        .then(() => os.call('DELETE', `/_snapshot/${BACKUP_REPO}/${snapshot}`))
        .then(() => journalled && crossOut(journalled))
        .catch((e) => ctx.note(`could not delete the server-side snapshot ${snapshot}: ${(e as Error).message}`));
      await unregisterRepository(os, BACKUP_REPO);
    }
  }
}

/**
 * The repository directory into the artifact: tar on this host when holdfast
 * sees the directory, else (a containerized node) from a helper container
 * that mounts the node's repository volume read-only.
 */
async function copyRepository(ctx: BackupContext, place: RepoPlace, snapshot: string): Promise<Record<string, unknown>> {
  const name = ctx.service.name;
  const meta = { kind: 'opensearch-fs-repository', label: snapshot };
  if (place.inContainer) {
    const { copyRepositoryOutByExec } = await import('./opensearch-repo-exec.js');
    await copyRepositoryOutByExec(ctx, place.inContainer, place.location, REPOSITORY_ARTIFACT, meta);
    return { copiedFrom: { container: place.inContainer, path: place.location, transport: 'exec' } };
  }
  if (place.volume) {
    const { copyDirOut } = await import('../volume/volume-dir-transfer.js');
    const v = place.volume;
    const copy = await copyDirOut(ctx, { type: v.type, source: v.source, subdir: v.subdir }, REPOSITORY_ARTIFACT, meta);
    return { copiedFrom: { container: v.container, type: v.type, source: v.source, subdir: v.subdir, transport: copy.transport }, tar: copy.tar };
  }
  const { exit } = await ctx.artifacts.writeCommand(REPOSITORY_ARTIFACT, { command: 'tar', args: ['-C', place.hostPath, '-cf', '-', '.'] }, meta);
  if (exit.code !== 0) {
    throw new HoldfastError('tool', `tar of the snapshot repository ${place.hostPath} failed (exit ${exit.code}): ${exit.stderr}`.trim(), {
      service: name,
      driver: 'opensearch',
      hint: 'check that holdfast may read every file under the repository directory',
    });
  }
  return { copiedFrom: { path: place.hostPath } };
}
