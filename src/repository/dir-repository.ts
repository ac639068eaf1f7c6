import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArtifactSource, ByteProgress } from '../core/driver.js';
import { artifactProgress } from './byte-meter.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { openArtifactFile, openStoredFile, verifyArtifactFile } from './artifact-reader.js';
import { decompressIntoCommand, decompressToFile } from './command-restore.js';
import { DEFAULT_COMPRESSION, type CompressionSettings } from './compression.js';
import { exists, mkdirPrivate, openToOthers, PRIVATE_DIR, PRIVATE_FILE, wrap } from './dir-fs.js';
import { annotationContext, artifactWhere, DirLayout, manifestContext } from './dir-layout.js';
import { DirSnapshotWriter } from './dir-snapshot-writer.js';
import { RepositoryLock, type LockWait } from './lock.js';
import { findArtifact, parseManifest, type ArtifactRecord, type Manifest } from './manifest.js';
import { RepositoryCipher } from './repository-cipher.js';
import { createEncryption, NO_SECRETS, unlockEncryption, type EncryptionConfig, type RepositorySecrets } from './repository-key.js';
import type { BrokenSnapshot, HeldLock, InitOptions, Repository, SnapshotWriter } from './repository.js';
import { newSnapshotId, SNAPSHOT_ID } from './snapshot-id.js';
import { listSnapshots, resolveSnapshotRef } from './resolve.js';

const FORMAT = 1;

interface RepoConfig {
  format: number;
  id: string;
  createdAt: string;
  compression: CompressionSettings;
  encryption: EncryptionConfig | null;
}

/**
 * The embedded default: a local directory.
 *   config.json, snapshots/<id>/manifest.json, snapshots/<id>/<service>/<artifact>,
 *   annotations/<id>/<kind>.json, tmp/<id>/ (staging, renamed into snapshots/
 *   on commit), lock.
 * Encrypted (`init --encrypt`): the same tree, with manifests, annotations
 * and artifacts sealed and service and artifact names opaque (DirLayout);
 * config.json holds the wrapped key, the lock stays plain.
 */
export class DirRepository implements Repository {
  private config?: RepoConfig;
  private layout = new DirLayout();

  constructor(
    readonly location: string,
    private readonly secrets: RepositorySecrets = NO_SECRETS,
  ) {}

  get encrypted(): boolean {
    return this.layout.encrypted;
  }

  async init(options: InitOptions = {}): Promise<void> {
    await this.assertUsableDir(true);
    if (await exists(join(this.location, 'config.json'))) {
      throw new HoldfastError('repository', `a repository already exists at ${this.location}`, {
        hint: 'use it as it is, or choose another --repo',
      });
    }
    await this.create(options.encrypt ?? (this.secrets.passphraseSet || this.secrets.keyFile !== undefined));
  }

  async open({ create }: { create: boolean }): Promise<void> {
    await this.assertUsableDir(create);
    const path = join(this.location, 'config.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw wrap(error, this.location);
      if (!create) {
        const parentMissing = !(await exists(dirname(this.location)));
        throw new HoldfastError('not-found', `no holdfast repository at ${this.location}${parentMissing ? ` (its parent directory ${dirname(this.location)} does not exist)` : ''}`, {
          hint: 'create one with `holdfast init` (or `holdfast backup --init`), or point --repo / HOLDFAST_REPO at an existing repository',
        });
      }
      if (this.secrets.passphraseSet || this.secrets.keyFile) {
        // The user expects encryption: never create a plain repository silently.
        throw new HoldfastError('config', `no holdfast repository at ${this.location}, and a passphrase or key file is set`, {
          hint: 'create an encrypted one first with `holdfast init --encrypt`, or unset HOLDFAST_PASSWORD[_FILE] / HOLDFAST_KEY_FILE for a plain one',
        });
      }
      await this.create(false);
      return;
    }
    let config: RepoConfig;
    try {
      config = JSON.parse(text) as RepoConfig;
    } catch (cause) {
      throw new HoldfastError('repository', `${path} is not valid JSON`, { hint: 'the repository configuration is damaged', cause });
    }
    if (config.format !== FORMAT) {
      throw new HoldfastError('repository', `${this.location} has repository format ${config.format}; this holdfast reads format ${FORMAT}`, {
        hint: 'use the holdfast version that created it',
      });
    }
    if (config.encryption) {
      const key = await unlockEncryption(config.encryption, config.id, this.location, this.secrets);
      this.layout = new DirLayout(new RepositoryCipher(key));
    }
    this.config = config;
  }

