import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The parent-death signal for every tool holdfast starts: on Linux with
 * util-linux's `setpriv`, a command runs as `setpriv --pdeathsig KILL --
 * /path/to/tool args…`, so the kernel kills it the moment holdfast dies,
 * also by kill -9 (a pg_dump or zstd that outlived holdfast kept writing
 * into the repository's staging; a pg_restore kept loading a scratch
 * database that the next run then could not drop). setpriv sets the flag
 * and execs the tool: the pid stays the tool's.
 *
 * The tool is looked up on PATH first: a missing tool must stay a spawn
 * error (ENOENT, "… is not installed") and not become setpriv's exit 127.
 * Not on Linux, or without setpriv: the command as given. `signal` TERM is
 * for a shell that traps it to end what it started (process-tree.ts).
 */
export function withDeathSignal(command: string, args: readonly string[], path = process.env.PATH, signal: 'KILL' | 'TERM' = 'KILL'): { command: string; args: string[] } {
  const setpriv = setprivPath();
  if (!setpriv) return { command, args: [...args] };
  const resolved = command.includes('/') ? command : onPath(command, path);
  if (!resolved) return { command, args: [...args] };
  return { command: setpriv, args: ['--pdeathsig', signal, '--', resolved, ...args] };
}

let setpriv: string | null | undefined;

function setprivPath(): string | undefined {
  if (setpriv === undefined) setpriv = process.platform === 'linux' ? (onPath('setpriv', process.env.PATH) ?? null) : null;
  return setpriv ?? undefined;
}

/** The first executable `name` on a PATH string, or undefined. */
export function onPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}
