import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where holdfast keeps what must outlive a run (the hold, leftover and
 * rollback journals, the tar flavour cache): HOLDFAST_STATE_DIR, else
 * /var/lib/holdfast for root, else $XDG_STATE_HOME/holdfast (~/.local/state/holdfast).
 */
export function stateDir(): string {
  if (process.env.HOLDFAST_STATE_DIR) return process.env.HOLDFAST_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/holdfast';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'holdfast');
}

/**
 * The start time of a process (field 22 of /proc/PID/stat), or undefined off
 * Linux or when it is gone: with the pid, it tells a run's process from a
 * later one that reused its pid.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