  async beginSnapshot(command: string, options: { id?: string } = {}): Promise<SnapshotWriter> {
    const config = this.requireConfig();
    if (options.id !== undefined && !SNAPSHOT_ID.test(options.id)) {
      throw new HoldfastError('integrity', `${JSON.stringify(options.id)} is not a snapshot id`, { hint: 'the bundle or its manifest is damaged' });
    }
    const lock = await this.lock(command);
    const notes = [...lock.notes];
    try {
      // Holding the lock, any staging directory belongs to a writer that died.
      const tmp = join(this.location, 'tmp');
      for (const leftover of await readdir(tmp).catch(() => [] as string[])) {
        await rm(join(tmp, leftover), { recursive: true, force: true });
        notes.push(`removed the unfinished snapshot ${leftover} of an interrupted run`);
      }
      const id = options.id ?? newSnapshotId();
      if (await exists(join(this.location, 'snapshots', id))) {
        throw new HoldfastError('repository', `snapshot ${id} is already in the repository at ${this.location}`, {
          hint: 'it was imported before; `holdfast show ' + id + '` shows it',
        });
      }
      const staging = join(tmp, id);
      await mkdirPrivate(staging);
      return new DirSnapshotWriter(id, staging, join(this.location, 'snapshots'), config.compression, this.layout, lock, notes);
    } catch (error) {
      await lock.release();
      throw wrap(error, this.location);
    }
  }

  async lock(command: string, options: LockWait = {}): Promise<HeldLock> {
    this.requireConfig();
    const { lock, tookOverFrom } = await RepositoryLock.acquire(join(this.location, 'lock'), command, options).catch((e: unknown) => {
      throw wrap(e, this.location);
    });
    const notes = tookOverFrom ? [`took over a stale lock of pid ${tookOverFrom.pid} (${tookOverFrom.command}, since ${tookOverFrom.since})`] : [];
    return { notes, release: () => lock.release() };
  }

  async list(): Promise<Array<Manifest | BrokenSnapshot>> {
    this.requireConfig();
    const dir = join(this.location, 'snapshots');
    const ids = (await readdir(dir).catch(() => [] as string[])).filter((id) => SNAPSHOT_ID.test(id));
    return listSnapshots(ids, (id) => this.load(id));
  }

