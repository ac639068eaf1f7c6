import { mkdir, rm } from 'node:fs/promises';
import type { Fingerprint, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { waitFor } from '../../src/core/wait.js';
import { REPOSITORY_ARTIFACT } from './opensearch-backup.js';
import { connectOpenSearch, type OpenSearchApi } from './opensearch-connection.js';
import { fingerprintIndices } from './opensearch-fingerprint.js';
import { listIndices, nodeFacts, requirePathRepo } from './opensearch-inspector.js';
import { resolveRepoPlace } from './opensearch-repo-volume.js';
import { assertNoSnapshotRunning, registerRepository, RESTORE_REPO, unregisterRepository, type RepoPlace } from './opensearch-repository.js';
import { renamer, restoreOption } from '../../src/core/rename.js';

const HEALTH_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Puts the copied repository into the target node's path.repo (a directory
 * of its own, `holdfast-restore`, registered read-only), restores our
 * snapshot from it and waits for the indices' health. Existing indices of
 * the same name are refused, replaced with --force, or avoided with
 * rename_pattern / rename_replacement (restore option or target URL parameter).
 * The restore option `aliases: false` leaves the snapshot's aliases out.
 */
export async function restoreSnapshot(ctx: RestoreContext): Promise<RestoreResult> {
  const os = connectOpenSearch(ctx.target);
  try {
    return await run(ctx, os);
  } finally {
    await os.close();
  }
}

async function run(ctx: RestoreContext, os: OpenSearchApi): Promise<RestoreResult> {
  const name = ctx.target.name;
  const snapshot = String(ctx.recorded.details.snapshot ?? '');
  const indices = (ctx.recorded.details.indices as string[] | undefined) ?? [];
  if (!snapshot || indices.length === 0) {
    throw new HoldfastError('integrity', 'the manifest does not say which OpenSearch snapshot and indices it holds', { service: name, driver: 'opensearch', hint: 'this snapshot was not made by the opensearch snapshot strategy' });
  }
  const pattern = restoreOption(ctx.options, ctx.target, 'rename_pattern');
  const replacement = restoreOption(ctx.options, ctx.target, 'rename_replacement') ?? '';
  const rename = renamer(pattern, replacement, 'opensearch');
  const targets = indices.map(rename);
  const originalOf = new Map(targets.map((t, i) => [t, indices[i]!]));

  const facts = await nodeFacts(os);
  const place = await resolveRepoPlace(ctx.target, requirePathRepo(facts, name), RESTORE_REPO, false);
  const existing = new Set((await listIndices(os)).map((i) => i.name));
  const clashes = targets.filter((t) => existing.has(t));
  if (clashes.length > 0 && !ctx.force) {
    throw new HoldfastError('target', `${os.location} already has the indices ${clashes.join(', ')}; restoring would replace them`, {
      service: name,
      driver: 'opensearch',
      hint: 'pass --force to delete and replace them, or restore under new names: --rename-pattern "(.+)" --rename-replacement "restored_$1" (or the target URL parameters rename_pattern / rename_replacement)',
    });
  }

  ctx.progress.phase('copy repository in');
  await assertNoSnapshotRunning(os);
  await unregisterRepository(os, RESTORE_REPO);
  try {
    await copyRepositoryIn(ctx, place);
    await registerRepository(os, RESTORE_REPO, place.location, true);
    if (clashes.length > 0) {
      ctx.note(`--force: deleted the existing indices ${clashes.join(', ')} before the restore`);
      await os.call('DELETE', `/${clashes.map(encodeURIComponent).join(',')}`, undefined, { expand_wildcards: 'all' });
    }
    ctx.progress.phase(`restore ${indices.length} indices`);
    await os.call(
      'POST',
      `/_snapshot/${RESTORE_REPO}/${snapshot}/_restore`,
      { indices: indices.join(','), include_global_state: false, ...(ctx.options.aliases === false ? { include_aliases: false } : {}), ...(pattern ? { rename_pattern: pattern, rename_replacement: replacement } : {}) },
      { wait_for_completion: false },
    );
    await waitForHealth(os, targets, ctx.signal);
  } finally {
    await unregisterRepository(os, RESTORE_REPO);
    await removeRepositoryCopy(ctx, place).catch((e: Error) => ctx.note(`could not remove the scratch copy of the repository ${place.location}: ${e.message}`));
  }

  const result: RestoreResult = { location: `${os.location} (${targets.join(', ')})`, details: { snapshot, indices: targets } };
  if (ctx.recorded.fingerprint) {
    ctx.progress.phase('fingerprint');
    result.fingerprint = await fingerprintIndices(os, targets, ctx.recorded.fingerprint.scope, (t) => originalOf.get(t) ?? t);
    if (ctx.options.aliases === false) leaveAliasesOut(result.fingerprint, ctx.recorded.fingerprint);
  }
  return result;
}

