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
