import { readdirSync, readFileSync } from 'node:fs';

/**
 * The processes below a pid (children, grandchildren…) with their command
 * names, read from /proc: what a run started, to check after a kill -9 of
 * the run that none of it outlived it.
 */
export function descendants(root: number): Array<{ pid: number; name: string }> {
  const parents = new Map<number, { ppid: number; name: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), { ppid, name });
    } catch {
      // gone meanwhile
    }
  }
  const out: Array<{ pid: number; name: string }> = [];
  const walk = (pid: number) => {
    for (const [child, info] of parents) {
      if (info.ppid !== pid) continue;
      out.push({ pid: child, name: info.name });
      walk(child);
    }
  };
  walk(root);
  return out;
}

/** Which of these processes still run (a zombie counts as gone). */
export function stillRunning(procs: ReadonlyArray<{ pid: number; name: string }>): Array<{ pid: number; name: string }> {
  return procs.filter(({ pid }) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/** Waits up to `ms` for every one of them to be gone; returns those still running then. */
export async function survivorsAfter(procs: ReadonlyArray<{ pid: number; name: string }>, ms: number): Promise<Array<{ pid: number; name: string }>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = stillRunning(procs);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}
