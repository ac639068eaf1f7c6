import type { ArtifactSink } from '../../src/core/driver.js';
import type { ToolExit } from '../../src/core/process.js';
import { containerRootOnThisHost, stageThroughPipe, type StagedArtifact } from '../../src/place/container-pipe.js';
import type { MyContainer } from './mysql-container.js';

/**
 * A dump's bytes out of the container without dockerd's stdio copy
 * (src/place/container-pipe.ts: a named pipe in the container's /tmp, opened
 * once through /proc/<pid>/root without following a symlink and checked to be
 * the pipe made). Measured here (bench/mysql-container-bench.ts, 114 MiB of
 * dump): `docker exec mariadb-dump` took 2.4 times as long as the same tool
 * on the host. The pipe is made, used and removed by the dump's own exec
 * (the wrapper's HOLDFAST_MY_PIPE mode, mysql-container.ts), staged before the
 * commit hold: the exec (50-100 ms) is made and its pipe checked outside the
 * hold, and inside it the dump starts on a line written to the exec's stdin.
 * Restores go in through the exec's stdin: writing through the container's
 * root is never done. HOLDFAST_EXEC_STREAM=1 (or HOLDFAST_MYSQL_EXEC_STREAM=1)
 * forces the exec stream.
 */
async function hostRoot(c: MyContainer): Promise<string | undefined> {
  if (c.fifoRoot !== undefined) return c.fifoRoot || undefined;
  c.fifoRoot = process.env.HOLDFAST_MYSQL_EXEC_STREAM === '1' ? '' : ((await containerRootOnThisHost(c.place).catch(() => undefined)) ?? '');
  return c.fifoRoot || undefined;
}

/**
 * The dump's exec made and its pipe checked, the dump not started (go() starts it, cancel() ends the exec);
 * undefined, with nothing started, when this host cannot read the container's pipe (the caller uses the exec stream).
 */
export async function stageDump(c: MyContainer, argv: readonly string[], sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, judge: (exit: ToolExit) => void): Promise<StagedArtifact | undefined> {
  const root = await hostRoot(c);
  if (!root) return undefined;
  // The wrapper resolves the credentials, then runs the pipe's script around the tool (MYSQL_PWD in its environment).
  return stageThroughPipe(c.place, root, argv, sink, artifact, { judge, command: (a, prefix) => ({ argv: [...a], env: { HOLDFAST_MY_PIPE: prefix } }) });
}
