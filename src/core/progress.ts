import type { ProgressSink } from './driver.js';

/**
 * Progress of long work, one line per refresh on a terminal: bytes read,
 * rate, and what each running service is doing. Silent without a TTY or with
 * --quiet (scripts get only results and errors).
 */
export class ProgressReporter {
  private readonly services = new Map<string, { bytes: number; phase: string; done: boolean }>();
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();
  private lastWidth = 0;

  constructor(
    private readonly out: NodeJS.WriteStream | undefined,
    /** With --verbose: one line per phase change, with the time since start. */
    private readonly trace = false,
  ) {}

  static forTerminal(quiet: boolean, verbose = false): ProgressReporter {
    const err = process.stderr;
    return new ProgressReporter(!quiet && err.isTTY ? err : undefined, verbose);
  }

  sink(service: string): ProgressSink {
    const state = { bytes: 0, phase: 'starting', done: false };
    this.services.set(service, state);
    if (this.out && !this.timer) this.timer = setInterval(() => this.render(), 250).unref();
    return {
      add: (n) => (state.bytes += n),
      phase: (text) => {
        state.phase = text;
        if (this.trace) process.stderr.write(`[+${((Date.now() - this.started) / 1000).toFixed(2)}s] ${service}: ${text}\n`);
      },
    };
  }

  finish(service: string): void {
    const state = this.services.get(service);
    if (state) state.done = true;
    if (this.trace) process.stderr.write(`[+${((Date.now() - this.started) / 1000).toFixed(2)}s] ${service}: done\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out && this.lastWidth) this.out.write(`\r${' '.repeat(this.lastWidth)}\r`);
    this.lastWidth = 0;
  }

  private render(): void {
    if (!this.out) return;
    let total = 0;
    const running: string[] = [];
    for (const [name, s] of this.services) {
      total += s.bytes;
      if (!s.done) running.push(`${name}: ${s.phase} ${formatBytes(s.bytes)}`);
    }
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? total / seconds : 0;
    let line = `${formatBytes(total)} at ${formatBytes(rate)}/s, ${Math.round(seconds)}s | ${running.join(' | ')}`;
    const width = (this.out.columns || 100) - 1;
    if (line.length > width) line = line.slice(0, width);
    this.out.write(`\r${line.padEnd(this.lastWidth)}`);
    this.lastWidth = line.length;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}
