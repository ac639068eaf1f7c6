import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HoldfastError } from '../../src/core/errors.js';
import { answerMs, boundedUpload, stallGuarded, stallMs, UploadStallError } from '../../src/core/http-stall.js';
import { httpFailure, q, qdrantError, type QdrantNode } from './qdrant-connection.js';

const enc = encodeURIComponent;

/**
 * Streams one collection snapshot from the node, checking it on the way
 * against the sha256 and size the node gave when it created it. The check
 * fails the stream before it ends, so the repository never commits a
 * truncated or corrupt artifact; a cut connection fails it too. The body is
 * read only as the repository reads (a generator), so an early cut is seen
 * by the reader, not lost before anyone listens.
 */
export async function downloadSnapshot(node: QdrantNode, collection: string, snapshot: { name: string; size: number; checksum?: string | null }, signal: AbortSignal, onBytes: (n: number) => void = () => undefined): Promise<Readable> {
  return downloadChecked(node, `the snapshot of ${collection}`, `/collections/${enc(collection)}/snapshots/${enc(snapshot.name)}`, snapshot, signal, onBytes);
}

/** The same for any snapshot file the node serves (`/snapshots/{name}`: a full-storage snapshot). */
export async function downloadChecked(node: QdrantNode, what: string, path: string, snapshot: { name: string; size: number; checksum?: string | null }, signal: AbortSignal, onBytes: (n: number) => void = () => undefined): Promise<Readable> {
  const url = `${node.url}${path}`;
  let res: Response;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  // A node that never answers the request fails it within the stall bound too.
  const noAnswer = setTimeout(() => controller.abort(new Error(`no answer within ${Math.round(stallMs() / 1000)} s`)), stallMs());
  try {
    res = await fetch(url, { headers: node.headers(), signal: controller.signal });
    clearTimeout(noAnswer);
  } catch (cause) {
    clearTimeout(noAnswer);
    throw qdrantError(node, `download ${what}`, cause);
  }
  if (!res.ok || !res.body) {
    throw qdrantError(node, `download ${what}`, httpFailure(res.status, await res.text().catch(() => '')));
  }
  // A node that stops sending fails the download within the stall bound.
  const body = stallGuarded(res.body as unknown as AsyncIterable<Uint8Array>, stallMs(), () => controller.abort());
  const opts = { service: node.service, driver: 'qdrant', hint: 'nothing was stored; run the backup again, and check the network and the node if it repeats' };
  async function* verified(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        onBytes(chunk.byteLength);
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    } catch (cause) {
      throw new HoldfastError('integrity', `the download of ${what} was cut after ${bytes} of ${snapshot.size} bytes (${(cause as Error).message})`, { ...opts, cause });
    }
    const sha = hash.digest('hex');
    const want = snapshot.checksum ?? undefined;
    if (bytes !== snapshot.size || (want && sha !== want)) {
      throw new HoldfastError('integrity', `${what} arrived damaged: ${bytes} of ${snapshot.size} bytes, sha256 ${sha.slice(0, 12)}… where Qdrant said ${want?.slice(0, 12) ?? '(none)'}…`, opts);
    }
  }
  return Readable.from(verified(), { objectMode: false });
}

/** The file name holdfast gives each upload: Qdrant keeps the file under it (short, so any collection name fits). */
export const UPLOAD_PREFIX = 'holdfast-upload-';

/**
 * Uploads a snapshot with priority=snapshot (the snapshot's data wins over
 * whatever the node holds for the collection). The multipart body is written
 * by hand around the artifact stream (memory stays flat), and sent through
 * boundedUpload: an early answer (Qdrant checks the key and the name before
 * it reads the body), a node that stops reading, a cut connection or no
 * answer all fail within the stall bound, with Qdrant's text, and destroy the
 * artifact stream. Qdrant keeps the uploaded file in the collection's
 * snapshot directory under the multipart file name: `file` names it, and
 * the caller removes it with removeUploaded (after success and failure).
 */
export async function uploadSnapshot(node: QdrantNode, collection: string, artifact: Readable, checksum: string | undefined, signal: AbortSignal, onBytes: (n: number) => void = () => undefined, file = uploadName()): Promise<void> {
  const boundary = `holdfast-${randomBytes(12).toString('hex')}`;
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${file}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    for await (const chunk of artifact) yield chunk as Buffer;
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  const query = new URLSearchParams({ priority: 'snapshot', wait: 'true', ...(checksum ? { checksum } : {}) });
  const url = new URL(`${node.url}/collections/${enc(collection)}/snapshots/upload?${query}`);
  const source = Readable.from(body());
  // The artifact is freed whatever ends the upload.
  source.once('close', () => artifact.destroy());
  let answer;
  try {
    answer = await boundedUpload({ url, headers: { ...node.headers(), 'content-type': `multipart/form-data; boundary=${boundary}` }, body: source, stallMs: stallMs(), answerMs: answerMs(), signal, onBytes: (n) => onBytes(n) });
  } catch (cause) {
    artifact.destroy();
    if (cause instanceof UploadStallError) {
      throw notKept(!cause.bodyComplete, new HoldfastError('tool', `Qdrant at ${node.location}: the upload of the snapshot of ${collection} failed: ${cause.message}`, { service: node.service, driver: 'qdrant', hint: 'check the node (its disk, its log) and the network; HOLDFAST_STALL_SECONDS sets how long a step may make no progress, HOLDFAST_ANSWER_SECONDS how long the node may work before it answers', cause }));
    }
    throw qdrantError(node, `upload the snapshot of ${collection}`, cause);
  }
  if (answer.status < 200 || answer.status >= 300) {
    artifact.destroy();
    // Qdrant saves the file only once it has read the whole body (snapshot_api.rs): an early answer leaves none.
    throw notKept(answer.early, qdrantError(node, `restore ${collection} from the uploaded snapshot`, httpFailure(answer.status, answer.text)));
  }
}

/** Marks an upload failure after which the node holds no file of it. */
function notKept<E extends Error>(yes: boolean, e: E): E {
  return yes ? Object.assign(e, { nothingKept: true }) : e;
}

export function uploadName(): string {
  return `${UPLOAD_PREFIX}${randomBytes(8).toString('hex')}.snapshot`;
}

/**
 * Deletes the file an upload left in the collection's snapshot directory.
 * Qdrant lists and deletes it only while the collection exists; a failed
 * upload into a new name leaves the file with no collection, so an empty
 * placeholder collection of that name is created for the delete, then
 * dropped (its snapshot directory is the same one). Returns what was done.
 */
export async function removeUploaded(node: QdrantNode, collection: string, file: string): Promise<'deleted' | 'absent'> {
  const exists = (await q(node, `check whether ${collection} exists`, () => node.client.collectionExists(collection))).exists;
  if (!exists) await q(node, `create a placeholder ${collection} to reach its snapshot files`, () => node.client.createCollection(collection, { vectors: { size: 1, distance: 'Dot' } }));
  try {
    const listed = await q(node, `list the snapshots of ${collection}`, () => node.client.listSnapshots(collection));
    if (!listed.some((s) => s.name === file)) return 'absent';
    await q(node, `delete the uploaded snapshot ${file} of ${collection}`, () => node.client.deleteSnapshot(collection, file));
    return 'deleted';
  } finally {
    if (!exists) await q(node, `drop the placeholder ${collection}`, () => node.client.deleteCollection(collection));
  }
}
