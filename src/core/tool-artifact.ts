import type { ArtifactSink } from './driver.js';
import { assertToolSucceeded, runTool, type ToolExit, type ToolOptions } from './process.js';
import type { ArtifactRecord } from '../repository/manifest.js';
import { HoldfastError } from './errors.js';

/**
 * Runs an engine tool and stores its stdout as one artifact. The artifact
 * counts only if the tool exits 0: a dump that died half-way is never stored
 * as a success (the exit code is not lost in a pipe), and an empty output is
 * refused.
 */
export async function toolToArtifact(
  sink: ArtifactSink,
  artifact: { name: string; kind: string; label?: string },
  command: string,
  args: readonly string[],
  options: ToolOptions & { hint?: string; allowEmpty?: boolean; checkExit?: (exit: ToolExit) => void },
): Promise<ArtifactRecord> {
  const run = runTool(command, args, { ...options, stdout: 'pipe' });
  const writing = sink.write(artifact.name, run.stdout!, { kind: artifact.kind, ...(artifact.label !== undefined ? { label: artifact.label } : {}) });
  let record: ArtifactRecord;
  try {
    record = await writing;
  } catch (error) {
    run.child.kill('SIGTERM');
    await run.done.catch(() => undefined);
    throw error;
  }
  const exit = await run.done;
  if (options.checkExit) options.checkExit(exit);
  else assertToolSucceeded(command, exit, options.hint);
  if (record.rawBytes === 0 && !options.allowEmpty) {
    throw new HoldfastError('tool', `${command.split('/').pop()} exited 0 but wrote nothing`, { hint: options.hint });
  }
  return record;
}

/** A file-name-safe form of an engine object's name (the real name goes in the artifact label). */
export function artifactSlug(name: string, index: number): string {
  const slug = name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._-]+/, '').slice(0, 48) || 'x';
  return `${String(index).padStart(2, '0')}-${slug}`;
}
