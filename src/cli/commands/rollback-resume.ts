import { createInterface } from 'node:readline/promises';
import { EXIT, HoldfastError } from '../../core/errors.js';
import { ProgressReporter } from '../../core/progress.js';
import { rollbackSteps } from '../../core/rollback-plan.js';
import { dockerApi } from '../../docker/docker-lazy.js';
import type { RollbackOutcome } from '../../docker/docker-rollback.js';
import type { CommandContext } from '../context.js';

/**
 * `rollback --resume` and `rollback --abandon`: what to do with a rollback
 * that was killed while it rewrote volumes and databases, whose containers
 * every holdfast command since has kept stopped (docker-rollback-journal.ts).
 * --resume runs the same rollback again (same snapshot, same services) and
 * starts everything at the end; --abandon starts the containers on what
 * their volumes hold now, after an explicit yes (`--yes`, or typed on a
 * terminal), and forgets the rollback.
 */
export async function resumeRollbacks(ctx: CommandContext, waitTimeoutMs: number, allowNewImage: boolean): Promise<{ code: number; outcomes: RollbackOutcome[] }> {
  const { interruptedRollbacks } = await import('../../docker/docker-rollback-journal.js');
  const { runRollback } = await import('../../docker/docker-rollback.js');
  const interrupted = await needInterrupted(interruptedRollbacks);
  const repo = ctx.repository();
  await repo.open({ create: false });
  const outcomes: RollbackOutcome[] = [];
  for (const resumes of interrupted) {
    ctx.out.info(`rollback: resuming the rollback to snapshot ${resumes.record.snapshot} of ${resumes.record.services.join(', ')} (killed: pid ${resumes.record.pid})`);
    const snapshot = await repo.load(resumes.record.snapshot);
    outcomes.push(
      await runRollback(await dockerApi(), {
        repo,
        registry: await ctx.drivers(),
        snapshot,
        steps: rollbackSteps(snapshot, resumes.record.services),
        configured: new Map(ctx.config.services.map((s) => [s.name, s])),
        dryRun: false,
        allowNewImage,
        waitTimeoutMs,
        signal: ctx.signal,
        progress: ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose),
        report: (line) => ctx.out.info(`rollback: ${line}`),
        resumes,
      }),
    );
  }
  return { code: outcomes.every((o) => o.status === 'ok') ? EXIT.ok : EXIT.failed, outcomes };
}

export async function abandonRollbacks(ctx: CommandContext, yes: boolean): Promise<{ code: number; started: string[] }> {
  const { interruptedRollbacks, finishRollbackRecord } = await import('../../docker/docker-rollback-journal.js');
  const interrupted = await needInterrupted(interruptedRollbacks);
  const names = interrupted.flatMap(({ record }) => record.containers.map((c) => c.name));
  const what = interrupted.map(({ record }) => `${record.snapshot} (${[...record.volumes, ...record.databases].join(', ')})`).join('; ');
  if (!yes && !(await confirmed(`Start ${names.join(', ')} on data that a killed rollback to ${what} may have half-restored? Type yes: `))) {
    throw new HoldfastError('usage', `abandoning the interrupted rollback starts ${names.join(', ')} on data that may be half-restored: it needs an explicit yes`, {
      hint: 'pass --yes (scripts), answer yes on a terminal, or finish the rollback instead: holdfast rollback --resume',
    });
  }
  const api = await dockerApi();
  const started: string[] = [];
  for (const { file, record } of interrupted) {
    for (const c of record.containers) {
      const now = await api.inspectContainer(c.id);
      if (!now || now.running || now.paused) continue;
      await api.start(c.id);
      started.push(c.name);
      ctx.out.info(`rollback: started ${c.name} on what its volumes hold now (the rollback to ${record.snapshot} was abandoned)`);
    }
    await finishRollbackRecord(file);
  }
  return { code: EXIT.ok, started };
}

async function needInterrupted<T>(list: () => Promise<T[]>): Promise<T[]> {
  const found = await list();
  if (found.length === 0) {
    throw new HoldfastError('not-found', 'there is no interrupted rollback on this host', {
      hint: 'a rollback that was killed while it rewrote data is listed by every holdfast command; roll back with holdfast rollback SNAPSHOT',
    });
  }
  return found;
}

async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}
