import { PassThrough, type Readable } from 'node:stream';
import type { ArtifactSink, ByteProgress, CommandSpec } from '../core/driver.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { runCommandSpec, type ToolExit } from '../core/process.js';
import { checksumGuard } from './artifact-reader.js';
import { artifactRecord, type ArtifactRecord, type Manifest } from './manifest.js';
import type { SnapshotWriter } from './repository.js';
import { TAG, writerTag } from './restic-catalog.js';
import type { ResticCli } from './restic-cli.js';
import { ResticIntake } from './restic-intake.js';

/** What the manifest's restic snapshot holds: the manifest, and where each artifact went. */
export interface StoredDocument {
  holdfast: 1;
  manifest: Manifest;
  /** `<service>/<artifact>` → the restic snapshot (id or unique prefix) that holds it. */
  artifacts: Record<string, string>;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * One holdfast snapshot being written into restic: each artifact becomes a
 * restic snapshot as it streams; commit writes the manifest's restic snapshot
 * last. Until then nothing is listed, and what a killed run leaves behind is
 * forgotten by the next one (restic-repository.ts, removeLeftovers).
 */
export class ResticSnapshotWriter implements SnapshotWriter {
  private readonly stored = new Map<string, string>();
  private readonly discarded: string[] = [];
  private readonly writer = writerTag();
  private finished = false;

  constructor(
    readonly id: string,
    private readonly cli: ResticCli,
    readonly notes: string[],
    private readonly changed: () => void,
  ) {}

  sink(service: string, progress?: ByteProgress, signal?: AbortSignal): ArtifactSink {
    // restic stores what it is given (it compresses by itself): raw and stored bytes are the same here.
    const onBytes = progress ? (n: number) => progress.add(n) : undefined;
    const record = (name: string, meta: { kind: string; label?: string }, sha256: string, bytes: number) => artifactRecord(name, meta, { sha256, storedBytes: bytes, rawBytes: bytes }, 'none');
    return {
      write: async (name, source, meta) => {
        const intake = this.intake(service, name, onBytes);
        try {
          await intake.feed(source, signal);
        } catch (error) {
          source.destroy();
          if (intake.resticEnded) await intake.failed(`store ${service}/${name}`);
          await intake.kill();
          throw toHoldfastError(error, { service });
        }
        const sealed = await intake.seal(`store ${service}/${name}`);
        this.keep(service, name, sealed.snapshot);
        return record(name, meta, sealed.sha256, sealed.bytes);
      },
      writeCommand: async (name, command, meta) => {
        const intake = this.intake(service, name, onBytes);
        const { exit, fed } = await runInto(command, intake, signal);
        if (intake.resticEnded) {
          await intake.failed(`store ${service}/${name}`);
        }
        if (exit.code !== 0 || fed !== undefined) {
          // The tool failed (or the stream broke): restic dies before its input ends, nothing is saved.
          await intake.kill();
          if (exit.code === 0) throw toHoldfastError(fed, { service });
          return { record: record(name, meta, '', 0), exit };
        }
        const sealed = await intake.seal(`store ${service}/${name}`);
        this.keep(service, name, sealed.snapshot);
        return { record: record(name, meta, sealed.sha256, sealed.bytes), exit };
      },
      discard: async (name) => {
        this.drop(`${service}/${name}`);
      },
    };
  }

  async putStored(service: string, record: ArtifactRecord, source: Readable, signal?: AbortSignal): Promise<void> {
    if (!SAFE_NAME.test(service) || service.length > 63 || service.includes('..')) {
      throw new HoldfastError('integrity', `unsafe service name ${JSON.stringify(service)}`, { hint: 'the bundle is damaged or was tampered with' });
    }
    const intake = this.intake(service, record.name);
    try {
      await intake.feed(source.pipe(checksumGuard(record, `${this.id}/${service}/${record.name}`)), signal);
    } catch (error) {
      source.destroy();
      if (intake.resticEnded) await intake.failed(`store ${service}/${record.name}`);
      await intake.kill();
      throw toHoldfastError(error, { service });
    }
    const sealed = await intake.seal(`store ${service}/${record.name}`);
    this.keep(service, record.name, sealed.snapshot);
  }

