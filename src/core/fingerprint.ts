import type { Fingerprint } from './driver.js';

export interface FingerprintComparison {
  equal: boolean;
  compared: number;
  differences: string[];
  /** Differences that matched an `--accept` entry: shown, but not counted against the restore. */
  accepted?: string[];
}

/** What a comparison may leave out: recorded keys outside `prefixes`, differences named by `accept`. */
export interface CompareOptions {
  /** Only recorded items and definitions under these object paths count (a restore of one database out of several). */
  prefixes?: readonly string[];
  /**
   * Known, declared differences (`--accept`): an object path (`app.public.t`, which
   * covers everything below it) or one property of that object alone (`app.public.t:owner`).
   */
  accept?: readonly string[];
}

const under = (key: string, path: string) => key === path || key.startsWith(`${path}.`);

/**
 * Compares what a restore holds with what the backup recorded: the rows
 * (counts, and checksums when both sides have them) and, when the backup
 * recorded them, the definitions (object, property, value). Keys are object
 * paths (`db.schema.table`). A difference names the object, the property and
 * the values expected and found.
 */
export function compareFingerprints(recorded: Fingerprint, restored: Fingerprint, options: CompareOptions | readonly string[] = {}): FingerprintComparison {
  const { prefixes, accept = [] } = Array.isArray(options) ? { prefixes: options as readonly string[] } : (options as CompareOptions);
  const inScope = (key: string) => !prefixes || prefixes.some((p) => under(key, p));
  const differences: string[] = [];
  const accepted: string[] = [];
  const isAccepted = (key: string, property?: string) =>
    accept.some((a) => {
      const colon = a.lastIndexOf(':');
      if (colon > 0 && property !== undefined) return a.slice(colon + 1) === property && key === a.slice(0, colon);
      return colon <= 0 && under(key, a);
    });
  const differ = (key: string, text: string, property?: string) => (isAccepted(key, property) ? accepted : differences).push(text);

  const checksums = recorded.scope === 'full' && restored.scope === 'full';
  let compared = 0;
  for (const [key, want] of Object.entries(recorded.items)) {
    if (!inScope(key)) continue;
    compared++;
    const got = restored.items[key];
    if (!got) differ(key, `${key}: missing after restore`);
    else if (got.count !== want.count) differ(key, `${key}: ${got.count} rows after restore, ${want.count} at backup`, 'rows');
    else if (checksums && got.checksum !== want.checksum) differ(key, `${key}: content checksum differs`, 'checksum');
  }
  for (const key of Object.keys(restored.items)) {
    if (inScope(key) && !(key in recorded.items)) differ(key, `${key}: present after restore, absent at backup`);
  }
  compared += compareDefinitions(recorded, restored, inScope, differ);
  return { equal: differences.length === 0, compared, differences, ...(accepted.length ? { accepted } : {}) };
}

/** The definitions half: every recorded property must come back with the same value. Returns how many objects it compared. */
function compareDefinitions(
  recorded: Fingerprint,
  restored: Fingerprint,
  inScope: (key: string) => boolean,
  differ: (key: string, text: string, property?: string) => void,
): number {
  const want = recorded.definitions;
  if (!want) return 0;
  const got = restored.definitions;
  if (!got) {
    differ('', 'definitions: recorded at backup, but none were read after restore');
    return 0;
  }
  let compared = 0;
  for (const [key, props] of Object.entries(want)) {
    if (!inScope(key)) continue;
    compared++;
    const found = got[key];
    if (!found) {
      differ(key, `${key}: definition missing after restore`);
      continue;
    }
    for (const [property, value] of Object.entries(props)) {
      const now = found[property];
      if (now === undefined) differ(key, `${key}: ${property} missing after restore (was ${show(value)})`, property);
      else if (now !== value) differ(key, `${key}: ${property} is ${show(now)} after restore, ${show(value)} at backup`, property);
    }
    for (const property of Object.keys(found)) {
      if (!(property in props)) differ(key, `${key}: ${property} is ${show(found[property]!)} after restore, absent at backup`, property);
    }
  }
  for (const key of Object.keys(got)) {
    if (inScope(key) && !(key in want)) differ(key, `${key}: definition present after restore, absent at backup`);
  }
  return compared;
}

/** A value as a difference shows it: short, on one line. */
function show(value: string): string {
  const line = value.replace(/\s+/g, ' ');
  return JSON.stringify(line.length > 120 ? `${line.slice(0, 117)}...` : line);
}
