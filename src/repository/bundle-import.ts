import type { Readable } from 'node:stream';
import { ByteMeter } from './byte-meter.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { assertServiceName } from '../core/service.js';
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
import { TarReader, TarReadError } from './bundle-tar.js';
import { parseManifest, type Manifest } from './manifest.js';
import type { Repository, SnapshotWriter } from './repository.js';

export interface ImportSummary {
  snapshot: string;
  /** `imported`, or `present` when this very snapshot was already in the repository (nothing written). */
  status: 'imported' | 'present';
  services: string[];
  artifacts: number;
  /** Bytes of the bundle read. */
  bytes: number;
  /** sha256 of the whole bundle; only when it was read to its end. */
  sha256?: string;
}

const SMALL_PART_LIMIT = 64 << 20;
const HINT = 'the bundle was damaged or altered after export: copy it again (compare `sha256sum` with the export summary), or export the snapshot again';

function damaged(part: string, what: string, cause?: unknown): HoldfastError {
  return new HoldfastError('integrity', `bundle part ${part}: ${what}`, { hint: HINT, ...(cause ? { cause } : {}) });
}

/**
 * Adds the snapshot of a bundle to `repo` under its original id. Every part
 * is checked on the way (the header, the manifest and annotations against the
 * header's sha256, each artifact against the manifest by putStored, the
 * end-of-archive marker), and the snapshot is committed only when all of it
 * matched: a tampered or truncated bundle leaves nothing listed.
 */