  async discardService(service: string): Promise<void> {
    for (const key of [...this.stored.keys()]) if (key.startsWith(`${service}/`)) this.drop(key);
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.finished) throw new HoldfastError('internal', 'snapshot committed twice');
    try {
      const artifacts: Record<string, string> = {};
      for (const [service, record] of Object.entries(manifest.services)) {
        for (const a of record.artifacts) {
          const ref = this.stored.get(`${service}/${a.name}`);
          if (!ref) throw new HoldfastError('internal', `the manifest names ${service}/${a.name}, which was not stored (its tool failed?)`, { service });
          artifacts[`${service}/${a.name}`] = ref;
        }
      }
      for (const [key, ref] of this.stored) if (!Object.hasOwn(artifacts, key)) this.discarded.push(ref);
      const doc: StoredDocument = { holdfast: 1, manifest, artifacts };
      const intake = new ResticIntake(this.cli, `/holdfast/${this.id}/manifest.json`, [TAG.manifest, `${TAG.id}${this.id}`]);
      try {
        await intake.feed(bufferStream(JSON.stringify(doc, null, 2) + '\n'));
      } catch (error) {
        if (intake.resticEnded) await intake.failed('store the manifest');
        await intake.kill();
        throw error;
      }
      await intake.seal(`store the manifest of ${this.id}`);
      this.finished = true;
      this.changed();
    } catch (error) {
      await this.abort();
      throw toHoldfastError(error);
    }
    await this.forget(this.discarded.splice(0));
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.forget([...this.stored.values(), ...this.discarded.splice(0)]);
    this.stored.clear();
    this.changed();
  }

  private intake(service: string, name: string, onBytes?: (n: number) => void): ResticIntake {
    if (this.finished) throw new HoldfastError('internal', 'write after commit or abort');
    if (!SAFE_NAME.test(name) || name.length > 200) {
      throw new HoldfastError('internal', `unsafe artifact name ${JSON.stringify(name)}`, { service });
    }
    if (this.stored.has(`${service}/${name}`)) this.drop(`${service}/${name}`);
    return new ResticIntake(this.cli, `/holdfast/${this.id}/${service}/${name}`, [TAG.artifact, `${TAG.id}${this.id}`, `${TAG.writer}${this.writer}`], onBytes);
  }

  private keep(service: string, name: string, snapshot: string): void {
    this.stored.set(`${service}/${name}`, snapshot);
  }

  /** Forgotten at the end (restic's forget needs the repository alone, not while other services stream). */
  private drop(key: string): void {
    const ref = this.stored.get(key);
    if (ref) this.discarded.push(ref);
    this.stored.delete(key);
  }

  /** Best effort: what cannot be forgotten now is left to the next run's cleanup. */
  private async forget(refs: string[]): Promise<void> {
    if (refs.length === 0) return;
    try {
      await this.cli.text(['forget', ...refs], 'forget discarded artifacts');
    } catch (error) {
      this.notes.push(`discarded artifacts stay in restic until the next backup forgets them: ${toHoldfastError(error).message}`);
    }
  }
}

/** Runs the tool with its stdout fed into restic; waits for both ends. */
async function runInto(command: CommandSpec, intake: ResticIntake, signal?: AbortSignal): Promise<{ exit: ToolExit; fed?: unknown }> {
  const tool = runCommandSpec(command, { stdout: 'pipe', signal });
  const feeding = intake.feed(tool.stdout!, signal).then(
    () => undefined,
    (error: unknown) => {
      tool.child.kill('SIGTERM');
      return error ?? new Error('the stream into restic broke');
    },
  );
  const [exit, fed] = await Promise.all([tool.done, feeding]);
  return fed === undefined ? { exit } : { exit, fed };
}

function bufferStream(text: string): Readable {
  const stream = new PassThrough();
  stream.end(Buffer.from(text));
  return stream;
}
