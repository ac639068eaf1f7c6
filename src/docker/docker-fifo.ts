import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { assertToolSucceeded, runTool, type ToolExit } from '../core/process.js';
import { FIFO_DIR_IN_HELPER, pidAlive, type IdleHelper } from './docker-helper.js';

/**
 * A side channel for bulk data between a helper container and holdfast: a
 * private host directory of named pipes, bind-mounted into the helper.
 * Measured here: `docker exec tar | cat` moves ~115 MiB/s through dockerd's
 * stdio copy; tar into a FIFO read on the host goes as fast as tar on the
 * host. It needs holdfast and the daemon on one machine; `verify()`
 * checks that the helper really sees this directory (holdfast itself in a
 * container sees another /tmp), and callers fall back to the exec stream.
 */
export { FIFO_DIR_IN_HELPER };

export class FifoDir {
  /** `local`: the writer is a process on this machine (no helper), which sees the pipes at their host paths. */
  private constructor(readonly dir: string, readonly local = false) {}

  static async create(): Promise<FifoDir> {
    const base = process.env.HOLDFAST_TMPDIR ?? tmpdir();
    await removeStale(base);
    return new FifoDir(await mkdtemp(join(base, `holdfast-io-${process.pid}-`)));
  }

  /** The same directory, for a writer that runs on this machine rather than in a helper. */
  forLocalWriter(): FifoDir {
    return new FifoDir(this.dir, true);
  }

  /** The bind mount that gives a helper this directory. */
  get mount() {
    return { type: 'bind' as const, source: this.dir, target: FIFO_DIR_IN_HELPER, readOnly: false };
  }

  /** Does the helper see this very directory? A random token written here must read back there. */
  async verify(helper: IdleHelper): Promise<boolean> {
    const token = randomBytes(16).toString('hex');
    await writeFile(join(this.dir, 'token'), token, { mode: 0o600 });
    const run = await helper.exec(['cat', `${FIFO_DIR_IN_HELPER}/token`]);
    let out = '';
    run.stdout.setEncoding('utf8');
    run.stdout.on('data', (d: string) => (out += d));
    const exit = await run.done.catch(() => undefined);
    return exit?.exitCode === 0 && out.trim() === token;
  }

  /** Makes a named pipe; returns its host path and its path for the writer (the helper's, or the same). */
  async fifo(name: string): Promise<{ host: string; helper: string }> {
    const host = join(this.dir, name);
    // Node has no mkfifo(3): the coreutils tool, with an argument array.
    assertToolSucceeded('mkfifo', await runTool('mkfifo', ['-m', '0600', host], { stdout: 'ignore' }).done);
    return { host, helper: this.local ? host : `${FIFO_DIR_IN_HELPER}/${name}` };
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Directories of runs that died (kill -9) are recognisable by name and pid: removed by the next run. */
async function removeStale(base: string): Promise<void> {
  for (const entry of await readdir(base).catch(() => [] as string[])) {
    const m = /^holdfast-io-(\d+)-/.exec(entry);
    if (m && !pidAlive(Number(m[1]))) await rm(join(base, entry), { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Reads a FIFO that a helper writes, through `dd bs=1M` as a child process:
 * Node then reads a socket pair with large buffers rather than the 64 KiB
 * pipe itself (measured here: 2.4 s against 4.5 s for 200 MiB reading the
 * FIFO as a non-blocking socket, and on par with tar run on the host). dd
 * blocks in open() until the writer opens its end, so an early open never
 * reads as end of file; if the writer dies before opening, writerDone()
 * opens and closes a write end so that dd sees end of file.
 */
export function readFifo(path: string, signal?: AbortSignal): { stream: Readable; done: Promise<ToolExit>; writerDone(): void } {
  const run = runTool('dd', [`if=${path}`, 'bs=1M', 'status=none'], signal ? { signal } : {});
  return { stream: run.stdout!, done: run.done, writerDone: () => unblockFifoReader(path) };
}

/** Lets a reader blocked in open() (its writer never came) see end of file: open and close a write end. */
export function unblockFifoReader(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: no reader waits (dd has its data already), or it is gone.
  }
}

/** Unblocks a writer stuck opening a FIFO whose reader never came (the reader failed): open and close the read end. */
export function unblockWriter(path: string): void {
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch {
    // Gone already: nothing waits on it.
  }
}
