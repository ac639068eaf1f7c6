import { isAbsolute, join, relative } from 'node:path';
import { stat } from 'node:fs/promises';
import { HoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { waitFor } from '../../src/core/wait.js';
import { osOption, type OpenSearchApi } from './opensearch-connection.js';
import { PATH_REPO_HINT } from './opensearch-inspector.js';
import type { RepoVolume } from './opensearch-repo-volume.js';

/** Holdfast's own repository names: nothing else should write there. */
export const BACKUP_REPO = 'holdfast';
export const RESTORE_REPO = 'holdfast-restore';

export interface RepoPlace {
  /** The location as the node sees it (inside path.repo). */
  location: string;
  /** The same directory as holdfast sees it on this host. */
  hostPath: string;
  /** Set for a containerized node: the volume that holds it, reached through a helper container instead of hostPath. */
  volume?: RepoVolume;
  /** Set for a node in a container whose path.repo is on the container's own filesystem: copied by docker exec in it. */
  inContainer?: string;
}

/**
 * Where a holdfast repository lives: `<path.repo>/<dir>` on the node, unless
 * the service option `repo_location` names another node path. The host path
 * is the same unless `repo_path_host` says where path.repo is mounted here
 * (a containerized node's snapshot volume).
 */
export function repoPlace(service: Service, pathRepo: string, dir: string, allowLocationOption = true): RepoPlace {
  const location = (allowLocationOption ? osOption(service, 'repo_location') : undefined) ?? join(pathRepo, dir);
  const hostRoot = osOption(service, 'repo_path_host');
  if (!hostRoot) return { location, hostPath: location };
  const rel = relative(pathRepo, location);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new HoldfastError('config', `repo_location ${location} is outside path.repo ${pathRepo}, so repo_path_host cannot map it to this host`, { service: service.name, driver: 'opensearch', hint: PATH_REPO_HINT });
  }
  return { location, hostPath: join(hostRoot, rel) };
}

/** Registers an fs repository; the node refuses a location outside path.repo, which we explain. */
export async function registerRepository(os: OpenSearchApi, name: string, location: string, readonly: boolean): Promise<void> {
  try {
    await os.call('PUT', `/_snapshot/${name}`, { type: 'fs', settings: { location, readonly, compress: false } }, { verify: !readonly });
  } catch (error) {
    const reason = String((error as { reason?: string }).reason ?? (error as Error).message);
    if (/path\.repo|doesn't match any of the locations/i.test(reason)) {
      throw new HoldfastError('config', `OpenSearch refused the snapshot repository at ${location}: it is not under the node's path.repo`, {
        service: os.service,
        driver: 'opensearch',
        hint: `drop repo_location to use <path.repo>/holdfast, or ${PATH_REPO_HINT}`,
        cause: error,
      });
    }
    throw error;
  }
}

export async function unregisterRepository(os: OpenSearchApi, name: string): Promise<void> {
  await os.call('DELETE', `/_snapshot/${name}`).catch(() => undefined);
}

/** The repository is copied as a whole, so nothing else may be snapshotting or deleting meanwhile. */
export async function assertNoSnapshotRunning(os: OpenSearchApi): Promise<void> {
  const running = await os.call<{ snapshots?: Array<{ snapshot: string; repository: string }> }>('GET', '/_snapshot/_status');
  const busy = running.snapshots ?? [];
  if (busy.length > 0) {
    throw new HoldfastError('target', `another snapshot is running (${busy.map((s) => `${s.repository}/${s.snapshot}`).join(', ')}); copying a repository while it is written gives a broken copy`, {
      service: os.service,
      driver: 'opensearch',
      hint: 'run the backup again once it has finished (GET _snapshot/_status lists running snapshots)',
    });
  }
}

/**
 * Polls instead of holding one request open (the client times out at 30 s).
 * Done means: gone from the running list (`_snapshot/_status`), which is
 * after finalization wrote the repository's index files; the per-snapshot
 * `_status` can say SUCCESS before that, and a copy taken then is incomplete.
 * The outcome is then read from the repository.
 */
export async function waitForSnapshot(os: OpenSearchApi, repo: string, snapshot: string, signal: AbortSignal, timeoutMs: number): Promise<void> {
  const state = await waitFor(
    `snapshot ${snapshot}`,
    async () => {
      const running = await os.call<{ snapshots?: Array<{ snapshot: string; repository: string }> }>('GET', '/_snapshot/_status');
      if ((running.snapshots ?? []).some((s) => s.snapshot === snapshot && s.repository === repo)) return undefined;
      const res = await os.call<{ snapshots: Array<{ state: string }> }>('GET', `/_snapshot/${repo}/${snapshot}`);
      const s = res.snapshots[0]?.state;
      return s === 'IN_PROGRESS' || s === undefined ? undefined : s;
    },
    { timeoutMs, intervalMs: 100, signal },
  );
  if (state !== 'SUCCESS') {
    const info = await os.call<{ snapshots?: Array<{ failures?: Array<{ index: string; shard_id: number; reason: string }> }> }>('GET', `/_snapshot/${repo}/${snapshot}`).catch(() => undefined);
    const why = (info?.snapshots?.[0]?.failures ?? []).slice(0, 3).map((f) => `${f.index}[${f.shard_id}]: ${f.reason}`).join('; ');
    throw new HoldfastError('tool', `the OpenSearch snapshot ${snapshot} ended ${state}${why ? `: ${why}` : ''}`, {
      service: os.service,
      driver: 'opensearch',
      hint: `GET _snapshot/${repo}/${snapshot} shows which shards failed; check the node's log and disk space under path.repo`,
    });
  }
}

/** holdfast reads and writes the repository files: say so clearly when it cannot see them. */
export async function assertHostDirectory(service: string, place: RepoPlace): Promise<void> {
  const info = await stat(place.hostPath).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new HoldfastError('config', `the snapshot repository ${place.location} is not visible to holdfast at ${place.hostPath}`, {
      service,
      driver: 'opensearch',
      hint: 'run holdfast on the node\'s host, or set the service option repo_path_host to where path.repo is mounted on this machine (e.g. the snapshot volume\'s mountpoint)',
    });
  }
}
