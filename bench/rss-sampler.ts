import { readdirSync, readFileSync } from 'node:fs';

/**
 * Samples a process's peak resident set (VmHWM, which the kernel keeps as a
 * high-water mark) until it exits. The last sample before exit is the peak.
 */
export function sampleRss(pid: number, everyMs = 50, options: { child?: boolean } = {}): { stop(): number } {
  let peakKiB = 0;
  let target = options.child ? undefined : pid;
  const read = () => {
    try {
      // With `child`: the process that `pid` (a wrapper such as bash) started first.
      target ??= Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) || undefined;
      if (target === undefined) return;
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${target}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // exited
    }
  };
  return every(everyMs, read, () => peakKiB);
}

/**
 * Samples the summed resident set (VmRSS) of a process and all its
 * descendants (holdfast with its pg_dump and restic; a shell pipeline), and
 * keeps the highest sum seen. Sampled, so a short spike can be missed.
 */
export function sampleTreeRss(pid: number, everyMs = 100): { stop(): number } {
  let peakKiB = 0;
  const read = () => {
    const children = new Map<number, number[]>();
    const rss = new Map<number, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const status = readFileSync(`/proc/${entry}/status`, 'utf8');
        const parent = Number(/PPid:\s+(\d+)/.exec(status)?.[1] ?? 0);
        rss.set(Number(entry), Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0));
        children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
      } catch {
        // exited meanwhile
      }
    }
    let sum = 0;
    const stack = [pid];
    while (stack.length) {
      const next = stack.pop()!;
      sum += rss.get(next) ?? 0;
      stack.push(...(children.get(next) ?? []));
    }
    peakKiB = Math.max(peakKiB, sum);
  };
  return every(everyMs, read, () => peakKiB);
}

/** Calls `read` now and every `ms` until stop(), which returns `result()`. */
function every(ms: number, read: () => void, result: () => number): { stop(): number } {
  read();
  const timer = setInterval(read, ms);
  return {
    stop() {
      clearInterval(timer);
      return result();
    },
  };
}
