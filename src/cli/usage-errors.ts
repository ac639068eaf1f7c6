/**
 * Usage errors as a person should read them: an unknown command gets a "did
 * you mean", and an unknown flag is named once (yargs lists `dry-run` and its
 * camel-case twin `dryRun`), with the closest known flag when there is one.
 */

/** Global options that take a value: the word after them is not the command. */
const VALUED = new Set(['--repo', '--config', '--key-file', '--service', '--project']);

/** The command word the user typed, if any (`bakcup` in `--repo X bakcup --json`). */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return undefined;
    if (VALUED.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** Edit distance, for suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The candidate nearest to `word`, when it is near enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (!best || d < best.d) best = { candidate, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.candidate : undefined;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const flagName = (arg: string) => (arg.startsWith('-') ? arg.replace(/^-+/, '').split('=')[0] : undefined);

/**
 * Rewrites yargs's message. `commands` are the command words; `options` the
 * flags known where the error happened (without dashes), for suggestions.
 */
export function explainUsageError(message: string, argv: readonly string[], commands: readonly string[], options: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (!unknown) return message;
  const names = unknown[1]!.split(', ');
  const typed = commandWord(argv);
  if (typed !== undefined && !commands.includes(typed) && names.includes(typed)) {
    const meant = closest(typed, commands);
    return `unknown command ${JSON.stringify(typed)}${meant ? `; did you mean \`holdfast ${meant}\`?` : ''}`;
  }
  // yargs names each unknown flag twice, as typed and in camel case: one entry each, as typed.
  const groups = new Map<string, string[]>();
  for (const name of names) groups.set(kebab(name), [...(groups.get(kebab(name)) ?? []), name]);
  const known = options.filter((o) => o.length > 1 && !/[A-Z]/.test(o));
  const described = [...groups.values()].map((group) => {
    const name = group.find((n) => argv.some((a) => flagName(a) === n)) ?? group[0]!;
    if (!argv.some((a) => flagName(a) === name)) return name;
    const meant = closest(kebab(name), known);
    return `--${name}${meant && meant !== name ? ` (did you mean --${meant}?)` : ''}`;
  });
  return `unknown ${described.length === 1 ? 'argument' : 'arguments'}: ${described.join(', ')}`;
}
