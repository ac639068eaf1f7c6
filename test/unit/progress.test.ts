import { describe, expect, test, vi } from 'vitest';
import { formatBytes, formatDuration, ProgressReporter } from '../../src/core/progress.js';

function fakeTerminal() {
  const writes: string[] = [];
  const stream = { columns: 120, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe('progress on a terminal', () => {
  test('renders bytes, rate and the running services, and clears its line when stopped', () => {
    vi.useFakeTimers();
    try {
      const { stream, writes } = fakeTerminal();
      const progress = new ProgressReporter(stream);
      const db = progress.sink('db');
      const files = progress.sink('files');
      db.phase('dump app');
      db.add(3 * 1024 * 1024);
      files.add(512);
      vi.advanceTimersByTime(1000);
      const frame = writes.at(-1)!;
      expect(frame).toContain('db: dump app  3.0 MiB at');
      expect(frame).toContain('files: starting  512 B at');
      expect(frame).toContain('total: 2 running');
      progress.finish('db');
      vi.advanceTimersByTime(300);
      expect(writes.at(-1)).not.toContain('db:');
      progress.stop();
      expect(writes.at(-1)).toMatch(/\x1b\[J$/);
    } finally {
      vi.useRealTimers();
    }
  });

  test('raw bytes against the expected size: percentage, rate, ETA, and the stored bytes beside them', () => {
    vi.useFakeTimers();
    try {
      const { stream, writes } = fakeTerminal();
      const progress = new ProgressReporter(stream);
      const db = progress.sink('db');
      db.expect!(100 * 1024 * 1024, true);
      db.phase('dump app');
      for (let second = 0; second < 4; second++) {
        db.add(10 * 1024 * 1024);
        db.stored!(1024 * 1024);
        vi.advanceTimersByTime(1000);
      }
      const frame = writes.at(-1)!;
      expect(frame).toMatch(/db: dump app {2}40 MiB of ~100 MiB \(40%\) at 10 MiB\/s, ETA 6s, stored 4\.0 MiB/);
      // An estimate passed (a dump larger than the tables' size on disk): no percentage beyond it.
      db.add(80 * 1024 * 1024);
      vi.advanceTimersByTime(1000);
      expect(writes.at(-1)).toContain('120 MiB (of ~100 MiB)');
      progress.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  test('prints nothing without a terminal', () => {
    vi.useFakeTimers();
    try {
      const spy = vi.spyOn(process.stderr, 'write');
      const progress = new ProgressReporter(undefined);
      progress.sink('db').add(100);
      vi.advanceTimersByTime(2000);
      progress.stop();
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    } finally {
      vi.useRealTimers();
    }
  });

  test('formats sizes and durations for people', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(451 * 1024 * 1024)).toBe('451 MiB');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(125_000)).toBe('2m5s');
  });
});
