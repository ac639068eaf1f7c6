import type { Readable } from 'node:stream';
import type { ArtifactSink, ByteProgress } from '../../core/driver.js';
import { meters } from '../byte-meter.js';
import { HoldfastError, toHoldfastError } from '../../core/errors.js';
import { checksumGuard } from '../artifact-reader.js';
import type { WrittenArtifact } from '../artifact-writer.js';
import { compressCommand, compressStream, type CompressedStream } from '../compressed-stream.js';
import type { CompressionSettings } from '../compression.js';
import { artifactRecord, type ArtifactRecord, type Manifest } from '../manifest.js';
import type { SnapshotWriter } from '../repository.js';
import { artifactKey, manifestKey, servicePrefix, snapshotPrefix, stagingKey } from './s3-keys.js';
import type { S3Lock } from './s3-lock.js';
import type { S3Store } from './s3-store.js';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Writes one snapshot's objects in place under snapshots/<id>/: tool →
 * zstd → hash in Node → multipart upload, nothing staged on local disk. The
 * manifest object is written last; until then the snapshot is not listed,
 * and its staging marker tells the next writer to clean up after a crash.
 */
export class S3SnapshotWriter implements SnapshotWriter {
  private finished = false;

  constructor(
    readonly id: string,
    private readonly store: S3Store,
    private readonly compression: CompressionSettings,
    private readonly lock: S3Lock,
    readonly notes: string[],
  ) {}

  sink(service: string, progress?: ByteProgress, signal?: AbortSignal): ArtifactSink {
    const key = (name: string) => {
      if (!SAFE_NAME.test(name) || name.length > 200) {
        throw new HoldfastError('internal', `driver chose an unsafe artifact name ${JSON.stringify(name)}`, { service });
      }
      return artifactKey(this.id, service, name);
    };
    return {
      write: async (name, source, meta) => {
        const target = key(name);
        const written = await this.send(target, compressStream(source, this.compression, { signal, ...meters(progress) }), service, signal);
        return artifactRecord(name, meta, written);
      },
      writeCommand: async (name, command, meta) => {
        const target = key(name);
        const compressed = compressCommand(command, this.compression, { signal, ...meters(progress) });
        const written = await this.send(target, compressed, service, signal);
        return { record: artifactRecord(name, meta, written), exit: await compressed.exit };
      },
      discard: async (name) => {
        await this.store.delete(key(name));
      },
    };
  }

  /** Uploads a compressed stream; on any failure stops the compressor and leaves no object behind. */
  private async send(key: string, compressed: CompressedStream, service: string, signal?: AbortSignal): Promise<WrittenArtifact> {
    const uploading = this.store.upload(key, compressed.stored, signal);
    try {
      const [, written] = await Promise.all([uploading, compressed.done]);
      return written;
    } catch (error) {
      compressed.kill();
      compressed.stored.destroy();
      const [upload] = await Promise.allSettled([uploading, compressed.done]);
      await this.store.delete(key).catch(() => undefined);
      // When the server went away, the upload's error is the cause; the compressor's ("aborted") only follows from it.
      const server = upload.status === 'rejected' ? toHoldfastError(upload.reason) : undefined;
      const fromServer = server && (server.code === 'connect' || server.code === 'auth' || (server.cause as { $metadata?: unknown } | undefined)?.$metadata !== undefined);
      throw toHoldfastError(fromServer ? server : error, { service });
    }
  }

  async putStored(service: string, record: ArtifactRecord, source: Readable, signal?: AbortSignal): Promise<void> {
    if (!SAFE_NAME.test(record.name) || record.name.length > 200) {
      throw new HoldfastError('integrity', `unsafe artifact name ${JSON.stringify(record.name)}`, { service, hint: 'the bundle is damaged or was tampered with' });
    }
    const key = artifactKey(this.id, service, record.name);
    const guarded = source.pipe(checksumGuard(record, `${this.id}/${service}/${record.name}`));
    source.on('error', (error) => guarded.destroy(error));
    try {
      await this.store.upload(key, guarded, signal);
    } catch (error) {
      source.destroy();
      await this.store.delete(key).catch(() => undefined);
      throw toHoldfastError(error, { service });
    }
  }

  /** Best effort: when the server cannot be reached, the next writer removes what is left (the staging marker says so). */
  async discardService(service: string): Promise<void> {
    const prefix = servicePrefix(this.id, service);
    try {
      for (const upload of await this.store.listUploads(prefix)) await this.store.abortUpload(upload.key, upload.uploadId);
      await this.store.deletePrefix(prefix);
    } catch (error) {
      this.notes.push(`could not remove what ${service} wrote (${toHoldfastError(error).message}); the next backup removes it`);
    }
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.finished) throw new HoldfastError('internal', 'snapshot committed twice');
    try {
      const written = await this.store.putText(manifestKey(this.id), JSON.stringify(manifest, null, 2) + '\n', { ifNoneMatch: true });
      if (written === 'exists') throw new HoldfastError('repository', `snapshot ${this.id} was committed by another writer`, { hint: 'check `holdfast snapshots`' });
      if (written === 'unsupported') await this.store.putText(manifestKey(this.id), JSON.stringify(manifest, null, 2) + '\n');
      this.finished = true;
      // Committed: the marker only said "unfinished". Should this delete fail, the next writer sees the manifest and keeps the snapshot.
      await this.store.delete(stagingKey(this.id)).catch(() => undefined);
    } catch (error) {
      if (!this.finished) await this.abort().catch(() => undefined);
      throw toHoldfastError(error);
    } finally {
      await this.lock.release().catch(() => undefined);
    }
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    try {
      for (const upload of await this.store.listUploads(snapshotPrefix(this.id))) await this.store.abortUpload(upload.key, upload.uploadId);
      await this.store.deletePrefix(snapshotPrefix(this.id));
      await this.store.delete(stagingKey(this.id));
    } catch (error) {
      // Nothing was committed, so nothing is listed; the staging marker makes the next writer finish this.
      this.notes.push(`could not remove the unfinished snapshot ${this.id} (${toHoldfastError(error).message}); the next backup removes it`);
    } finally {
      await this.lock.release().catch(() => undefined);
    }
  }
}
