import type { Argv } from 'yargs';
import type { CommandContext } from './context.js';

/**
 * What yargs needs to list a command and parse its options. Kept apart from
 * the handler (and in `<name>-usage.ts` files that import no engine, driver
 * or repository code) so that starting the CLI loads no handler at all.
 */
export interface CommandUsage {
  command: string;
  describe: string;
  builder?: (y: Argv) => Argv;
}

/** One CLI command: parse options, call core, print. No logic of its own. */
export interface HoldfastCommand extends CommandUsage {
  run(ctx: CommandContext, args: Record<string, unknown>): Promise<number>;
}

export function strings(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
