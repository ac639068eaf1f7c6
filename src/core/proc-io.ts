import { readFile } from 'node:fs/promises';

/**
 * Watches how many bytes a child process has read and written, from Linux's
 * /proc/<pid>/io (`rchar`, `wchar`: bytes passed through read() and write()).
 * It is how progress learns the raw size of data that never passes through
 * Node: a dump piped straight into `zstd` (zstd's reads are the dump's raw
 * bytes), or `zstd -d` piped straight into pg_restore (its writes are the
 * artifact's raw bytes). Elsewhere (no /proc) it reports nothing.
 */
export interface IoWatch {
  /** Reads the counters one last time and stops. */
  stop(): Promise<void>;
}

const EVERY_MS = 250;

export function watchProcessIo(pid: number | undefined, onDelta: (read: number, written: number) => void, everyMs = EVERY_MS): IoWatch {
  if (pid === undefined || process.platform !== 'linux') return { stop: async () => undefined };
  let read = 0;
  let written = 0;
  let stopped = false;
  const sample = async () => {
    const text = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => undefined);
    // Gone (the process was reaped): nothing more to count.
    if (!text) clearInterval(timer);
    if (!text || stopped) return;
    const r = Number(/^rchar:\s*(\d+)/m.exec(text)?.[1] ?? read);
    const w = Number(/^wchar:\s*(\d+)/m.exec(text)?.[1] ?? written);
    if (r > read || w > written) onDelta(Math.max(0, r - read), Math.max(0, w - written));
    read = Math.max(read, r);
    written = Math.max(written, w);
  };
  let busy: Promise<void> = Promise.resolve();
  const timer: NodeJS.Timeout = setInterval(() => {
    busy = busy.then(sample);
  }, everyMs);
  timer.unref();
  busy = sample();
  return {
    stop: async () => {
      clearInterval(timer);
      await busy.then(sample).catch(() => undefined);
      stopped = true;
    },
  };
}
