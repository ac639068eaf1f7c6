import { constants, type Stats } from 'node:fs';
import { lstat, open, readFile, type FileHandle } from 'node:fs/promises';
import type { ArtifactSink } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import type { ToolExit } from '../core/process.js';
import type { StreamRun } from '../docker/docker-api.js';
import type { ArtifactRecord } from '../repository/manifest.js';
import type { ContainerPlace } from './container-place.js';
import { pipePrefix, WATCHED_WRITE } from './container-pipe-sweep.js';
import { runText, type PlaceRunOptions } from './place.js';

/**
 * A tool's output out of its container without dockerd's stdio copy.
 * Measured (bench/postgres-place-bench.ts, 492 MiB database): `docker exec
 * pg_dump` took 1.75 times as long as pg_dump on the host: every byte goes
 * container -> shim -> dockerd -> client, and on 2 cores those copies compete
 * with the dump. So where holdfast runs as root on the daemon's machine, the
 * tool writes into a named pipe in the container's /tmp, which holdfast reads
 * through /proc/<pid>/root.
 *
 * That path is walked by this process: a symlink planted in the container
 * would be followed on the HOST. So the path is walked once, to open the
 * pipe's read end without blocking and with O_NOFOLLOW, and the open file
 * must be a FIFO with the inode the container reported for the pipe it made;
 * anything else is refused before one byte is read. Every later open goes
 * through that descriptor (/proc/self/fd), and nothing is ever created or
 * written through the container's root. After the tool ends, the path must
 * still be that pipe. The pipe is made and removed by execs in the container, never
 * through the host path. Where any of this does not hold (another machine,
 * not root, no `stat` or `mkfifo` in the image) the exec stream is used.
 * HOLDFAST_EXEC_STREAM=1 forces the exec stream.
 */
export async function containerRootOnThisHost(place: ContainerPlace): Promise<string | undefined> {
  if (process.env.HOLDFAST_EXEC_STREAM === '1' || process.getuid?.() !== 0) return undefined;
  const details = await place.api.inspectContainer(place.id);
  if (!details?.pid) return undefined;
  // The pid is the daemon machine's: it is ours only if that process sits in this container's cgroup here.
  const cgroup = await readFile(`/proc/${details.pid}/cgroup`, 'latin1').catch(() => '');
  return cgroup.includes(place.id) ? `/proc/${details.pid}/root` : undefined;
}

/** A private directory with one named pipe in the container's /tmp, and the pipe's inode as the container saw it. */
export interface ContainerPipe {
  dir: string;
  inode: string;
}

// Fixed text; run through the place (its credential wrapper only execs it).
// The directory's name records its owner ($1: pipePrefix(), container-pipe-sweep.ts), for the sweep after a kill -9.
const MAKE = 'd=$(mktemp -d "$1"XXXXXX) && mkfifo -m 600 "$d/pipe" && printf "%s %s" "$d" "$(stat -c %i "$d/pipe")"';
// The tool stops when holdfast's exec goes (a kill -9): the exec's stdin ends (container-pipe-sweep.ts).
const WRITE = WATCHED_WRITE;

function replaced(place: ContainerPlace, by: string): HoldfastError {
  return new HoldfastError('integrity', `the pipe holdfast made in container ${place.containerName} was replaced (${by}): refused before reading it`, {
    service: place.service,
    hint: 'something in the container is tampering with its /tmp: check it; HOLDFAST_EXEC_STREAM=1 reads through docker exec instead',
  });
}

/** Makes the pipe by an exec in the container (`env`: what the place's wrapper needs to run a plain command). */
export async function makePipe(place: ContainerPlace, env?: Record<string, string>): Promise<ContainerPipe | undefined> {
  const made = await runText(place, ['sh', '-c', MAKE, 'holdfast-pipe', pipePrefix()], env ? { env } : {}).catch(() => undefined);
  const m = made?.exitCode === 0 ? /^(\/tmp\/holdfast-io\.[A-Za-z0-9.]+) (\d+)$/.exec(made.stdout.trim()) : null;
  return m ? { dir: m[1]!, inode: m[2]! } : undefined;
}

/** Removed by an exec in the container: never through the host path, which a planted symlink could redirect. */
export async function removePipe(place: ContainerPlace, pipe: ContainerPipe, env?: Record<string, string>): Promise<void> {
  await runText(place, ['rm', '-rf', '--', pipe.dir], env ? { env } : {}).catch(() => undefined);
}

/**
 * Runs `argv` in the container with its stdout into a pipe read here, and
 * stores what it wrote as one artifact. Undefined when no pipe could be made:
 * the caller then uses the exec stream.
 */
