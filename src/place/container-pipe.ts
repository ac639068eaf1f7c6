import { constants, type Stats } from 'node:fs';
import { lstat, open, readFile, type FileHandle } from 'node:fs/promises';
import type { ArtifactSink } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import type { ToolExit } from '../core/process.js';
import type { ArtifactRecord } from '../repository/manifest.js';
import type { ContainerPlace } from './container-place.js';
import { pipePrefix, STOP_WITH_STDIN } from './container-pipe-sweep.js';
import type { PlaceRunOptions, StagedArtifact } from './place.js';

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
 * still be that pipe. The pipe is made and removed in the container (by the
 * same exec that runs the tool, RUN_INTO_PIPE below), never through the host
 * path. Where any of this does not hold (another machine, not root, no `stat`
 * or `mkfifo` in the image) the exec stream is used. HOLDFAST_EXEC_STREAM=1
 * forces the exec stream.
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
interface ContainerPipe {
  dir: string;
  inode: string;
}

// A pipe directory as the container names it: /tmp/holdfast-io.<host tag>.<pid>.XXXXXX.
const PIPE_DIR = /^(\/tmp\/holdfast-io\.[A-Za-z0-9.]+) (\d+)$/;

function replaced(place: ContainerPlace, by: string): HoldfastError {
  return new HoldfastError('integrity', `the pipe holdfast made in container ${place.containerName} was replaced (${by}): refused before reading it`, {
    service: place.service,
    hint: 'something in the container is tampering with its /tmp: check it; HOLDFAST_EXEC_STREAM=1 reads through docker exec instead',
  });
}

// Fixed text, run through the place (its credential wrapper only execs it): the whole life of a pipe in ONE exec
// (an exec costs 50-100 ms, and making and removing the pipe took two more per artifact). It makes a private
// directory with a named pipe, says where it is (and the pipe's inode) on stdout, and waits on stdin: `run` starts
// the tool with its stdout into the pipe, anything else (or EOF) starts nothing. `run WORD...` appends the words to
// the tool's argv (split on spaces, never globbed or evaluated; holdfast sends plain words only): the exec can be made
// before an argument is known (pg_dump's --snapshot), and its 50-100 ms overlap other work. When the tool ends its
// status is said, and the directory is removed once holdfast has checked the pipe (a line on stdin) or went away
// (EOF: also after a kill -9 of holdfast, nothing is left in the container's /tmp). The exec exits with the tool's
// status. While the tool runs, a watcher on stdin stops it when stdin ends (holdfast died or aborted: as
// WATCHED_WRITE in container-pipe-sweep.ts, whose notes say why the tool is reaped here); the tool's environment
// names the pipe (HOLDFAST_PIPE_OUT), as the sweep of dead runs looks for. $1 is pipePrefix(): the directory
// records its owner. Exported for an engine's wrapper that sets "$@" itself (mysql-container.ts).
export const RUN_INTO_PIPE = [
  'd=$(mktemp -d "$1"XXXXXX) && mkfifo -m 600 "$d/pipe" && i=$(stat -c %i "$d/pipe") || { [ -n "$d" ] && rm -rf "$d"; exit 125; }',
  'shift',
  'printf "%s %s\\n" "$d" "$i"',
  'IFS= read -r go || go=',
  'case "$go" in run) ;; "run "*) set -f; set -- "$@" ${go#run }; set +f ;; *) rm -rf "$d"; exit 125 ;; esac',
  // A background list's stdin is /dev/null in a non-interactive sh: the watcher reads a copy (fd 3).
  'exec 3<&0 </dev/null',
  'HOLDFAST_PIPE_OUT="$d/pipe" "$@" > "$d/pipe" 3<&- &',
  'p=$!',
  STOP_WITH_STDIN,
  'w=$!',
  'wait "$p"; s=$?',
  'kill "$w" 2>/dev/null; wait "$w" 2>/dev/null',
  // holdfast may be gone: a failed write must not end the shell before it removed the directory.
  "trap '' PIPE",
  'printf "ended %s\\n" "$s"',
  'IFS= read -r _ <&3 || :',
  'rm -rf "$d"',
  'exit "$s"',
].join('\n');

/** The lines of a stream, one at a time; undefined once it ended (or `ended` settled). */
function lineReader(stream: NodeJS.ReadableStream, ended: Promise<unknown>) {
  const lines: string[] = [];
  let buffer = '';
  let over = false;
  let wake: (() => void) | undefined;
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buffer += d;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    wake?.();
  });
  const stop = () => {
    over = true;
    wake?.();
  };
  stream.on('end', stop);
  stream.on('close', stop);
  stream.on('error', stop);
  void ended.then(stop, stop);
  return async (): Promise<string | undefined> => {
    for (;;) {
      if (lines.length) return lines.shift();
      if (over) return undefined;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  };
}

