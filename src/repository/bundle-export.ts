import { open, rename, rm, stat } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from './byte-meter.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { HOLDFAST_VERSION } from '../core/version.js';
import {
  ANNOTATIONS_ENTRY,
  artifactEntry,
  BUNDLE_FORMAT,
  BUNDLE_KIND,
  bundleArtifacts,
  HEADER_ENTRY,
  jsonBytes,
  MANIFEST_ENTRY,
  sha256,
  type BundleHeader,
} from './bundle-format.js';
import { tarEnd, tarHeader, tarPadding } from './bundle-tar.js';
import type { Repository } from './repository.js';

export interface ExportSummary {
  snapshot: string;
  /** Bytes of the whole bundle. */
  bytes: number;
  artifacts: number;
  /** sha256 of the whole bundle, to compare after a copy (`sha256sum FILE`). */
  sha256: string;
}

export interface ExportOptions {
  signal?: AbortSignal;
  onBytes?: (n: number) => void;
}

/**
 * Streams a committed snapshot as a bundle (bundle-format.ts) into `out`.
 * Artifacts come from openStored, which checks each one against the manifest
 * as it goes: a damaged artifact fails the export instead of travelling.
 */
export async function exportBundle(repo: Repository, id: string, out: Writable, options: ExportOptions = {}): Promise<ExportSummary> {
  const manifest = await repo.load(id);
  const manifestBytes = jsonBytes(manifest);
  const annotationBytes = jsonBytes(await repo.annotations(id));
  const artifacts = bundleArtifacts(manifest);
  const header: BundleHeader = {
    kind: BUNDLE_KIND,
    format: BUNDLE_FORMAT,
    snapshot: id,
    manifestSha256: sha256(manifestBytes),
    annotationsSha256: sha256(annotationBytes),
    artifacts: artifacts.length,
    storedBytes: artifacts.reduce((n, a) => n + a.record.storedBytes, 0),
    createdAt: new Date().toISOString(),
    holdfastVersion: HOLDFAST_VERSION,
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const [path, data] of [[HEADER_ENTRY, jsonBytes(header)], [MANIFEST_ENTRY, manifestBytes], [ANNOTATIONS_ENTRY, annotationBytes]] as const) {
      yield tarHeader(path, data.length);
      yield data;
      yield tarPadding(data.length);
    }
    for (const { service, record } of artifacts) {
      yield tarHeader(artifactEntry(service, record), record.storedBytes);
      yield* repo.openStored(id, service, record, options.signal);
      yield tarPadding(record.storedBytes);
    }
    yield tarEnd();
  }
  const counter = new ByteMeter({ sha256: true, onBytes: options.onBytes });
  await pipeline(Readable.from(chunks(), { objectMode: false }), counter, out, { signal: options.signal });
  return { snapshot: id, bytes: counter.bytes, artifacts: artifacts.length, sha256: counter.sha256() };
}

/**
 * Exports into a file: written as FILE.partial, fsynced and renamed at the
 * end, so that a failed or interrupted export leaves nothing that looks like
 * a finished bundle. An existing FILE is replaced only with `force`.
 */
export async function exportBundleFile(repo: Repository, id: string, path: string, options: ExportOptions & { force?: boolean } = {}): Promise<ExportSummary> {
  if (!options.force && (await stat(path).then(() => true, (e: NodeJS.ErrnoException) => !['ENOENT', 'ENOTDIR'].includes(e.code ?? '')))) {
    throw new HoldfastError('usage', `${path} exists`, { hint: 'choose another --to, or pass --force to replace it' });
  }
  const partial = `${path}.partial`;
  try {
    // Opened first, so that a bad path fails here rather than as a stream error nobody listens to yet.
    // Private (0600) whatever the umask: a bundle holds what the repository holds, unencrypted.
    const handle = await open(partial, 'w', 0o600);
    let summary: ExportSummary;
    try {
      summary = await exportBundle(repo, id, handle.createWriteStream(), options);
    } finally {
      await handle.close().catch(() => undefined);
    }
    const written = await open(partial, 'r');
    try {
      await written.sync();
    } finally {
      await written.close();
    }
    await rename(partial, path);
    return summary;
  } catch (error) {
    await rm(partial, { force: true }).catch(() => undefined);
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) {
      throw new HoldfastError('usage', `cannot write ${path}: its directory does not exist`, { hint: 'create the directory first, or choose another --to', cause: error });
    }
    const e = toHoldfastError(error);
    if (e.code === 'repository' && !e.message.includes(path)) {
      throw new HoldfastError('repository', `cannot write the bundle ${path}: ${e.message}`, { hint: 'check that the directory exists and is writable', cause: error });
    }
    throw e;
  }
}
