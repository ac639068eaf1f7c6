import type { ProgressSink } from './driver.js';

/** What one service has done so far. */
interface ServiceState {
  raw: number;
  stored: number;
  expected?: number;
  estimate: boolean;
  phase: string;
  detail?: string;
  done: boolean;
  rate: RateWindow;
  since: number;
}

const REFRESH_MS = 250;
/** The rate (and so the ETA) is over the last few seconds: a dump slows and speeds with the tables. */
const RATE_WINDOW_MS = 5000;
const ETA_AFTER_MS = 2000;

/**
 * Progress of long work on a terminal: one line per running service (its
 * phase, raw bytes against the size it should reach, percentage, rate, ETA,
 * and the stored bytes beside them), and a total line when several run,
 * redrawn in place four times a second. Raw bytes are what the engine
 * produced or will receive; stored bytes what the repository holds
 * (compressed). Silent without a TTY or with --quiet (scripts get only
 * results and errors); with --verbose, one line per phase change instead.
 */
export class ProgressReporter {
  private readonly services = new Map<string, ServiceState>();
  private readonly total = new RateWindow();
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();
  /** Lines drawn last time: the next draw moves the cursor back over them. */
  private drawn = 0;

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
    const state: ServiceState = { raw: 0, stored: 0, estimate: false, phase: 'starting', done: false, rate: new RateWindow(), since: Date.now() };
    state.rate.sample(Date.now(), 0);
    if (this.services.size === 0) this.total.sample(Date.now(), 0);
    this.services.set(service, state);
    if (this.out && !this.timer) this.timer = setInterval(() => this.render(), REFRESH_MS).unref();
    return {
      add: (n) => (state.raw += n),
      stored: (n) => (state.stored += n),
      expect: (bytes, estimate = false) => {
        state.expected = bytes;
        state.estimate = estimate;
      },
      detail: (text) => (state.detail = text),
      phase: (text) => {
        state.phase = text;
        state.detail = undefined;
        if (this.trace) this.traceLine(`${service}: ${text}`);
      },
    };
  }

  /**
   * A service ended: on a terminal its line becomes permanent (what it moved,
   * against what was expected, and how fast), above the lines still running,
   * so the screen tells the work in the order it happened.
   */
  finish(service: string): void {
    const state = this.services.get(service);
    if (!state || state.done) return;
    state.done = true;
    const seconds = (Date.now() - state.since) / 1000;
    const line = `${service}: done in ${formatDuration(Math.round(seconds * 1000))}  ${amounts(state.raw, undefined, false, state.stored, seconds > 0 ? state.raw / seconds : 0)}`;
    if (this.trace) this.traceLine(line);
    else if (this.out) {
      this.clear();
      this.out.write(`${line}\n`);
    }
  }

  /**
   * Takes the progress lines off the screen, so that what is printed next
   * (a result, a note) is not drawn over; the next refresh draws them again.
   */
  clear(): void {
    if (!this.out || this.drawn === 0) return;
    this.out.write(`${this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : ''}\r\x1b[J`);
    this.drawn = 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private traceLine(text: string): void {
    this.clear();
    process.stderr.write(`[+${((Date.now() - this.started) / 1000).toFixed(2)}s] ${text}\n`);
  }

  private render(): void {
    if (!this.out) return;
    const now = Date.now();
    const lines: string[] = [];
    let raw = 0;
    let stored = 0;
    let expected = 0;
    let allKnown = true;
    let estimate = false;
    let running = 0;
    for (const [name, s] of this.services) {
      s.rate.sample(now, s.raw);
      raw += s.raw;
      stored += s.stored;
      // A finished service is at its 100%, whatever was expected of it.
      if (s.done) expected += s.raw;
      else if (s.expected === undefined) allKnown = false;
      else expected += Math.max(s.expected, s.raw);
      estimate ||= s.estimate;
      if (s.done) continue;
      running++;
      lines.push(`${name}: ${s.phase}${s.detail ? ` ${s.detail}` : ''}  ${amounts(s.raw, s.expected, s.estimate, s.stored, s.rate.perSecond(), s.rate.span() >= ETA_AFTER_MS)}`);
    }
    this.total.sample(now, raw);
    // A total when several services share the line; none once nothing runs (the done lines tell).
    if (this.services.size > 1 && running > 0) {
      const elapsed = formatDuration(Math.round((now - this.started) / 1000) * 1000);
      lines.push(`total: ${running} running, ${elapsed}  ${amounts(raw, allKnown ? expected : undefined, estimate, stored, this.total.perSecond(), this.total.span() >= ETA_AFTER_MS)}`);
    }
    if (lines.length === 0) {
      this.clear();
      return;
    }
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const text = lines.map((l) => (l.length > width ? l.slice(0, width) : l)).join('\x1b[K\n');
    this.out.write(`${this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : ''}\r${text}\x1b[K\x1b[J`);
    this.drawn = lines.length;
  }
}

/** `512 MiB of ~1.4 GiB (36%) at 40 MiB/s, ETA 23s, stored 61 MiB` */
function amounts(raw: number, expected: number | undefined, estimate: boolean, stored: number, rate: number, withEta = false): string {
  let text = formatBytes(raw);
  // Within a few KB of the end (a globals file a restore onto its own server skips): at the end.
  if (expected !== undefined && expected > raw && expected - raw < Math.max(64 * 1024, expected / 1000)) raw = expected;
  if (expected !== undefined && expected > 0) {
    const of = `of ${estimate ? '~' : ''}${formatBytes(expected)}`;
    // An estimate can be passed (a dump is rarely the size of the tables on disk): then no percentage.
    if (raw <= expected) {
      const percent = Math.min(estimate ? 99 : 100, Math.floor((raw / expected) * 100));
      text += ` ${of} (${percent}%)`;
    } else text += ` (${of})`;
  }
  text += ` at ${formatBytes(rate)}/s`;
  if (withEta && expected !== undefined && raw < expected && rate > 0) text += `, ETA ${formatEta((expected - raw) / rate)}`;
  if (stored > 0) text += `, stored ${formatBytes(stored)}`;
  return text;
}

/** `3s`, `2m05s`, `1h12m`: whole seconds, rounded up (an ETA of 0 reads as done). */
function formatEta(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Bytes per second over the last few seconds. */
class RateWindow {
  private readonly samples: Array<{ at: number; bytes: number }> = [];

  sample(at: number, bytes: number): void {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
  }

  /** Milliseconds the samples cover: an ETA from less than a couple of seconds is noise. */
  span(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    return first && last ? last.at - first.at : 0;
  }

  perSecond(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at <= first.at) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
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
