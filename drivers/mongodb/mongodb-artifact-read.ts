import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/**
 * Reads an artifact stream to its end, handing each chunk to `each`. When
 * `each` fails, the rest is still read and dropped, and the failure thrown
 * at the end: a stream left half-read keeps its decompressor blocked on a
 * full pipe, and the holdfast process from exiting.
 */
export async function readToEnd(stream: Readable, each: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  let failure: { error: unknown } | undefined;
  for await (const chunk of stream) {
    if (failure) continue;
    try {
      await each(chunk as Buffer);
    } catch (error) {
      failure = { error };
    }
  }
  if (failure) throw failure.error;
}

/** Writes with backpressure; false once the other end is gone (a tool that exited). */
export async function writeChunk(to: Writable, chunk: Buffer): Promise<boolean> {
  if (to.destroyed || to.writableEnded) return false;
  if (to.write(chunk)) return true;
  const gone = new Promise<'gone'>((resolve) => {
    to.once('close', () => resolve('gone'));
    to.once('error', () => resolve('gone'));
  });
  return (await Promise.race([once(to, 'drain').then(() => 'drain' as const), gone])) === 'drain';
}
