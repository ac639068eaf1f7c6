import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HoldfastError } from '../../src/core/errors.js';
import { qdrantError, type QdrantNode } from './qdrant-connection.js';

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
  const url = `${node.location}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: node.headers(), signal });
  } catch (cause) {
    throw qdrantError(node, `download ${what}`, cause);
  }
  if (!res.ok || !res.body) {
    throw qdrantError(node, `download ${what}`, Object.assign(new Error(`HTTP ${res.status} ${await res.text().catch(() => '')}`.trim()), { status: res.status }));
  }
  const body = res.body as unknown as AsyncIterable<Uint8Array>;
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

/**
 * Uploads a snapshot with priority=snapshot (the snapshot's data wins over
 * whatever the node holds for the collection). The multipart body is written
 * by hand around the artifact stream, because the FormData route of fetch
 * needs a Blob, that is the whole snapshot in memory; this way memory stays
 * flat (chunked transfer, no Content-Length).
 */
export async function uploadSnapshot(node: QdrantNode, collection: string, artifact: Readable, checksum: string | undefined, signal: AbortSignal, onBytes: (n: number) => void = () => undefined): Promise<void> {
  const boundary = `holdfast-${randomBytes(12).toString('hex')}`;
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${collection.replace(/[^A-Za-z0-9_.-]/g, '_')}.snapshot"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    for await (const chunk of artifact) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  const query = new URLSearchParams({ priority: 'snapshot', wait: 'true', ...(checksum ? { checksum } : {}) });
  const url = `${node.location}/collections/${enc(collection)}/snapshots/upload?${query}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { ...node.headers(), 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: Readable.toWeb(Readable.from(body())) as unknown as BodyInit,
      duplex: 'half',
      signal,
    } as RequestInit);
  } catch (cause) {
    artifact.destroy();
    throw qdrantError(node, `upload the snapshot of ${collection}`, cause);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw qdrantError(node, `restore ${collection} from the uploaded snapshot`, Object.assign(new Error(`HTTP ${res.status} ${text.slice(0, 500)}`.trim()), { status: res.status }));
  }
  await res.arrayBuffer().catch(() => undefined);
}
