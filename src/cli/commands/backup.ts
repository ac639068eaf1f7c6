import { runBackup } from '../../core/backup-executor.js';
import { EXIT, HoldfastError } from '../../core/errors.js';
import { formatBytes, formatDuration, ProgressReporter } from '../../core/progress.js';
import { strings, type HoldfastCommand } from '../command.js';
import { table } from '../output.js';
import { planChosen } from './plan.js';
import { printRestoreTest, proveSnapshot, type SnapshotProof } from '../restore-test-report.js';
import { backupUsage } from './backup-usage.js';

export const backupCommand: HoldfastCommand = {
  ...backupUsage,
  async run(ctx, args) {
    const parallel = Number(args.parallel);
    if (!Number.isInteger(parallel) || parallel < 1) throw new HoldfastError('usage', '--parallel must be a whole number of at least 1');
    for (const tag of strings(args.tag)) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(tag)) throw new HoldfastError('usage', `invalid tag ${JSON.stringify(tag)}`, { hint: 'letters, digits, "_", ".", ":", "-"' });
    }
    const repo = ctx.repository();
    // Only --init creates a repository: a typo in --repo must not start a new one silently.
    await repo.open({ create: Boolean(args.init) });
    const progress = ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose);
    const items = await planChosen(ctx, args);
    const timeoutOf = (s: (typeof items)[number]['service']) => Number(s.options.timeout ?? args.timeout) * 1000;
    const outcome = await runBackup(repo, items, {
      tags: strings(args.tag),
      parallel,
      timeoutMs: timeoutOf,
      fingerprint: args.fingerprint as 'full' | 'counts' | 'none',
      signal: ctx.signal,
      progress,
    });
    for (const note of outcome.notes) ctx.out.info(`note: ${note}`);
    const services_ = Object.entries(outcome.services).map(([name, s]) => ({
      service: name,
      engine: s.engine,
      strategy: s.strategy,
      // Nothing of a failed service was saved: no consistency to claim (not "inconsistent", which reads as saved).
      consistency: s.status === 'failed' ? null : s.consistency,
      status: s.status,
      bytes: s.artifacts.reduce((n, a) => n + a.rawBytes, 0),
      storedBytes: s.artifacts.reduce((n, a) => n + a.storedBytes, 0),
      durationMs: s.durationMs,
      ...(s.physicalOf ? { physicalOf: s.physicalOf } : {}),
      ...(s.error ? { error: s.error } : {}),
      ...(s.notes.length ? { notes: s.notes } : {}),
    }));
    // The backup's own result first, in the order the work happened: the restore test of --verify comes after it.
    if (!ctx.out.json) {
      ctx.out.details(
        table(
          ['SERVICE', 'ENGINE', 'STRATEGY', 'CONSISTENCY', 'STATUS', 'SIZE', 'STORED', 'TIME'],
          services_.map((s) => [s.service, s.engine, s.strategy, s.consistency ?? '-', s.status, formatBytes(s.bytes), formatBytes(s.storedBytes), formatDuration(s.durationMs)]),
        ),
      );
      for (const s of services_) {
        if (s.error) process.stderr.write(`holdfast: [${s.service}] ${s.error.message}\n${s.error.hint ? `  hint: ${s.error.hint}\n` : ''}`);
        for (const n of s.notes ?? []) ctx.out.info(`note: [${s.service}] ${n}`);
      }
      if (outcome.snapshotId) ctx.out.line(`snapshot ${outcome.snapshotId} saved to ${repo.location}${outcome.status === 'ok' ? '' : ' without the failed services'}`);
      else ctx.out.line(`no snapshot was saved to ${repo.location}: every service failed`);
    }
    let verified: boolean | undefined;
    let proof: SnapshotProof | undefined;
    if (args.verify && outcome.manifest) {
      proof = await proveSnapshot(ctx, repo, outcome.manifest, true, { accept: args.accept });
      verified = proof.ok;
    }
    const code = verified === false ? EXIT.failed : outcome.status === 'ok' ? EXIT.ok : outcome.status === 'partial' ? EXIT.partial : EXIT.failed;
    if (ctx.out.json) {
      ctx.out.document({
        snapshot: outcome.snapshotId ?? null,
        repository: repo.location,
        status: outcome.status,
        ...(verified !== undefined ? { verified } : {}),
        ...(proof?.restoreTest ? { restoreTest: proof.restoreTest } : {}),
        ...(outcome.notes.length ? { notes: outcome.notes } : {}),
        services: services_,
      });
      return code;
    }
    if (proof?.restoreTest && outcome.manifest) {
      ctx.out.details();
      printRestoreTest(ctx, outcome.manifest, proof.restoreTest.services);
    }
    if (verified === true) ctx.out.line(`snapshot ${outcome.snapshotId} verified and restore-tested`);
    if (verified === false) ctx.out.line('verification FAILED: see the errors above');
    return code;
  },
};
