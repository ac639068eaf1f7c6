import { formatBytes } from '../../core/progress.js';
import { totalBytes } from '../../repository/manifest.js';
import { isBroken } from '../../repository/repository.js';
import { readRestoreTest, type RestoreTestAnnotation } from '../../core/restore-test.js';
import type { HoldfastCommand } from '../command.js';
import { restoreTestSummary } from '../restore-test-report.js';
import { table } from '../output.js';
import { snapshotsUsage } from './snapshots-usage.js';

export const snapshotsCommand: HoldfastCommand = {
  ...snapshotsUsage,
  async run(ctx) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const entries = await repo.list();
    const verdicts = new Map<string, RestoreTestAnnotation | undefined>();
    for (const e of entries) if (!isBroken(e)) verdicts.set(e.id, readRestoreTest(await repo.annotations(e.id)));
    if (ctx.out.json) {
      ctx.out.document({
        snapshots: entries.map((e) =>
          isBroken(e)
            ? { id: e.id, status: 'broken', error: e.broken }
            : { id: e.id, createdAt: e.createdAt, tags: e.tags, status: e.status, services: Object.keys(e.services), failed: Object.entries(e.services).filter(([, s]) => s.status !== 'ok').map(([n]) => n), ...bytes(e), restoreTest: verdicts.get(e.id) ?? null },
        ),
      });
      return 0;
    }
    if (entries.length === 0) {
      ctx.out.line('no snapshots yet');
      return 0;
    }
    ctx.out.line(
      table(
        ['ID', 'TIME', 'STATUS', 'TAGS', 'SERVICES', 'SIZE', 'STORED', 'RESTORE TEST'],
        entries.map((e) => {
          if (isBroken(e)) return [e.id, '-', 'BROKEN', '-', e.broken, '-', '-', '-'];
          const b = totalBytes(e);
          const services = Object.entries(e.services).map(([n, s]) => (s.status === 'ok' ? n : `${n}(failed)`));
          return [e.id, e.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.status, e.tags.join(',') || '-', services.join(','), formatBytes(b.raw), formatBytes(b.stored), restoreTestSummary(verdicts.get(e.id))];
        }),
      ),
    );
    return 0;
  },
};

function bytes(m: Parameters<typeof totalBytes>[0]) {
  const b = totalBytes(m);
  return { bytes: b.raw, storedBytes: b.stored };
}
