import type { ArtifactSink } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import type { ToolExit } from '../core/process.js';
import type { ArtifactRecord } from '../repository/manifest.js';
import type { StreamRun } from './docker-api.js';

/**
 * Runs an engine tool inside its container (docker exec) and stores its
 * stdout as one artifact. The same rule as for host tools: the artifact
 * counts only if the tool exited 0 (the exit code comes from the exec's
 * inspect, never lost in a pipe) and wrote something; otherwise it is
 * dropped and `judge` turns the exit into the error the user reads.
 */
export async function execToArtifact(
  /** Starts the tool: api.exec(...), or a driver's wrapper around it. */
  start: () => Promise<StreamRun>,
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  /** `tool` names it in messages; `judge` throws the error for a failed exit. */
  options: { tool: string; judge: (exit: ToolExit) => void; allowEmpty?: boolean },
): Promise<ArtifactRecord> {
  const judge = options.judge;
  const run = await start();
  const writing = sink.write(artifact.name, run.stdout, { kind: artifact.kind, ...(artifact.label !== undefined ? { label: artifact.label } : {}) });
  // If the repository side fails, stop reading so the tool does not block on a full pipe.
  writing.catch(() => run.abort());
  const [written, exited] = await Promise.allSettled([writing, run.done]);
  try {
    if (exited.status === 'rejected') throw exited.reason;
    const exit: ToolExit = { code: exited.value.exitCode, signal: null, stderr: exited.value.stderr };
    if (exit.code !== 0) judge(exit.code === null ? { ...exit, stderr: `${exit.stderr}\n(the exec did not report an exit code: cut off)` } : exit);
    if (written.status === 'rejected') throw written.reason;
    if (written.value.rawBytes === 0 && !options.allowEmpty) {
      throw new HoldfastError('tool', `${options.tool} exited 0 but wrote nothing`);
    }
    return written.value;
  } catch (error) {
    await sink.discard(artifact.name).catch(() => undefined);
    throw error;
  }
}
