import type { Readable } from 'node:stream';
import type { ArtifactSource, ByteProgress } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import type { ArtifactRecord, Manifest } from './manifest.js';
import type { LockWait } from './lock.js';
import type { BrokenSnapshot, HeldLock, InitOptions, Repository, SnapshotWriter } from './repository.js';

/**
 * A repository whose backend module loads on first use (init or open), so
 * that choosing `--repo` stays synchronous and a dir user never loads the
 * restic code. The synchronous verbs need open() first, as for every backend.
 */
export class LazyRepository implements Repository {
  private inner?: Repository;

  constructor(
    readonly location: string,
    private readonly loader: () => Promise<Repository>,
  ) {}

  get encrypted(): boolean | undefined {
    return this.inner?.encrypted;
  }
  async init(options?: InitOptions): Promise<void> {
    return (await this.ready()).init(options);
  }
  async lock(command: string, options?: LockWait): Promise<HeldLock> {
    return (await this.ready()).lock(command, options);
  }
  async open(options: { create: boolean }): Promise<void> {
    return (await this.ready()).open(options);
  }
  async beginSnapshot(command: string, options?: { id?: string }): Promise<SnapshotWriter> {
    return (await this.ready()).beginSnapshot(command, options);
  }
  async list(): Promise<Array<Manifest | BrokenSnapshot>> {
    return (await this.ready()).list();
  }
  async load(id: string): Promise<Manifest> {
    return (await this.ready()).load(id);
  }
  async resolve(ref: string): Promise<string> {
    return (await this.ready()).resolve(ref);
  }
  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal, progress?: ByteProgress): ArtifactSource {
    return this.loaded().artifacts(id, service, records, signal, progress);
  }
  async storedSize(id: string, service: string, record: ArtifactRecord): Promise<number | null> {
    return (await this.ready()).storedSize(id, service, record);
  }
  async checkStorage(options: { readData: boolean; signal?: AbortSignal }): Promise<string[]> {
    return (await (await this.ready()).checkStorage?.(options)) ?? [];
  }
  async privacyWarnings(): Promise<string[]> {
    return (await (await this.ready()).privacyWarnings?.()) ?? [];
  }
  async verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void> {
    return (await this.ready()).verifyArtifact(id, service, record, signal, onStoredBytes);
  }
  openStored(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable {
    return this.loaded().openStored(id, service, record, signal);
  }
  async remove(id: string): Promise<void> {
    return (await this.ready()).remove(id);
  }
  async annotate(id: string, kind: string, value: unknown): Promise<void> {
    return (await this.ready()).annotate(id, kind, value);
  }
  async annotations(id: string): Promise<Record<string, unknown>> {
    return (await this.ready()).annotations(id);
  }

  private async ready(): Promise<Repository> {
    this.inner ??= await this.loader();
    return this.inner;
  }

  private loaded(): Repository {
    if (!this.inner) throw new HoldfastError('internal', 'repository used before open()');
    return this.inner;
  }
}
