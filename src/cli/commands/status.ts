import { formatAge, parseDuration } from '../../core/duration.js';
import { EXIT } from '../../core/errors.js';
import { formatBytes } from '../../core/progress.js';
import { serviceFreshness, snapshotsWithVerdicts, type FreshnessBounds, type ServiceFreshness } from '../../core/status-report.js';
import type { HoldfastCommand } from '../command.js';
import { table } from '../output.js';
import { statusUsage } from './status-usage.js';

export const statusCommand: HoldfastCommand = {
  ...statusUsage,
  async run(ctx, args) {
    const bounds: FreshnessBounds = {};
    if (args['max-age'] !== undefined) bounds.maxAgeMs = parseDuration(args['max-age'], '--max-age');
    if (args['max-restore-test-age'] !== undefined) bounds.maxRestoreTestAgeMs = parseDuration(args['max-restore-test-age'], '--max-restore-test-age');
    const repo = ctx.repository();
    await repo.open({ create: false });
    const rows = serviceFreshness(await snapshotsWithVerdicts(repo), ctx.config.services.map((s) => s.name), bounds);
    const stale = rows.filter((r) => r.problems.length > 0);
    const code = stale.length || rows.length === 0 ? EXIT.stale : EXIT.ok;
    if (ctx.out.json) {
      ctx.out.document({ status: code === EXIT.ok ? 'ok' : 'stale', repository: repo.location, ...(bounds.maxAgeMs !== undefined ? { maxAgeSeconds: bounds.maxAgeMs / 1000 } : {}), services: rows.map(json) });
      return code;
    }
    if (rows.length === 0) {
      ctx.out.line(`no services: none configured and no snapshot in ${repo.location}`);
      return code;
    }
    ctx.out.details(
      table(
        ['SERVICE', 'LAST GOOD SNAPSHOT', 'AGE', 'SIZE', 'RESTORE TEST', 'STATUS'],
        rows.map((r) => [
          r.service,
          r.lastGood?.snapshot ?? '-',
          r.lastGood ? formatAge(r.lastGood.ageMs) : '-',
          r.lastGood ? formatBytes(r.lastGood.bytes) : '-',
          r.restoreTest ? `${r.restoreTest.verdict} ${formatAge(r.restoreTest.ageMs)} ago` : '-',
          r.problems.length ? r.problems.join('; ').toUpperCase() : 'ok',
        ]),
      ),
    );
    for (const r of stale) {
      if (r.lastFailed) process.stderr.write(`holdfast: [${r.service}] the last backup of it failed (snapshot ${r.lastFailed.snapshot}${r.lastFailed.error ? `: ${r.lastFailed.error}` : ''})\n`);
    }
    ctx.out.line(stale.length ? `${stale.length} of ${rows.length} services stale: ${stale.map((r) => `${r.service} (${r.problems.join(', ')})`).join(', ')}` : `all ${rows.length} services fresh`);
    return code;
  },
};

function json(r: ServiceFreshness) {
  return {
    service: r.service,
    ok: r.problems.length === 0,
    problems: r.problems,
    lastGood: r.lastGood ? { ...r.lastGood, ageSeconds: Math.round(r.lastGood.ageMs / 1000), ageMs: undefined } : null,
    lastFailed: r.lastFailed ?? null,
    restoreTest: r.restoreTest ? { ...r.restoreTest, ageSeconds: Math.round(r.restoreTest.ageMs / 1000), ageMs: undefined } : null,
  };
}