export async function toArtifactThroughPipe(
  place: ContainerPlace,
  root: string,
  argv: readonly string[],
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean },
): Promise<ArtifactRecord | undefined> {
  const pipe = await makePipe(place);
  if (!pipe) return undefined;
  try {
    // stdin attached and kept open, never written: its end is the watcher's sign that holdfast went (WRITE).
    const start = () => place.run(['sh', '-c', WRITE, 'holdfast-pipe', ...argv], { ...options, stdin: true, env: { ...options.env, HOLDFAST_PIPE_OUT: `${pipe.dir}/pipe` } });
    return await readPipeIntoArtifact(place, root, pipe, start, sink, artifact, { tool: argv[0] ?? 'command', judge: options.judge, ...(options.allowEmpty ? { allowEmpty: true } : {}) });
  } finally {
    await removePipe(place, pipe);
  }
}

/**
 * Starts a command that writes into `pipe` (made by makePipe) and stores what
 * arrives as one artifact, counted only if the command exited 0 and wrote
 * something; undefined, before anything starts, when this host cannot open
 * the pipe (the caller then uses the exec stream). The caller removes the pipe.
 */
export async function readPipeIntoArtifact(
  place: ContainerPlace,
  root: string,
  pipe: ContainerPipe,
  start: () => Promise<StreamRun>,
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  options: { tool: string; judge: (exit: ToolExit) => void; allowEmpty?: boolean },
): Promise<ArtifactRecord | undefined> {
  const hostPath = `${root}${pipe.dir}/pipe`;
  let probe: FileHandle | undefined;
  let file: FileHandle | undefined;
  try {
    // The one walk through the container's root, before the tool starts: non-blocking (a FIFO's read end opens
    // with no writer yet), the last component not followed, and the inode checked. Every later open goes through
    // /proc/self/fd, not the path. A pipe this host cannot open (another mount, a permission) is not an attack:
    // undefined, and the caller uses the exec stream.
    try {
      probe = await open(hostPath, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw replaced(place, 'a symbolic link');
      return undefined;
    }
    const stat: Stats = await probe.stat();
    if (!stat.isFIFO() || String(stat.ino) !== pipe.inode) throw replaced(place, stat.isFIFO() ? 'another pipe' : 'not a pipe');
    const run = await start();
    run.stdout.resume();
    const self = `/proc/self/fd/${probe.fd}`;
    // The blocking read end, for `cat`: it opens once a writer has the pipe open. A tool that ends before that
    // (or never opened the pipe) must not leave it waiting: when the tool ends, a write end of the same pipe is
    // opened through our own descriptor and held until the read end is open. What the tool wrote stays in the
    // pipe meanwhile (the probe keeps it open).
    const opening = open(self, constants.O_RDONLY);
    const ended = run.done.finally(async () => {
      const writer = await open(self, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
      await opening.catch(() => undefined);
      await writer?.close().catch(() => undefined);
    });
    file = await opening;
    const meta = { kind: artifact.kind, ...(artifact.label !== undefined ? { label: artifact.label } : {}) };
    // `cat` reads the pipe straight into the repository's compressor: a read loop in Node through the thread
    // pool was slower than dockerd's copy (500 MB: 3.7 s against 2.3 s).
    const writing = sink.writeCommand(artifact.name, { command: 'cat', args: [], stdinFd: file.fd }, meta).then(({ record, exit }) => {
      if (exit.code !== 0) throw new HoldfastError('tool', `reading ${options.tool}'s output from container ${place.containerName} failed: ${exit.stderr.trim()}`, { service: place.service });
      return record;
    });
    writing.catch(() => run.abort());
    const [written, exited] = await Promise.allSettled([writing, ended]);
    try {
      if (exited.status === 'rejected') throw exited.reason;
      const exit: ToolExit = { code: exited.value.exitCode, signal: null, stderr: exited.value.stderr };
      if (exit.code !== 0) options.judge(exit.code === null ? { ...exit, stderr: `${exit.stderr}\n(the exec did not report an exit code: cut off)` } : exit);
      if (written.status === 'rejected') throw written.reason;
      // The tool wrote where the pipe was: it must still be ours (a swap after the probe leaves us an empty pipe).
      const after = await lstat(hostPath).catch(() => undefined);
      if (!after?.isFIFO() || String(after.ino) !== pipe.inode) throw replaced(place, after ? 'after it was opened' : 'removed');
      if (written.value.rawBytes === 0 && !options.allowEmpty) throw new HoldfastError('tool', `${options.tool} exited 0 but wrote nothing`);
      return written.value;
    } catch (error) {
      await sink.discard(artifact.name).catch(() => undefined);
      throw error;
    }
  } finally {
    await file?.close().catch(() => undefined);
    await probe?.close().catch(() => undefined);
  }
}
