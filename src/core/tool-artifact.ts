import type { ArtifactSink } from './driver.js';
import { HoldfastError } from './errors.js';
import { assertToolSucceeded, type ToolExit } from './process.js';
import type { ArtifactRecord } from '../repository/manifest.js';

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
  options: {
    env?: Record<string, string | undefined>;
    secrets?: Array<string | undefined>;
    hint?: string;
    allowEmpty?: boolean;
    checkExit?: (exit: ToolExit) => void;
  },
): Promise<ArtifactRecord> {
  let written;
  try {
    written = await sink.writeCommand(
      artifact.name,
      { command, args, ...(options.env ? { env: options.env } : {}), ...(options.secrets ? { secrets: options.secrets } : {}) },
      { kind: artifact.kind, ...(artifact.label !== undefined ? { label: artifact.label } : {}) },
    );
  } catch (error) {
    await sink.discard(artifact.name).catch(() => undefined);
    throw error;
  }
  const { record, exit } = written;
  try {
    if (options.checkExit) options.checkExit(exit);
    else assertToolSucceeded(command, exit, options.hint);
    if (record.rawBytes === 0 && !options.allowEmpty) {
      throw new HoldfastError('tool', `${command.split('/').pop()} exited 0 but wrote nothing`, { hint: options.hint });
    }
  } catch (error) {
    await sink.discard(artifact.name);
    throw error;
  }
  return record;
}

/** A file-name-safe form of an engine object's name (the real name goes in the artifact label). */
export function artifactSlug(name: string, index: number): string {
  const slug = name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._-]+/, '').slice(0, 48) || 'x';
  return `${String(index).padStart(2, '0')}-${slug}`;
}
