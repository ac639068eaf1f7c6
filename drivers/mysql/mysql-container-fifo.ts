import type { ArtifactSink } from '../../src/core/driver.js';
import type { ToolExit } from '../../src/core/process.js';
import { containerRootOnThisHost, makePipe, readPipeIntoArtifact, removePipe, type ContainerPipe } from '../../src/place/container-pipe.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import type { MyContainer } from './mysql-container.js';

/**
 * A dump's bytes out of the container without dockerd's stdio copy
 * (src/place/container-pipe.ts: a named pipe in the container's /tmp, opened
 * once through /proc/<pid>/root without following a symlink and checked to be
 * the pipe made). Measured here (bench/mysql-container-bench.ts, 114 MiB of
 * dump): `docker exec mariadb-dump` took 2.4 times as long as the same tool
 * on the host. The pipe is made before a dump starts, so that its exec is not
 * inside the commit hold. Restores go in through the exec's stdin: writing
 * through the container's root is never done. HOLDFAST_EXEC_STREAM=1 (or
 * HOLDFAST_MYSQL_EXEC_STREAM=1) forces the exec stream.
 */
export type Pipe = ContainerPipe;

// The wrapper (mysql-container.ts) runs a plain command in this mode.
const PLAIN = { HOLDFAST_MY_MODE: 'plain' };

async function hostRoot(c: MyContainer): Promise<string | undefined> {
  if (c.fifoRoot !== undefined) return c.fifoRoot || undefined;
  c.fifoRoot = process.env.HOLDFAST_MYSQL_EXEC_STREAM === '1' ? '' : ((await containerRootOnThisHost(c.place).catch(() => undefined)) ?? '');
  return c.fifoRoot || undefined;
}

/** Pipes a dump is writing into right now: never handed to a second one. */
const inUse = new WeakSet<Pipe>();

/**
 * The pipe for a dump, when this host can read the container's files. One
 * pipe serves the dumps of a target one after another (the accounts, then
 * each database): each run opens it afresh through the container's root
 * with the same checks, and a pipe nobody holds open keeps no bytes, so
 * nothing of one dump reaches the next. Reusing it spares two docker execs
 * per dump (mkfifo, rm: about 0.25 s here). Kept in `c.pipes` until the
 * target is released; removed at once after a failed run.
 */
export async function preparePipe(c: MyContainer): Promise<Pipe | undefined> {
  if (!(await hostRoot(c))) return undefined;
  const idle = [...c.pipes].find((p) => !inUse.has(p));
  if (idle) return idle;
  const pipe = await makePipe(c.place, PLAIN);
  if (pipe) c.pipes.add(pipe);
  return pipe;
}

/** Runs the dump in the container into the pipe and stores what arrives as one artifact; undefined when this host cannot open the pipe, or another dump holds it (nothing started). */
export async function toArtifactThroughFifo(c: MyContainer, pipe: Pipe, argv: readonly string[], sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, judge: (exit: ToolExit) => void): Promise<ArtifactRecord | undefined> {
  if (inUse.has(pipe) || !c.pipes.has(pipe)) return undefined;
  inUse.add(pipe);
  let ok = false;
  try {
    const root = (await hostRoot(c))!;
    const record = await readPipeIntoArtifact(c.place, root, pipe, () => c.place.run(argv, { stdin: true, env: { HOLDFAST_MY_OUT: `${pipe.dir}/pipe` } }), sink, artifact, { tool: argv[0] ?? 'mariadb-dump', judge });
    ok = record !== undefined;
    return record;
  } finally {
    inUse.delete(pipe);
    if (!ok) {
      c.pipes.delete(pipe);
      await removePipe(c.place, pipe, PLAIN);
    }
  }
}

/** Removes the pipes made for this container (when the target is released, or before a load). */
export async function releasePipes(c: MyContainer): Promise<void> {
  for (const pipe of [...c.pipes].filter((p) => !inUse.has(p))) {
    c.pipes.delete(pipe);
    await removePipe(c.place, pipe, PLAIN);
  }
}
