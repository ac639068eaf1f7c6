import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { holdfast, type CliResult } from '../support/cli.js';
import { descendants, survivorsAfter } from '../support/process-tree.js';

/**
 * The kill -9 trial loop of the fault suite: start a holdfast command, kill
 * it with SIGKILL at a random moment within its usual duration, check that
 * none of its tools outlive it (1 s), run the next command, and count what
 * is left. Each kind of trial prints one line of counts.
 */
export interface TrialCounts {
  kind: string;
  trials: number;
  /** Killed while it ran (the rest had finished before the kill came). */
  killed: number;
  /** Trials after whose kill something was left before the next command ran. */
  leftBehind: number;
  /** Leftovers found after the next command, summed over the trials: must be 0. */
  leftoversAfterNext: number;
  /** Tool processes still running 1 s after the kill, summed: must be 0. */
  survivors: number;
  /** Lines in which the next command said it removed a leftover. */
  reported: number;
}

/** A small deterministic generator, its seed printed with the counts so a failing run can be replayed (HOLDFAST_FAULT_SEED). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

export interface TrialKind {
  kind: string;
  /** The command killed in each trial (trial number given). */
  command(trial: number): string[];
  /** The next command that touches the same target; its result is checked by `after`. */
  next(trial: number): string[];
  /** Names of what is left now (scratch databases, spool files, journals): empty when clean. */
  leftovers(trial: number): Promise<string[]>;
  /** Checks after the next command (the target whole, the command's exit). */
  after?(trial: number, next: CliResult): Promise<void>;
}

export async function runKillTrials(kind: TrialKind, options: { trials: number; env: Record<string, string | undefined>; durationMs: number; random: () => number; seed: number }): Promise<{ counts: TrialCounts; problems: string[] }> {
  const counts: TrialCounts = { kind: kind.kind, trials: 0, killed: 0, leftBehind: 0, leftoversAfterNext: 0, survivors: 0, reported: 0 };
  const problems: string[] = [];
  for (let trial = 0; trial < options.trials; trial++) {
    counts.trials++;
    let pid = 0;
    let exited = false;
    const running = holdfast(kind.command(trial), options.env, { onSpawn: (p) => (pid = p) }).finally(() => (exited = true));
    // Odd trials: at any moment of the run. Even trials: once it has made something (a working copy, a
    // spool file), then at any moment of the rest: the kills that matter most.
    const started = Date.now();
    if (trial % 2 === 0) {
      while (!exited && Date.now() - started < options.durationMs * 2 && (await kind.leftovers(trial)).length === 0) await new Promise((r) => setTimeout(r, 15));
    }
    await new Promise((r) => setTimeout(r, options.random() * (trial % 2 === 0 ? options.durationMs / 4 : options.durationMs)));
    const delay = Date.now() - started;
    const tools = descendants(pid);
    let killed = false;
    try {
      process.kill(pid, 'SIGKILL');
      killed = true;
    } catch {
      // it had finished already
    }
    const result = await running;
    if (killed && result.code === null) counts.killed++;
    const survivors = await survivorsAfter(tools, 1000);
    if (survivors.length) problems.push(`${kind.kind} #${trial} (kill after ${delay} ms): still running 1 s later: ${survivors.map((s) => `${s.name}[${s.pid}]`).join(', ')}`);
    counts.survivors += survivors.length;
    const before = await kind.leftovers(trial);
    if (before.length > 0) counts.leftBehind++;
    const next = await holdfast(kind.next(trial), options.env);
    counts.reported += (next.stdout + next.stderr).split('\n').filter((l) => /removed leftover|put .* back as it was/.test(l)).length;
    const left = await kind.leftovers(trial);
    counts.leftoversAfterNext += left.length;
    if (left.length) problems.push(`${kind.kind} #${trial} (kill after ${delay} ms): left after the next command: ${left.join(', ')}`);
    try {
      await kind.after?.(trial, next);
    } catch (error) {
      problems.push(`${kind.kind} #${trial} (kill after ${delay} ms): ${(error as Error).message}`);
    }
  }
  console.log(
    `fault suite [seed ${options.seed}] ${counts.kind}: ${counts.trials} trials, ${counts.killed} killed mid-run, ${counts.leftBehind} left something behind, ` +
      `${counts.leftoversAfterNext} leftovers after the next command, ${counts.survivors} tool processes outlived holdfast, ${counts.reported} removals reported`,
  );
  return { counts, problems };
}

/** Entries of a directory whose names start with "holdfast" (spool files, journals); none when it does not exist. */
export async function holdfastEntries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith('holdfast')).map((f) => join(dir, f));
}

/** Every file in a directory, none when it does not exist. */
export async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).map((f) => join(dir, f));
}
