import type { Readable } from 'node:stream';
import type { ArtifactSink, ArtifactSource, ByteProgress } from '../core/driver.js';
import type { LockWait } from './lock.js';
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
  /** Whether artifacts, manifests and annotations are encrypted (known once opened or created). */
  readonly encrypted?: boolean;
  /** Creates a new repository (encrypted or not, see InitOptions); fails if one exists there. */
  init(options?: InitOptions): Promise<void>;
  /** Opens an existing repository, or creates a plain one when `create` is set and none exists. */
  open(options: { create: boolean }): Promise<void>;
  /**
   * Takes the lock and starts a snapshot. `id` keeps a given id (import of a
   * bundle); it fails with 'repository' when a snapshot with that id exists.
   */
  beginSnapshot(command: string, options?: { id?: string }): Promise<SnapshotWriter>;
  /**
   * Takes the same writer lock as beginSnapshot, for work that changes
   * committed snapshots (forget): no backup commits meanwhile, and none starts.
   * `waitMs` retries while another process holds it, then fails naming it.
   */
  lock(command: string, options?: LockWait): Promise<HeldLock>;
  /** Committed snapshots, oldest first. Unreadable manifests are returned as errors, not skipped. */
  list(): Promise<Array<Manifest | BrokenSnapshot>>;
  load(id: string): Promise<Manifest>;
  /** An id, a unique id prefix, `latest`, or a tag (the newest snapshot with it). */
  resolve(ref: string): Promise<string>;
  /** `progress` hears the raw bytes read out of the artifacts (decompressed). */
  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal, progress?: ByteProgress): ArtifactSource;
  /**
   * The size of an artifact's stored (compressed, unencrypted) bytes as the
   * backend holds it, without reading the data; null when it is missing.
   * `check` without --read-data compares it with the manifest.
   */
  storedSize(id: string, service: string, record: ArtifactRecord): Promise<number | null>;
  /**
   * The backend's own integrity check, for a backend that has one (restic:
   * `restic check`, with readData `restic check --read-data`): the problems
   * it found, none when all is well. `check` runs it beside its own.
   */
  checkStorage?(options: { readData: boolean; signal?: AbortSignal }): Promise<string[]>;
  /**
   * Warnings about who else can read the repository (a local directory whose
   * files other users may read), for `check`; none when it is private or the
   * backend has no such notion (S3, restic keep their own access rules).
   */
  privacyWarnings?(): Promise<string[]>;
  /** Recomputes an artifact's checksum (and authenticates it, when encrypted); throws an 'integrity' error naming it. */
  verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void>;
  /**
   * The stored (compressed, never encrypted: decrypted when the repository
   * is) bytes of an artifact, as the manifest's sha256 and storedBytes describe them: for export. The stream
   * errors at its end when they do not match.
   */
  openStored(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable;
  /** Removes a committed snapshot (and its annotations); never leaves a half-removed one listed. */
  remove(id: string): Promise<void>;
  /**
   * Small JSON records kept beside a committed snapshot, which stays
   * immutable: e.g. `restore-test` (the verdict of `verify --restore-test`).
   * Writing a kind again replaces it.
   */
  annotate(id: string, kind: string, value: unknown): Promise<void>;
  annotations(id: string): Promise<Record<string, unknown>>;
}

export interface InitOptions {
  /**
   * Encrypt with the secrets the repository was constructed with. Absent:
   * encrypt when a passphrase or key file is given, since that is what the
   * user expects.
   */
  encrypt?: boolean;
}

export interface HeldLock {
  /** Notes for the user (a stale lock taken over). */
  readonly notes: string[];
  release(): Promise<void>;
}

export interface BrokenSnapshot {
  id: string;
  broken: string;
}

export interface SnapshotWriter {
  readonly id: string;
  /** Notes for the user (a stale lock taken over, leftovers removed). */
  readonly notes: string[];
  /** `progress` hears the raw bytes taken in and the stored bytes written. */
  sink(service: string, progress?: ByteProgress, signal?: AbortSignal): ArtifactSink;
  /** Drops what a failed service wrote, so that no half artifact is committed. */
  discardService(service: string): Promise<void>;
  /**
   * Stores already-compressed bytes as an artifact (import of a bundle): the
   * bytes must match record.sha256 and record.storedBytes, or nothing is kept.
   * An encrypted repository encrypts them.
   */
  putStored(service: string, record: ArtifactRecord, source: Readable, signal?: AbortSignal): Promise<void>;
  /** Writes the manifest and makes the snapshot visible atomically. */
  commit(manifest: Manifest): Promise<void>;
  /** Removes everything written; nothing becomes visible. */
  abort(): Promise<void>;
}

export function isBroken(entry: Manifest | BrokenSnapshot): entry is BrokenSnapshot {
  return 'broken' in entry;
}
