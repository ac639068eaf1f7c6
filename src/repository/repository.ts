import type { ArtifactSink, ArtifactSource } from '../core/driver.js';
import type { ArtifactRecord, Manifest } from './manifest.js';

/**
 * The snapshot store. A handful of verbs; every backend (a local directory
 * now, S3 or restic later) keeps the same rules:
 * - a snapshot is visible only once committed whole (manifest written last);
 * - one writer at a time (beginSnapshot takes the lock, commit/abort release it);
 * - load() of a snapshot that does not exist throws a 'not-found' error.
 */
export interface Repository {
  readonly location: string;
  /** Creates a new repository; fails if one exists there. */
  init(): Promise<void>;
  /** Opens an existing repository, or creates a plain one when `create` is set and none exists. */
  open(options: { create: boolean }): Promise<void>;
  beginSnapshot(command: string): Promise<SnapshotWriter>;
  /** Committed snapshots, oldest first. Unreadable manifests are returned as errors, not skipped. */
  list(): Promise<Array<Manifest | BrokenSnapshot>>;
  load(id: string): Promise<Manifest>;
  /** An id, a unique id prefix, `latest`, or a tag (the newest snapshot with it). */
  resolve(ref: string): Promise<string>;
  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal): ArtifactSource;
  /** Recomputes an artifact's checksum; throws an 'integrity' error naming it. */
  verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Promise<void>;
  /** Leftover staging directories of writers that died, removed by the next writer. */
  remove(id: string): Promise<void>;
}

export interface BrokenSnapshot {
  id: string;
  broken: string;
}

export interface SnapshotWriter {
  readonly id: string;
  /** Notes for the user (a stale lock taken over, leftovers removed). */
  readonly notes: string[];
  sink(service: string, onRawBytes?: (n: number) => void, signal?: AbortSignal): ArtifactSink;
  /** Drops what a failed service wrote, so that no half artifact is committed. */
  discardService(service: string): Promise<void>;
  /** Writes the manifest and makes the snapshot visible atomically. */
  commit(manifest: Manifest): Promise<void>;
  /** Removes everything written; nothing becomes visible. */
  abort(): Promise<void>;
}

export function isBroken(entry: Manifest | BrokenSnapshot): entry is BrokenSnapshot {
  return 'broken' in entry;
}
