/**
 * What serve remembers between runs, in a small JSON file (serve.state):
 * per job the last scheduled and finished runs and their status, so that a
 * restart can catch up a run missed while it was down and tell a recovery
 * from a success. Written whole to a temp file and renamed: a crash never
 * leaves half a file.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HoldfastError } from '../core/errors.js';
import type { RunStatus } from './job-run.js';

export interface JobState {
  lastScheduledAt?: string;
  lastStartedAt?: string;
  lastFinishedAt?: string;
  lastStatus?: RunStatus;
  lastSuccessAt?: string;
  lastRunId?: string;
  lastSnapshot?: string;
}

export interface ServeState {
  jobs: Record<string, JobState>;
}

export async function loadServeState(path: string): Promise<ServeState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { jobs: {} };
    throw new HoldfastError('config', `cannot read serve's state file ${path}: ${(error as Error).message}`, { hint: 'check serve.state in holdfast.yml and its permissions', cause: error });
  }
  try {
    const doc = JSON.parse(text) as ServeState;
    return { jobs: typeof doc.jobs === 'object' && doc.jobs ? doc.jobs : {} };
  } catch (error) {
    throw new HoldfastError('config', `serve's state file ${path} is not valid JSON`, { hint: 'remove it: serve starts afresh (no catch-up of missed runs this once)', cause: error });
  }
}

export async function saveServeState(path: string, state: ServeState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