/** An exec made and its pipe checked, the tool not started yet (stageThroughPipe). */
export type { StagedArtifact };

/** How a place runs RUN_INTO_PIPE: by default `sh -c RUN_INTO_PIPE` through its wrapper; an engine's wrapper may embed it (mysql-container.ts). */
export type PipeCommand = (argv: readonly string[], prefix: string) => { argv: string[]; env?: Record<string, string> };

const plainPipeCommand: PipeCommand = (argv, prefix) => ({ argv: ['sh', '-c', RUN_INTO_PIPE, 'holdfast-pipe', prefix, ...argv] });

/** Words that `run WORD...` carries through sh's field splitting unchanged. */
const PLAIN_WORD = /^[A-Za-z0-9=._:/,+@%-]+$/;

/**
 * Runs `argv` in the container with its stdout into a pipe read here, and
 * stores what it wrote as one artifact, in one exec (RUN_INTO_PIPE).
 * Undefined, with nothing started, when no pipe could be made or this host
 * cannot open it: the caller then uses the exec stream.
 */
export async function toArtifactThroughPipe(
  place: ContainerPlace,
  root: string,
  argv: readonly string[],
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean; command?: PipeCommand },
): Promise<ArtifactRecord | undefined> {
  const staged = await stageThroughPipe(place, root, argv, sink, artifact, options);
  return staged?.go();
}

/**
 * The first half of toArtifactThroughPipe: the exec is made, its pipe made and
 * checked, and it waits for go() (or cancel(): the caller must call one of
 * them). An exec costs 50-100 ms here: made ahead, it is off the critical path
 * (before a commit hold, or while the snapshot is exported). Undefined, with
 * nothing started, as toArtifactThroughPipe.
 */
export async function stageThroughPipe(
  place: ContainerPlace,
  root: string,
  argv: readonly string[],
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean; command?: PipeCommand },
): Promise<StagedArtifact | undefined> {
  const { command = plainPipeCommand, ...runOptions } = options;
  const cmd = command(argv, pipePrefix());
  const run = await place.run(cmd.argv, { ...runOptions, ...(cmd.env ? { env: { ...runOptions.env, ...cmd.env } } : {}), stdin: true });
  // Awaited by go() or cancel(); until then a failure must not be an unhandled rejection.
  run.done.catch(() => undefined);
  let told = false;
  const say = (line: string, end = false) => {
    if (told) return;
    told = end;
    try {
      if (end) run.stdin!.end(`${line}\n`);
      else run.stdin!.write(`${line}\n`);
    } catch {
      // The exec is gone: its end is reported by run.done.
    }
  };
  const nextLine = lineReader(run.stdout, run.done);
  const first = await nextLine();
  const m = first ? PIPE_DIR.exec(first) : null;
  if (!m) {
    // No pipe (no mktemp, mkfifo or stat in the image): nothing started.
    say('no', true);
    await run.done.catch(() => undefined);
    return undefined;
  }
  const pipe: ContainerPipe = { dir: m[1]!, inode: m[2]! };
  let probe: FileHandle | undefined;
  try {
    probe = await probePipe(place, root, pipe);
  } catch (error) {
    say('no', true);
    await run.done.catch(() => undefined);
    throw error;
  }
  if (!probe) {
    say('no', true);
    await run.done.catch(() => undefined);
    return undefined;
  }
  const opened = probe;
  let used = false;
  const cancel = async () => {
    if (used) return;
    used = true;
    say('no', true);
    await run.done.catch(() => undefined);
    await opened.close().catch(() => undefined);
  };
  const go = async (extra: readonly string[] = []): Promise<ArtifactRecord> => {
    if (used) throw new HoldfastError('internal', `the staged run of ${argv[0] ?? 'a command'} was used twice`, { service: place.service });
    used = true;
    const bad = extra.find((w) => !PLAIN_WORD.test(w));
    if (bad !== undefined) {
      say('no', true);
      await run.done.catch(() => undefined);
      await opened.close().catch(() => undefined);
      throw new HoldfastError('internal', `an argument of ${argv[0] ?? 'a command'} cannot be passed to a staged run: ${JSON.stringify(bad)}`, { service: place.service });
    }
    let file: FileHandle | undefined;
    try {
      say(['run', ...extra].join(' '));
      const toolEnded = nextLine().then((line) => {
        const status = line ? /^ended (\d+)$/.exec(line) : null;
        return status ? Number(status[1]) : undefined;
      });
      const drained = drainPipe(place, opened, toolEnded, sink, artifact, argv[0] ?? 'command');
      drained.opened.then((f) => (file = f), () => undefined);
      drained.writing.catch(() => run.abort());
      const [written, ended] = await Promise.allSettled([drained.writing, toolEnded]);
      // The tool wrote where the pipe was: it must still be ours (a swap after the probe leaves us an empty pipe).
      const after = await lstat(`${root}${pipe.dir}/pipe`).catch(() => undefined);
      say('done', true);
      const exited = await run.done.then((e) => ({ status: 'fulfilled' as const, value: e }), (reason: unknown) => ({ status: 'rejected' as const, reason }));
      try {
        if (exited.status === 'rejected') throw exited.reason;
        const exit: ToolExit = { code: exited.value.exitCode, signal: null, stderr: exited.value.stderr };
        if (exit.code !== 0) options.judge(exit.code === null ? { ...exit, stderr: `${exit.stderr}\n(the exec did not report an exit code: cut off)` } : exit);
        if (ended.status === 'fulfilled' && ended.value === undefined) throw new HoldfastError('tool', `${argv[0] ?? 'the command'} in container ${place.containerName}: the exec ended before the tool did`, { service: place.service });
        if (written.status === 'rejected') throw written.reason;
        if (!after?.isFIFO() || String(after.ino) !== pipe.inode) throw replaced(place, after ? 'after it was opened' : 'removed');
        if (written.value.rawBytes === 0 && !options.allowEmpty) throw new HoldfastError('tool', `${argv[0] ?? 'the command'} exited 0 but wrote nothing`);
        return written.value;
      } catch (error) {
        await sink.discard(artifact.name).catch(() => undefined);
        throw error;
      }
    } finally {
      say('done', true);
      await (file as FileHandle | undefined)?.close().catch(() => undefined);
      await opened.close().catch(() => undefined);
    }
  };
  return { dir: pipe.dir, go, cancel };
}

