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

/** The pipe for one dump, when this host can read the container's files; kept in `c.pipes` until used or released. */
export async function preparePipe(c: MyContainer): Promise<Pipe | undefined> {
  if (!(await hostRoot(c))) return undefined;
  const pipe = await makePipe(c.place, PLAIN);
  if (pipe) c.pipes.add(pipe);
  return pipe;
}

/** Runs the dump in the container into the pipe and stores what arrives as one artifact; undefined when this host cannot open the pipe (nothing started). */
export async function toArtifactThroughFifo(c: MyContainer, pipe: Pipe, argv: readonly string[], sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, judge: (exit: ToolExit) => void): Promise<ArtifactRecord | undefined> {
  try {
    const root = (await hostRoot(c))!;
    return await readPipeIntoArtifact(c.place, root, pipe, () => c.place.run(argv, { stdin: true, env: { HOLDFAST_MY_OUT: `${pipe.dir}/pipe` } }), sink, artifact, { tool: argv[0] ?? 'mariadb-dump', judge });
  } finally {
    c.pipes.delete(pipe);
    await removePipe(c.place, pipe, PLAIN);
  }
}

/** Removes the pipes made for this container and never used (a run prepared and not started). */
export async function releasePipes(c: MyContainer): Promise<void> {
  for (const pipe of [...c.pipes]) {
    c.pipes.delete(pipe);
    await removePipe(c.place, pipe, PLAIN);
  }
}