/** With `aliases: false` the snapshot's aliases were left out on purpose: they are not compared. */
function leaveAliasesOut(restored: Fingerprint, recorded: Fingerprint): void {
  for (const [key, props] of Object.entries(restored.definitions ?? {})) {
    for (const name of Object.keys(props)) if (name.startsWith('alias.')) delete props[name];
    for (const [name, value] of Object.entries(recorded.definitions?.[key] ?? {})) if (name.startsWith('alias.')) props[name] = value;
  }
}

/**
 * Waits until every primary of the restored indices is active (yellow is
 * enough: a single node never assigns replicas), in short polls. A primary
 * whose recovery from the snapshot failed is reported at once, with the
 * node's reason, instead of waiting out the timeout.
 */
async function waitForHealth(os: OpenSearchApi, indices: string[], signal: AbortSignal): Promise<void> {
  const list = indices.map(encodeURIComponent).join(',');
  const outcome = await waitFor(
    `the restored indices ${indices.join(', ')} to become active`,
    async () => {
      const shards = await os.call<Array<{ index: string; shard: string; prirep: string; state: string; 'unassigned.reason'?: string }>>('GET', `/_cat/shards/${list}`, undefined, {
        format: 'json',
        h: 'index,shard,prirep,state,unassigned.reason',
      });
      const primaries = shards.filter((s) => s.prirep === 'p');
      const failed = primaries.find((s) => s.state === 'UNASSIGNED' && s['unassigned.reason'] === 'ALLOCATION_FAILED');
      if (failed) return { failed: `${failed.index}[${failed.shard}]` };
      const seen = new Set(primaries.map((s) => s.index));
      return indices.every((i) => seen.has(i)) && primaries.every((s) => s.state === 'STARTED') ? { failed: undefined } : undefined;
    },
    { timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: 200, signal },
  );
  if (outcome.failed) {
    const explain = await os.call<{ unassigned_info?: { details?: string } }>('GET', '/_cluster/allocation/explain', { index: outcome.failed.replace(/\[.*$/, ''), shard: Number(/\[(\d+)\]/.exec(outcome.failed)?.[1] ?? 0), primary: true }).catch(() => undefined);
    throw new HoldfastError('tool', `OpenSearch could not restore the shard ${outcome.failed} from the snapshot: ${explain?.unassigned_info?.details?.slice(0, 400) ?? 'allocation failed'}`, {
      service: os.service,
      driver: 'opensearch',
      hint: 'GET _cluster/allocation/explain gives the full reason; delete the red index and restore again once it is fixed',
    });
  }
}

/** Puts the repository files into the target's path.repo: on this host, or into the node's repository volume through a helper. */
async function copyRepositoryIn(ctx: RestoreContext, place: RepoPlace): Promise<void> {
  if (place.inContainer) {
    const { copyRepositoryInByExec } = await import('./opensearch-repo-exec.js');
    return copyRepositoryInByExec(ctx, place.inContainer, place.location, REPOSITORY_ARTIFACT);
  }
  if (place.volume) {
    const { copyDirIn } = await import('../volume/volume-dir-transfer.js');
    await copyDirIn(ctx, { type: place.volume.type, source: place.volume.source, subdir: place.volume.subdir }, REPOSITORY_ARTIFACT);
    return;
  }
  await rm(place.hostPath, { recursive: true, force: true });
  await mkdir(place.hostPath, { recursive: true });
  const exit = await ctx.artifacts.pipeToCommand(REPOSITORY_ARTIFACT, { command: 'tar', args: ['-C', place.hostPath, '-xf', '-'], stdout: 'ignore' });
  if (exit.code !== 0) {
    throw new HoldfastError('tool', `tar could not unpack the repository into ${place.hostPath} (exit ${exit.code}): ${exit.stderr}`.trim(), {
      service: ctx.target.name,
      driver: 'opensearch',
      hint: 'check free space and that holdfast may write under path.repo (or repo_path_host)',
    });
  }
}

async function removeRepositoryCopy(ctx: RestoreContext, place: RepoPlace): Promise<void> {
  if (place.inContainer) return (await import('./opensearch-repo-exec.js')).removeRepositoryByExec(ctx.target.name, place.inContainer, place.location);
  if (!place.volume) return rm(place.hostPath, { recursive: true, force: true });
  const { removeDirIn } = await import('../volume/volume-dir-transfer.js');
  const helper = ctx.target.options.helper_image;
  await removeDirIn({ type: place.volume.type, source: place.volume.source, subdir: place.volume.subdir }, ctx.target.name, typeof helper === 'string' ? helper : undefined);
}
