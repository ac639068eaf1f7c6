import { EXIT, HoldfastError } from '../../core/errors.js';
import { ProgressReporter } from '../../core/progress.js';
import { rollbackSteps } from '../../core/rollback-plan.js';
import { dockerApi } from '../../docker/docker-lazy.js';
import type { RollbackOutcome } from '../../docker/docker-rollback.js';
import { strings, type HoldfastCommand } from '../command.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import { rollbackUsage } from './rollback-usage.js';

export const rollbackCommand: HoldfastCommand = {
  ...rollbackUsage,
  async run(ctx, args) {
    const waitSec = Number(args['wait-timeout']);
    if (!Number.isFinite(waitSec) || waitSec <= 0) throw new HoldfastError('usage', '--wait-timeout must be a number of seconds above 0', { hint: 'for example --wait-timeout 300' });
    if (args.resume || args.abandon) return interrupted(ctx, args, waitSec * 1000);
    if (args.snapshot === undefined) throw new HoldfastError('usage', 'name the snapshot to roll back to', { hint: 'holdfast rollback SNAPSHOT|TAG [SERVICE..], or --resume / --abandon for a rollback that was killed' });
    const repo = ctx.repository();
    await repo.open({ create: false });
    const snapshot = await repo.load(await repo.resolve(String(args.snapshot)));
    const steps = rollbackSteps(snapshot, strings(args.services));
    const { runRollback } = await import('../../docker/docker-rollback.js');
    const dryRun = Boolean(args['dry-run']);
    const outcome = await runRollback(await dockerApi(), {
      repo,
      registry: await ctx.drivers(),
      snapshot,
      steps,
      configured: new Map(ctx.config.services.map((s) => [s.name, s])),
      dryRun,
      allowNewImage: Boolean(args['allow-new-image']),
      waitTimeoutMs: waitSec * 1000,
      signal: ctx.signal,
      progress: ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose),
      report: (line) => ctx.out.info(`rollback: ${line}`),
    });
    if (ctx.out.json) ctx.out.document({ ...outcome, repository: repo.location });
    else print(ctx.out.line, outcome);
    return outcome.status === 'ok' || outcome.status === 'dry-run' ? EXIT.ok : EXIT.failed;
  },
};

/** --resume / --abandon (rollback-resume.ts). */
async function interrupted(ctx: CommandContext, args: Record<string, unknown>, waitTimeoutMs: number): Promise<number> {
  if (args.resume && args.abandon) throw new HoldfastError('usage', '--resume and --abandon exclude each other', { hint: 'finish the rollback (--resume) or give it up (--abandon)' });
  if (args.snapshot !== undefined) throw new HoldfastError('usage', `--${args.resume ? 'resume' : 'abandon'} takes no snapshot: it acts on the rollback that was killed`, { hint: `holdfast rollback --${args.resume ? 'resume' : 'abandon'}` });
  const { abandonRollbacks, resumeRollbacks } = await import('./rollback-resume.js');
  if (args.abandon) {
    const { code, started } = await abandonRollbacks(ctx, Boolean(args.yes));
    if (ctx.out.json) ctx.out.document({ status: 'abandoned', started });
    else ctx.out.line(`interrupted rollback abandoned; started ${started.join(', ') || 'nothing'}`);
    return code;
  }
  const { code, outcomes } = await resumeRollbacks(ctx, waitTimeoutMs, Boolean(args['allow-new-image']));
  if (ctx.out.json) ctx.out.document(outcomes.length === 1 ? outcomes[0] : { rollbacks: outcomes });
  else for (const o of outcomes) print(ctx.out.line, o);
  return code;
}

function print(line: (text?: string) => void, o: RollbackOutcome): void {
  if (o.status === 'dry-run') {
    line(`rollback to snapshot ${o.snapshot} would:`);
    for (const s of o.stop) line(`  stop     ${s.container} (${s.why}; stop timeout ${s.timeoutSec}s)`);
    for (const v of o.services) line(`  restore  ${v.service}${v.entry === v.service ? '' : ` from ${v.entry}`} (${v.method}: ${v.strategy})`);
    for (const c of o.keepRunning) line(`  keep     ${c} running (its database is restored through it)`);
    for (const c of o.start) line(`  start    ${c}`);
    for (const v of o.services) for (const n of v.notes) line(`note: [${v.service}] ${n}`);
    return;
  }
  line(
    table(
      ['SERVICE', 'FROM', 'METHOD', 'VERDICT', 'CHECKS'],
      o.services.map((v) => [
        v.service,
        v.entry,
        `${v.method} (${v.strategy})`,
        v.verdict,
        v.error ? `${v.error.message}${v.error.hint ? ` (hint: ${v.error.hint})` : ''}` : v.checks.map((c) => (c.equal ? `${c.what} equal (${c.compared})` : `${c.what} DIFFER: ${c.differences.slice(0, 3).join('; ')}`)).join(', ') || 'no fingerprint recorded',
      ]),
    ),
  );
  for (const v of o.services) for (const n of v.notes) process.stderr.write(`note: [${v.service}] ${n}\n`);
  for (const e of o.errors) process.stderr.write(`holdfast: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
  line(`rollback to snapshot ${o.snapshot}: ${o.status === 'ok' ? 'done, every check equal' : o.status === 'mismatch' ? 'done, but some data differs from the snapshot' : 'FAILED'}; started ${o.start.join(', ') || 'nothing'}`);
}
