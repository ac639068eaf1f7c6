import { runTool, type ToolOptions, type ToolRun } from './process.js';

/**
 * A tool that starts processes of its own (a script such as
 * mariadb-install-db: `cat … | mariadbd --bootstrap`) and whose whole tree
 * must go with holdfast. The parent-death signal (process-deathsig.ts)
 * reaches only the process holdfast started; the script's children are not
 * told, and ran on after a kill -9 (seen in
 * test/faults/mysql-restore-kill.test.ts: mariadb-install-db, cat and
 * mariadbd still running 1 s after the kill).
 *
 * So a shell starts the tool in a process group of its own (`setsid`) and
 * gets TERM as its parent-death signal: its trap kills the whole group, and
 * so does an abort (runTool's SIGTERM). A TERM that comes before the tool is
 * started ends the shell before it starts it.
 */
const TREE = [
  // $! is set when the fork is, before any command after it: a TERM in between still finds the tool. Its group goes,
  // then the pid itself (not yet a group of its own if setsid had not run), then the group again (what it forked meanwhile).
  'trap \'if [ -n "$!" ]; then kill -KILL "-$!" 2>/dev/null; kill -KILL "$!" 2>/dev/null; kill -KILL "-$!" 2>/dev/null; fi; exit 143\' TERM INT',
  // Without setsid (util-linux, beside setpriv): the tool alone goes, as with runTool.
  'if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi',
  'wait "$!"',
].join('\n');

/** runTool for a tool whose children must die with holdfast too (above). */
export function runToolTree(command: string, args: readonly string[], options: ToolOptions = {}): ToolRun {
  return runTool('sh', ['-c', TREE, 'holdfast-tree', command, ...args], { ...options, deathSignal: 'TERM' });
}
