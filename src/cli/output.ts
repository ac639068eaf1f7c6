import type { OfferPlace } from '../core/driver.js';
import { placeLine } from '../core/place-record.js';
import { HoldfastError, exitCodeFor, toHoldfastError } from '../core/errors.js';
import { redactUrl } from '../core/service.js';

/** Where commands print: results to stdout, messages and errors to stderr. */
export interface Output {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** A result line for people (suppressed with --json). */
  line(text?: string): void;
  /** Result details for people, a table (suppressed with --json and --quiet, which keep the outcome line). */
  details(text?: string): void;
  /** A note on stderr (suppressed with --quiet and --json). */
  info(text: string): void;
  warn(text: string): void;
  /** The one JSON document of a --json run. */
  document(value: unknown): void;
}

export function createOutput(flags: { json: boolean; quiet: boolean; verbose: boolean }): Output {
  return {
    ...flags,
    line: (text = '') => {
      if (!flags.json) process.stdout.write(`${text}\n`);
    },
    details: (text = '') => {
      if (!flags.json && !flags.quiet) process.stdout.write(`${text}\n`);
    },
    info: (text) => {
      if (!flags.quiet && !flags.json) process.stderr.write(`${text}\n`);
    },
    warn: (text) => process.stderr.write(`warning: ${redactUrl(text)}\n`),
    document: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

/** Prints an error as the user should read it, and returns the exit status. */
export function reportError(out: Output, error: unknown): number {
  const e = toHoldfastError(error);
  const message = redactUrl(e.describe());
  process.stderr.write(`holdfast: ${message}\n`);
  if (e.hint) process.stderr.write(`  hint: ${redactUrl(e.hint)}\n`);
  if (out.verbose && e.code === 'internal') process.stderr.write(`${(e.cause as Error | undefined)?.stack ?? e.stack}\n`);
  else if (e.code === 'internal' && !out.verbose) process.stderr.write('  (run with --verbose for details)\n');
  if (out.json) {
    const json = e.toJSON();
    out.document({ status: 'error', error: { ...json, message, ...(e.hint ? { hint: redactUrl(e.hint) } : {}) } });
  }
  return exitCodeFor(e);
}

/** A plain text table: columns padded to the widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(headers), ...rows.map(fmt)].join('\n');
}

export { HoldfastError };

/**
 * One line for a plan item in a table (`plan`, `discover`): where the work
 * runs and why, the reason the chosen strategy won, then what was skipped
 * with each distinct reason once ("tar, tar-pause: the helper image
 * ... is not on the daemon"), where the full reason repeated it per
 * strategy. --json keeps the full reason.
 */
export function shortWhy(item: { reason: string; strategy?: string; consistency?: string; place?: OfferPlace; error?: { message: string; hint?: string } }): string {
  if (item.error) return `cannot back up: ${groupSegments(item.error.message)}${item.error.hint ? ` (hint: ${groupSegments(item.error.hint)})` : ''}`;
  const skippedAt = item.reason.indexOf('; skipped ');
  const reason = item.reason.slice(0, skippedAt < 0 ? undefined : skippedAt);
  const head = item.place ? `${placeLine(item.place)}; ${reason}` : reason;
  return skippedAt < 0 ? head : `${head}; skipped ${groupSegments(item.reason.slice(skippedAt + '; skipped '.length))}`;
}

/** `a: X; b: X; c: Y` -> `a, b: X; c: Y`; plain repeated segments once. */
export function groupSegments(text: string): string {
  const rest = /^no backup strategy can run: /.test(text) ? text.slice('no backup strategy can run: '.length) : text;
  const lead = rest === text ? '' : 'no backup strategy can run: ';
  const byText = new Map<string, string[]>();
  for (const segment of rest.split('; ')) {
    const m = /^([A-Za-z0-9_.-]+): (.+)$/.exec(segment);
    const [name, body] = m ? [m[1]!, m[2]!] : ['', segment];
    const names = byText.get(body) ?? [];
    if (name && !names.includes(name)) names.push(name);
    byText.set(body, names);
  }
  return lead + [...byText.entries()].map(([body, names]) => (names.length ? `${names.join(', ')}: ${body}` : body)).join('; ');
}
