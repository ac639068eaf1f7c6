import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HoldfastError } from '../core/errors.js';
import { assertToolSucceeded } from '../core/process.js';
import { ByteMeter } from './byte-meter.js';
import { startDecompressor } from './compression.js';
import type { ArtifactRecord } from './manifest.js';

/** Where an artifact is, for error messages: `20261123T...-ab12/db/app.dump.zst`. */
export type ArtifactWhere = string;

function mismatch(where: ArtifactWhere, what: string): HoldfastError {
  return new HoldfastError('integrity', `artifact ${where} is corrupt: ${what}`, {
    hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check --read-data`',
  });
}

/** A transform that checks the sha256 and size of what passes through, failing at the end on a mismatch. */
export function checksumGuard(record: ArtifactRecord, where: ArtifactWhere): Transform {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      if (bytes !== record.storedBytes) {
        callback(mismatch(where, `${bytes} bytes stored, the manifest says ${record.storedBytes}`));
        return;
      }
      const digest = hash.digest('hex');
      callback(digest === record.sha256 ? null : mismatch(where, `sha256 ${digest} differs from the manifest's ${record.sha256}`));
    },
  });
}

/**
 * Decrypts a file of an encrypted repository (authenticating every segment)
 * into the stored bytes; absent for a plain one.
 */
export type Unseal = () => Transform;

/**
 * Stored bytes with a missing file named as such: pipeline() destroys its
 * output with the first error it sees, so the mapping happens at the source.
 */
function named(stored: Readable, where: ArtifactWhere): Readable {
  async function* read(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stored) yield chunk as Buffer;
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? mismatch(where, 'the file is missing') : error;
    }
  }
  return Readable.from(read(), { objectMode: false });
}

/** The file's bytes, then the decryption when there is one. */
function storedBytes(path: string, where: ArtifactWhere, unseal?: Unseal): Readable[] {
  const file = named(createReadStream(path, { highWaterMark: 1 << 20 }), where);
  return unseal ? [file, unseal()] : [file];
}

async function verifyStored(stored: Readable[], record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void> {
  try {
    await pipeline([...stored, checksumGuard(record, where), new ByteMeter({ onBytes: onStoredBytes }), new PassThrough().resume()], { signal });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw mismatch(where, 'the file is missing');
    throw error;
  }
}

/** Recomputes the sha256 and size of a stored artifact (its tags too when encrypted); throws an 'integrity' error naming it. */
export function verifyArtifactFile(path: string, record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, unseal?: Unseal, onStoredBytes?: (n: number) => void): Promise<void> {
  return verifyStored(storedBytes(path, where, unseal), record, where, signal, onStoredBytes);
}

/** The same check over stored bytes from anywhere (an object store's GET). */
export function verifyArtifactStream(stored: Readable, record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void> {
  return verifyStored([named(stored, where)], record, where, signal, onStoredBytes);
}

function guardStored(stored: Readable[], record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal): Readable {
  const out = new PassThrough();
  pipeline([...stored, checksumGuard(record, where), out], { signal }).catch(() => undefined);
  return out;
}

/** The stored bytes (compressed, decrypted), checked against the manifest at the end. */
export function openStoredFile(path: string, record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, unseal?: Unseal): Readable {
  return guardStored(storedBytes(path, where, unseal), record, where, signal);
}

/** Passes stored bytes from anywhere through, erroring at the end when they do not match the manifest. */
export function guardStoredStream(stored: Readable, record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal): Readable {
  return guardStored([named(stored, where)], record, where, signal);
}

/**
 * Opens an artifact for reading, decompressed. The returned stream errors if
 * the stored bytes do not match the manifest or the decompressor fails, so a
 * consumer never mistakes a damaged artifact for a complete one. Callers that
 * must not touch a target with bad data verify first (verifyArtifactFile).
 */
export function openArtifactFile(path: string, record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, unseal?: Unseal, onRawBytes?: (n: number) => void): Readable {
  return openArtifact(storedBytes(path, where, unseal), record, where, signal, onRawBytes);
}

/** The same over stored bytes from anywhere (an object store's GET). */
export function openArtifactStream(stored: Readable, record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, onRawBytes?: (n: number) => void): Readable {
  return openArtifact([named(stored, where)], record, where, signal, onRawBytes);
}

function openArtifact(stored: Readable[], record: ArtifactRecord, where: ArtifactWhere, signal?: AbortSignal, onRawBytes?: (n: number) => void): Readable {
  const out = new PassThrough();
  const fail = (error: unknown) => {
    if (!out.destroyed) out.destroy(error as Error);
  };
  stored[0]!.on('error', fail);
  if (record.compression === 'none') {
    pipeline([...stored, checksumGuard(record, where), new ByteMeter({ onBytes: onRawBytes }), out], { signal }).catch(fail);
    return out;
  }
  const decompressor = startDecompressor(signal);
  let rawBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      rawBytes += chunk.length;
      onRawBytes?.(chunk.length);
      callback(null, chunk);
    },
  });
  const feeding = pipeline([...stored, checksumGuard(record, where), decompressor.stdin!], { signal });
  // The output ends only after the decompressor's exit status and the checksum are known.
  decompressor.stdout!.pipe(counter).pipe(out, { end: false });
  Promise.all([feeding, decompressor.done, new Promise((resolve) => counter.once('end', resolve))])
    .then(([, exit]) => {
      try {
        assertToolSucceeded('zstd', exit);
      } catch (error) {
        throw mismatch(where, (error as Error).message);
      }
      if (rawBytes !== record.rawBytes) throw mismatch(where, `${rawBytes} bytes decompressed, the manifest says ${record.rawBytes}`);
      out.end();
    })
    .catch((error: unknown) => {
      decompressor.child.kill('SIGTERM');
      fail(error);
    });
  return out;
}