export async function importBundle(repo: Repository, source: Readable, options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<ImportSummary> {
  const counted = source.pipe(new ByteMeter({ sha256: true, onBytes: options.onBytes }));
  source.once('error', (error) => counted.destroy(error));
  const tar = new TarReader(counted);
  let writer: SnapshotWriter | undefined;
  let part = HEADER_ENTRY;
  try {
    const header = parseHeader(await small(tar, HEADER_ENTRY, 'this is not a holdfast bundle'));
    part = MANIFEST_ENTRY;
    const manifestBytes = await small(tar, MANIFEST_ENTRY);
    if (sha256(manifestBytes) !== header.manifestSha256) throw damaged(MANIFEST_ENTRY, `its sha256 ${sha256(manifestBytes)} differs from the header's ${header.manifestSha256}`);
    const manifest = parseManifest(manifestBytes.toString('utf8'), `in the bundle of snapshot ${header.snapshot}`);
    if (manifest.id !== header.snapshot) throw damaged(MANIFEST_ENTRY, `it is snapshot ${manifest.id}, the header says ${header.snapshot}`);
    for (const service of Object.keys(manifest.services)) {
      try {
        assertServiceName(service);
      } catch (cause) {
        throw damaged(MANIFEST_ENTRY, `invalid service name ${JSON.stringify(service)}`, cause);
      }
    }
    const expected = bundleArtifacts(manifest);
    part = ANNOTATIONS_ENTRY;
    const annotationBytes = await small(tar, ANNOTATIONS_ENTRY);
    if (sha256(annotationBytes) !== header.annotationsSha256) throw damaged(ANNOTATIONS_ENTRY, `its sha256 differs from the header's`);
    const annotations = JSON.parse(annotationBytes.toString('utf8')) as Record<string, unknown>;
    const badKind = Object.keys(annotations).find((kind) => !/^[a-z][a-z0-9-]{0,40}$/.test(kind));
    if (badKind !== undefined) throw damaged(ANNOTATIONS_ENTRY, `invalid annotation kind ${JSON.stringify(badKind)}`);

    const present = await alreadyPresent(repo, manifest);
    if (present) {
      return { snapshot: manifest.id, status: 'present', services: Object.keys(manifest.services), artifacts: expected.length, bytes: counted.bytes };
    }
    writer = await repo.beginSnapshot('import', { id: manifest.id });
    for (const { service, record } of expected) {
      part = artifactEntry(service, record);
      const entry = await tar.next();
      if (!entry) throw damaged(part, 'missing: the bundle ends before it');
      if (entry.path !== part) throw damaged(part, `expected here, found ${JSON.stringify(entry.path)}`);
      if (entry.size !== record.storedBytes) throw damaged(part, `${entry.size} bytes, the manifest says ${record.storedBytes}`);
      try {
        await writer.putStored(service, record, tar.stream(), options.signal);
      } catch (error) {
        const cut = tarError(error);
        if (cut) throw cut;
        const e = toHoldfastError(error);
        if (e.code === 'integrity') throw damaged(part, e.message.replace(/^artifact \S+ is corrupt: /, ''), error);
        throw e;
      }
    }
    part = 'end of the bundle';
    const extra = await tar.next();
    if (extra) throw damaged(extra.path, 'an entry the manifest does not list');
    await writer.commit(manifest);
    writer = undefined;
    for (const [kind, value] of Object.entries(annotations)) await repo.annotate(manifest.id, kind, value);
    return { snapshot: manifest.id, status: 'imported', services: Object.keys(manifest.services), artifacts: expected.length, bytes: counted.bytes, sha256: counted.sha256() };
  } catch (error) {
    await writer?.abort();
    const tarFault = tarError(error);
    if (tarFault) throw damaged(part, tarFault.kind === 'truncated' ? `the bundle is truncated (${tarFault.message})` : tarFault.message, error);
    if (error instanceof SyntaxError) throw damaged(part, 'not valid JSON', error);
    throw error;
  } finally {
    await tar.close().catch(() => undefined);
    source.destroy();
  }
}

/** The reader's own error, also when the repository wrapped it. */
function tarError(error: unknown): TarReadError | undefined {
  for (let e = error; e instanceof Error; e = e.cause) if (e instanceof TarReadError) return e;
  return undefined;
}

/** The next entry, which must be `name`, read whole (the small JSON parts). */
async function small(tar: TarReader, name: string, foreign?: string): Promise<Buffer> {
  const entry = await tar.next().catch((error: unknown) => {
    if (foreign && error instanceof TarReadError && error.kind === 'bad-header') throw new HoldfastError('integrity', `${foreign} (${error.message})`, { hint: HINT });
    throw error;
  });
  if (!entry) throw damaged(name, 'missing: the bundle is empty there');
  if (entry.path !== name) {
    if (foreign) throw new HoldfastError('integrity', `${foreign}: its first entry is ${JSON.stringify(entry.path)}, not ${name}`, { hint: 'import a file written by `holdfast export`' });
    throw damaged(name, `expected here, found ${JSON.stringify(entry.path)}`);
  }
  return tar.readAll(SMALL_PART_LIMIT);
}

function parseHeader(data: Buffer): BundleHeader {
  const header = JSON.parse(data.toString('utf8')) as Partial<BundleHeader>;
  if (header.kind !== BUNDLE_KIND) throw damaged(HEADER_ENTRY, 'not a holdfast bundle header');
  if (header.format !== BUNDLE_FORMAT) {
    throw new HoldfastError('integrity', `the bundle has format ${String(header.format)}; this holdfast reads format ${BUNDLE_FORMAT}`, { hint: 'import it with the holdfast version that exported it, or a newer one' });
  }
  if (typeof header.snapshot !== 'string' || typeof header.manifestSha256 !== 'string' || typeof header.annotationsSha256 !== 'string') throw damaged(HEADER_ENTRY, 'fields are missing');
  return header as BundleHeader;
}

/** True when the repository holds this very snapshot; a different one under the same id is an error. */
async function alreadyPresent(repo: Repository, manifest: Manifest): Promise<boolean> {
  let existing: Manifest;
  try {
    existing = await repo.load(manifest.id);
  } catch (error) {
    if (toHoldfastError(error).code === 'not-found') return false;
    throw error;
  }
  if (sha256(jsonBytes(existing)) === sha256(jsonBytes(manifest))) return true;
  throw new HoldfastError('repository', `this repository already holds a different snapshot with the id ${manifest.id}`, {
    hint: 'import into another repository (--repo); the two snapshots do not match',
  });
}