  async load(id: string): Promise<Manifest> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const path = join(this.location, 'snapshots', id, 'manifest.json');
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw wrap(error, this.location);
    }
    return parseManifest(this.layout.decodeDocument(data, manifestContext(id), `the manifest of snapshot ${id}`), `of snapshot ${id}`, id);
  }

  async resolve(ref: string): Promise<string> {
    return resolveSnapshotRef(ref, await this.list());
  }

  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal, progress?: ByteProgress): ArtifactSource {
    const onRaw = progress ? (n: number) => progress.add(n) : undefined;
    const find = (name: string) => {
      const record = findArtifact(id, service, records, name);
      const where = artifactWhere(id, service, name);
      return { record, path: this.artifactPath(id, service, name), where, unseal: this.layout.unseal(where) };
    };
    return {
      records,
      open: (name) => {
        const { record, path, where, unseal } = find(name);
        return openArtifactFile(path, record, where, signal, unseal, onRaw);
      },
      pipeToCommand: async (name, command) => {
        const { record, path, where, unseal } = find(name);
        const meter = artifactProgress(progress, record.rawBytes);
        const exit = await decompressIntoCommand(path, where, command, signal, unseal, record.compression, meter.onRaw);
        meter.complete();
        return exit;
      },
      extractToFile: async (name, out) => {
        const { record, path, where, unseal } = find(name);
        const meter = artifactProgress(progress, record.rawBytes);
        await decompressToFile(path, where, out, signal, unseal, record.compression, meter.onRaw);
        meter.complete();
      },
    };
  }

  async storedSize(id: string, service: string, record: ArtifactRecord): Promise<number | null> {
    return stat(this.artifactPath(id, service, record.name)).then(
      (info) => this.layout.storedSize(info.size),
      () => null,
    );
  }

  async privacyWarnings(): Promise<string[]> {
    this.requireConfig();
    const open = await openToOthers(this.location);
    if (open.count === 0) return [];
    const examples = open.examples.map((e) => `${e.path} is ${e.mode}`).join(', ');
    return [
      `the repository at ${this.location} is readable by users other than its owner: ${open.count} files and folders are open to the group or to others (${examples}); ` +
        `it holds every dump, and with a superuser URL every role's password hash; make it private with: chmod -R go-rwx ${this.location}`,
    ];
  }

  async verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void> {
    const where = artifactWhere(id, service, record.name);
    await verifyArtifactFile(this.artifactPath(id, service, record.name), record, where, signal, this.layout.unseal(where), onStoredBytes);
  }

  openStored(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable {
    const where = artifactWhere(id, service, record.name);
    return openStoredFile(this.artifactPath(id, service, record.name), record, where, signal, this.layout.unseal(where));
  }

  async annotate(id: string, kind: string, value: unknown): Promise<void> {
    assertAnnotationKind(kind);
    await this.load(id);
    const dir = join(this.location, 'annotations', id);
    await mkdirPrivate(dir);
    const path = join(dir, `${kind}.json`);
    const temp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(temp, this.layout.encodeDocument(JSON.stringify(value, null, 2) + '\n', annotationContext(id, kind)), { mode: PRIVATE_FILE });
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw wrap(error, this.location);
    }
  }

  async annotations(id: string): Promise<Record<string, unknown>> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const dir = join(this.location, 'annotations', id);
    const out: Record<string, unknown> = {};
    for (const file of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (!file.endsWith('.json')) continue;
      const kind = file.slice(0, -'.json'.length);
      try {
        out[kind] = JSON.parse(this.layout.decodeDocument(await readFile(join(dir, file)), annotationContext(id, kind), `annotation ${kind} of snapshot ${id}`));
      } catch {
        // A damaged annotation is not a damaged snapshot: it reads as absent.
      }
    }
    return out;
  }

  async remove(id: string): Promise<void> {
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    // Rename first so that a half-removed snapshot is never listed.
    const doomed = join(this.location, 'tmp', `${id}.removing`);
    await mkdirPrivate(join(this.location, 'tmp'));
    try {
      await rename(join(this.location, 'snapshots', id), doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw wrap(error, this.location);
    }
    await rm(doomed, { recursive: true, force: true });
    await rm(join(this.location, 'annotations', id), { recursive: true, force: true });
  }

  private artifactPath(id: string, service: string, name: string): string {
    return join(this.location, 'snapshots', id, this.layout.serviceDir(service), this.layout.artifactFile(service, name));
  }

  private requireConfig(): RepoConfig {
    if (!this.config) throw new HoldfastError('internal', 'repository used before open()');
    return this.config;
  }

  private async create(encrypt: boolean): Promise<void> {
    const id = randomUUID();
    // Ask for the passphrase before anything is written.
    const encryption = encrypt ? await createEncryption(id, this.location, this.secrets) : undefined;
    const config: RepoConfig = {
      format: FORMAT,
      id,
      createdAt: new Date().toISOString(),
      compression: DEFAULT_COMPRESSION,
      encryption: encryption?.config ?? null,
    };
    try {
      await this.createRoot();
      await mkdirPrivate(join(this.location, 'snapshots'));
      await mkdirPrivate(join(this.location, 'tmp'));
      await writeFile(join(this.location, 'config.json'), JSON.stringify(config, null, 2) + '\n', { flag: 'wx', mode: PRIVATE_FILE });
    } catch (error) {
      if (error instanceof HoldfastError) throw error;
      const e = toHoldfastError(error);
      if (e.code === 'no-space') throw wrap(error, this.location);
      const code = (error as NodeJS.ErrnoException).code ?? e.code;
      throw new HoldfastError('repository', `cannot create the repository at ${this.location} (${code}: ${(error as Error).message})`, {
        hint: 'check that the parent directory exists and is writable (not on a read-only file system), or choose another --repo',
        cause: error,
      });
    }
    this.config = config;
    if (encryption) this.layout = new DirLayout(new RepositoryCipher(encryption.masterKey));
  }

  /**
   * The repository's own folder, private. Only its last part is created: a
   * parent that does not exist is a typo far more often than a wish.
   */
  private async createRoot(): Promise<void> {
    try {
      await mkdir(this.location, { mode: PRIVATE_DIR });
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new HoldfastError('usage', `cannot create the repository at ${this.location}: its parent directory ${dirname(this.location)} does not exist`, {
          hint: `check the path for a typo, or create the parent first (mkdir -p ${dirname(this.location)})`,
        });
      }
      if (code !== 'EEXIST') throw error;
    }
    // An existing folder (made by the admin beforehand) becomes the repository: private too. When
    // it is not ours to change (another owner), `check` warns that others can read it.
    await chmod(this.location, PRIVATE_DIR).catch(() => undefined);
  }

  private async assertUsableDir(mayCreate: boolean): Promise<void> {
    let info;
    try {
      info = await stat(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && mayCreate) return;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // open() reports "no repository"
      throw wrap(error, this.location);
    }
    if (!info.isDirectory()) {
      throw new HoldfastError('repository', `the repository path ${this.location} is not a directory`, {
        hint: 'point --repo (or HOLDFAST_REPO) at a directory, or at a path that does not exist yet',
      });
    }
  }
}

function assertAnnotationKind(kind: string): void {
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(kind)) throw new HoldfastError('internal', `invalid annotation kind ${JSON.stringify(kind)}`);
}

function notFound(id: string): HoldfastError {
  return new HoldfastError('not-found', `no snapshot ${JSON.stringify(id)} in this repository`, {
    hint: 'list them with `holdfast snapshots`',
  });
}