/**
 * The one walk through the container's root, before the tool starts: non-blocking (a FIFO's read end opens with no
 * writer yet), the last component not followed, and the inode checked. Every later open goes through /proc/self/fd,
 * not the path. A pipe this host cannot open (another mount, a permission) is not an attack: undefined, and the caller
 * uses the exec stream.
 */
async function probePipe(place: ContainerPlace, root: string, pipe: ContainerPipe): Promise<FileHandle | undefined> {
  let probe: FileHandle;
  try {
    probe = await open(`${root}${pipe.dir}/pipe`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw replaced(place, 'a symbolic link');
    return undefined;
  }
  const stat: Stats = await probe.stat().catch(async (error: unknown) => {
    await probe.close().catch(() => undefined);
    throw error;
  });
  if (!stat.isFIFO() || String(stat.ino) !== pipe.inode) {
    await probe.close().catch(() => undefined);
    throw replaced(place, stat.isFIFO() ? 'another pipe' : 'not a pipe');
  }
  return probe;
}

/**
 * Stores what arrives in the probed pipe as one artifact. The blocking read end opens once a writer has the pipe
 * open. A tool that ends before that (or never opened the pipe) must not leave it waiting: when the tool ends, a write
 * end of the same pipe is opened through our own descriptor and held until the read end is open. What the tool wrote
 * stays in the pipe meanwhile (the probe keeps it open).
 */
function drainPipe(place: ContainerPlace, probe: FileHandle, toolEnded: Promise<unknown>, sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, tool: string) {
  const self = `/proc/self/fd/${probe.fd}`;
  const opening = open(self, constants.O_RDONLY);
  void toolEnded.finally(async () => {
    const writer = await open(self, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    await opening.catch(() => undefined);
    await writer?.close().catch(() => undefined);
  });
  const meta = { kind: artifact.kind, ...(artifact.label !== undefined ? { label: artifact.label } : {}) };
  // `cat` reads the pipe straight into the repository's compressor: a read loop in Node through the thread
  // pool was slower than dockerd's copy (500 MB: 3.7 s against 2.3 s).
  const writing = opening.then((file) =>
    sink.writeCommand(artifact.name, { command: 'cat', args: [], stdinFd: file.fd }, meta).then(({ record, exit }) => {
      if (exit.code !== 0) throw new HoldfastError('tool', `reading ${tool}'s output from container ${place.containerName} failed: ${exit.stderr.trim()}`, { service: place.service });
      return record;
    }),
  );
  return { opened: opening, writing };
}
