import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactSink, ByteProgress } from '../core/driver.js';
import { meters } from './byte-meter.js';
import { HoldfastError } from '../core/errors.js';
import { checksumGuard } from './artifact-reader.js';
import { writeArtifactFile } from './artifact-writer.js';
import { writeCommandArtifactFile, writeSealedCommandArtifactFile } from './command-artifact.js';
import type { CompressionSettings } from './compression.js';
import { fsyncDir, isSafeArtifactName, mkdirPrivate, PRIVATE_FILE, wrap } from './dir-fs.js';
import { artifactWhere, manifestContext, type DirLayout } from './dir-layout.js';
import { artifactRecord, type ArtifactRecord, type Manifest } from './manifest.js';
import type { HeldLock, SnapshotWriter } from './repository.js';

/** A snapshot being written into tmp/<id>/, renamed into snapshots/ on commit. */
export class DirSnapshotWriter implements SnapshotWriter {
  private finished = false;

  constructor(
    readonly id: string,
    private readonly staging: string,
    private readonly snapshots: string,
    private readonly compression: CompressionSettings,
    private readonly layout: DirLayout,
    private readonly lock: HeldLock,
    readonly notes: string[],
  ) {}

  sink(service: string, progress?: ByteProgress, signal?: AbortSignal): ArtifactSink {
    const dir = join(this.staging, this.layout.serviceDir(service));
    const prepare = async (name: string) => {
      if (!isSafeArtifactName(name)) {
        throw new HoldfastError('internal', `driver chose an unsafe artifact name ${JSON.stringify(name)}`, { service });
      }
      await mkdirPrivate(dir);
      return join(dir, this.layout.artifactFile(service, name));
    };
    return {
      write: async (name, source, meta) => {
        const path = await prepare(name);
        const seal = this.layout.seal(artifactWhere(this.id, service, name));
        try {
          return artifactRecord(name, meta, await writeArtifactFile(path, source, this.compression, { signal, ...meters(progress), ...(seal ? { seal } : {}) }));
        } catch (error) {
          throw wrap(error, path, service);
        }
      },
      discard: async (name) => {
        await rm(await prepare(name), { force: true });
      },
      writeCommand: async (name, command, meta) => {
        const path = await prepare(name);
        const seal = this.layout.seal(artifactWhere(this.id, service, name));
        const options = { signal, ...meters(progress) };
        try {
          // A plain repository keeps its fast path: the tool's output never passes through Node.
          const written = seal
            ? await writeSealedCommandArtifactFile(path, command, this.compression, seal, options)
            : await writeCommandArtifactFile(path, command, this.compression, options);
          return { record: artifactRecord(name, meta, written), exit: written.exit };
        } catch (error) {
          throw wrap(error, path, service);
        }
      },
    };
  }

  async putStored(service: string, record: ArtifactRecord, source: Readable, signal?: AbortSignal): Promise<void> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(service) || service.includes('..')) {
      throw new HoldfastError('integrity', `unsafe service name ${JSON.stringify(service)}`, { hint: 'the bundle is damaged or was tampered with' });
    }
    if (!isSafeArtifactName(record.name)) {
      throw new HoldfastError('integrity', `unsafe artifact name ${JSON.stringify(record.name)}`, { service, hint: 'the bundle is damaged or was tampered with' });
    }
    const dir = join(this.staging, this.layout.serviceDir(service));
    await mkdirPrivate(dir);
    const path = join(dir, this.layout.artifactFile(service, record.name));
    const where = artifactWhere(this.id, service, record.name);
    const seal = this.layout.seal(where);
    try {
      await pipeline([source, checksumGuard(record, where), ...(seal ? [seal()] : []), createWriteStream(path, { flags: 'wx', mode: PRIVATE_FILE })], { signal });
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      await rm(path, { force: true });
      throw wrap(error, path, service);
    }
  }

  async discardService(service: string): Promise<void> {
    await rm(join(this.staging, this.layout.serviceDir(service)), { recursive: true, force: true });
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.finished) throw new HoldfastError('internal', 'snapshot committed twice');
    try {
      const path = join(this.staging, 'manifest.json');
      const handle = await open(path, 'wx', PRIVATE_FILE);
      try {
        await handle.writeFile(this.layout.encodeDocument(JSON.stringify(manifest, null, 2) + '\n', manifestContext(this.id)));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(this.staging);
      await mkdirPrivate(this.snapshots);
      await rename(this.staging, join(this.snapshots, this.id));
      await fsyncDir(this.snapshots);
      this.finished = true;
    } catch (error) {
      await this.abort();
      throw wrap(error, this.staging);
    } finally {
      await this.lock.release();
    }
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await rm(this.staging, { recursive: true, force: true });
    await this.lock.release();
  }
}
