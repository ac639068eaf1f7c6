import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertToolSucceeded } from '../core/process.js';
import { ByteMeter } from './byte-meter.js';
import { startCompressor, type CompressionSettings } from './compression.js';

export interface WrittenArtifact {
  sha256: string;
  storedBytes: number;
  rawBytes: number;
}

/**
 * Streams `source` through the compressor (and the cipher, when `seal` is
 * given) into `path`, hashing the compressed bytes on the way, then fsyncs
 * the file. Memory stays flat: nothing is
 * buffered beyond the streams' high-water marks.
 */
export async function writeArtifactFile(
  path: string,
  source: Readable,
  settings: CompressionSettings,
  options: { signal?: AbortSignal; onRawBytes?: (n: number) => void; onStoredBytes?: (n: number) => void; seal?: () => Transform } = {},
): Promise<WrittenArtifact> {
  const compressor = startCompressor(settings, options.signal);
  const counter = new ByteMeter({ onBytes: options.onRawBytes });
  const hasher = new ByteMeter({ sha256: true, onBytes: options.onStoredBytes });
  // Private whatever the umask: a repository's files are 0600 (see dir-fs.ts).
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const feeding = pipeline(source, counter, compressor.stdin!, { signal: options.signal });
  // Encrypted repositories seal after hashing: the checksum is of the compressed bytes.
  const storing = pipeline([compressor.stdout!, hasher, ...(options.seal ? [options.seal()] : []), file], { signal: options.signal });
  try {
    await Promise.all([feeding, storing]);
    assertToolSucceeded('zstd', await compressor.done);
  } catch (error) {
    compressor.child.kill('SIGTERM');
    source.destroy();
    await Promise.allSettled([feeding, storing, compressor.done]);
    throw error;
  }
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { sha256: hasher.sha256(), storedBytes: hasher.bytes, rawBytes: counter.bytes };
}
