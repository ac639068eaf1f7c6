import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { ArtifactSink, ArtifactSource } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { unblockFifoReader, unblockWriter } from '../../src/docker/docker-fifo.js';
import { runText } from '../../src/place/place.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import type { MyContainer } from './mysql-container.js';

/**
 * A dump's bytes out of the container (and back in at restore) without dockerd's stdio copy.
 * Measured here (bench/mysql-container-bench.ts, 114 MiB of dump): `docker
 * exec mariadb-dump > /dev/null` took 2.4 times as long as the same tool on
 * the host: every byte goes container -> containerd-shim -> dockerd -> the
 * client, and on 2 cores those copies compete with the dump itself.
 *
 * So, when holdfast runs on the daemon's machine as a user who may enter it
 * (root), the tool writes into a named pipe in the container's /tmp, which
 * holdfast reads from the host through /proc/<pid>/root (any process of the
 * container, found by its cgroup), with `dd bs=1M` feeding the repository's
 * compressor directly. The pipe is made by an exec in the container and
 * checked from the host before use (one exec: the pipe belongs to the
 * user the tools run as); where any of this does not hold
 * (another machine, rootless, user namespaces) the exec stream is used, as
 * before. The directory is removed afterwards.
 */
export async function fifoRoot(c: MyContainer): Promise<string | undefined> {
  if (c.fifoRoot !== undefined) return c.fifoRoot || undefined;
  c.fifoRoot = '';
  if (process.env.HOLDFAST_MYSQL_EXEC_STREAM === '1' || process.getuid?.() !== 0) return undefined;
  const pid = containerPid(c.place.id);
  if (pid && existsSync(`/proc/${pid}/root/tmp`)) c.fifoRoot = `/proc/${pid}/root`;
  return c.fifoRoot || undefined;
}

/** A process of the container: its cgroup path names the container's id (cgroupfs and systemd drivers alike). */
function containerPid(id: string): string | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/cgroup`, 'latin1').includes(id)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * Runs the tool in the container with its stdout into a pipe read on the
 * host; undefined when the pipe cannot be made or seen (the caller then uses
 * the exec stream). The artifact counts only if the tool exited 0 and wrote
 * something, as with execToArtifact.
 */
export async function toArtifactThroughFifo(
  c: MyContainer,
  pipe: Pipe,
  argv: readonly string[],
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  judge: (exit: ToolExit) => void,
): Promise<ArtifactRecord> {
  const { dir, hostPath } = pipe;
  try {
    const run = await c.place.run(argv, { env: { HOLDFAST_MY_OUT: `${dir}/pipe` } });
    run.stdout.resume();
    // If the wrapper ends before it opens the pipe (no credentials), dd must not wait for a writer forever.
    const ended = run.done.finally(() => unblockFifoReader(hostPath));
    const meta = { kind: artifact.kind, ...(artifact.label !== undefined ? { label: artifact.label } : {}) };
    const writing = sink.writeCommand(artifact.name, { command: 'dd', args: [`if=${hostPath}`, 'bs=1M', 'status=none'] }, meta);
    writing.catch(() => run.abort());
    const [written, exited] = await Promise.allSettled([writing, ended]);
    try {
      if (exited.status === 'rejected') throw exited.reason;
      const exit: ToolExit = { code: exited.value.exitCode, signal: null, stderr: exited.value.stderr };
      if (exit.code !== 0) judge(exit.code === null ? { ...exit, stderr: `${exit.stderr}\n(the exec did not report an exit code: cut off)` } : exit);
      if (written.status === 'rejected') throw written.reason;
      if (written.value.exit.code !== 0) throw new HoldfastError('tool', `reading the dump from the container's pipe failed: ${written.value.exit.stderr.trim()}`);
      if (written.value.record.rawBytes === 0) throw new HoldfastError('tool', `${argv[0]} exited 0 but wrote nothing`);
      return written.value.record;
    } catch (error) {
      await sink.discard(artifact.name).catch(() => undefined);
      throw error;
    }
  } finally {
    await removePipe(c, pipe);
  }
}

/**
 * The other way, for a restore: the artifact decompressed by `dd` into a
 * pipe in the container that the client reads as its stdin. Resolves with
 * the client's exit; undefined when no pipe could be made.
 */
export async function loadThroughFifo(c: MyContainer, pipe: Pipe, argv: readonly string[], artifacts: ArtifactSource, name: string): Promise<ToolExit> {
  const { dir, hostPath } = pipe;
  try {
    const run = await c.place.run(argv, { env: { HOLDFAST_MY_IN: `${dir}/pipe` } });
    run.stdout.resume();
    // A client that ends before it opens the pipe must not leave dd waiting for a reader.
    const ended = run.done.finally(() => unblockWriter(hostPath));
    const [fed, exited] = await Promise.allSettled([artifacts.pipeToCommand(name, { command: 'dd', args: [`of=${hostPath}`, 'bs=1M', 'status=none'], stdout: 'ignore' }), ended]);
    if (exited.status === 'rejected') throw exited.reason;
    const exit: ToolExit = { code: exited.value.exitCode, signal: null, stderr: exited.value.stderr };
    if (exit.code === 0 && fed.status === 'rejected') throw fed.reason;
    if (exit.code === 0 && fed.status === 'fulfilled' && fed.value.code !== 0) throw new HoldfastError('tool', `feeding the dump into the container's pipe failed: ${fed.value.stderr.trim()}`);
    return exit;
  } finally {
    await removePipe(c, pipe);
  }
}

/** A named pipe in the container: its path there and on this host. */
export interface Pipe {
  root: string;
  dir: string;
  hostPath: string;
}

/**
 * A private directory with one named pipe in the container's /tmp, made by
 * the user its tools run as, when this host sees it too; made before a dump
 * starts, so that its exec is not inside the commit hold. Kept in
 * `c.pipes` until used, and removed by `releasePipes` if never used.
 */
export async function preparePipe(c: MyContainer): Promise<Pipe | undefined> {
  const root = await fifoRoot(c);
  if (!root) return undefined;
  const made = await runText(c.place, ['sh', '-c', 'd=$(mktemp -d /tmp/holdfast-io.XXXXXX) && mkfifo -m 600 "$d/pipe" && printf %s "$d"'], { env: { HOLDFAST_MY_MODE: 'plain' } }).catch(() => undefined);
  const dir = made?.exitCode === 0 ? made.stdout.trim() : '';
  if (!/^\/tmp\/holdfast-io\.[A-Za-z0-9]+$/.test(dir)) return undefined;
  const pipe = { root, dir, hostPath: `${root}${dir}/pipe` };
  c.pipes.add(pipe);
  if (existsSync(pipe.hostPath)) return pipe;
  await removePipe(c, pipe);
  return undefined;
}

/** Removes what is left of the pipes made for this container (a run prepared and never started). */
export async function releasePipes(c: MyContainer): Promise<void> {
  for (const pipe of [...c.pipes]) await removePipe(c, pipe);
}

/** Removed from here, through the same /proc root (one docker exec fewer); by an exec if that fails. */
async function removePipe(c: MyContainer, pipe: Pipe): Promise<void> {
  c.pipes.delete(pipe);
  await rm(`${pipe.root}${pipe.dir}`, { recursive: true, force: true }).catch(() => runText(c.place, ['rm', '-rf', pipe.dir], { env: { HOLDFAST_MY_MODE: 'plain' } }).catch(() => undefined));
}
