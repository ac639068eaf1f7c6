import type { Argv } from 'yargs';
import type { CommandContext } from './context.js';

/** One CLI command: parse options, call core, print. No logic of its own. */
export interface HoldfastCommand {
  command: string;
  describe: string;
  builder?: (y: Argv) => Argv;
  run(ctx: CommandContext, args: Record<string, unknown>): Promise<number>;
}

export function strings(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
