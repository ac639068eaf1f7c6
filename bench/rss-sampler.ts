import { readFileSync } from 'node:fs';

/**
 * Samples a process's peak resident set (VmHWM, which the kernel keeps as a
 * high-water mark) until it exits. The last sample before exit is the peak.
 */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let peakKiB = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // exited
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peakKiB;
    },
  };
}
