import { formatBytes } from '../../core/progress.js';
import { totalBytes } from '../../repository/manifest.js';
import { isBroken } from '../../repository/repository.js';
import type { HoldfastCommand } from '../command.js';
import { table } from '../output.js';

export const snapshotsCommand: HoldfastCommand = {
  command: 'snapshots',
  describe: 'List snapshots: id, time, tags, services, size',
  async run(ctx) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const entries = await repo.list();
    if (ctx.out.json) {
      ctx.out.document({
        snapshots: entries.map((e) =>
          isBroken(e)
            ? { id: e.id, status: 'broken', error: e.broken }
            : { id: e.id, createdAt: e.createdAt, tags: e.tags, status: e.status, services: Object.keys(e.services), failed: Object.entries(e.services).filter(([, s]) => s.status !== 'ok').map(([n]) => n), ...bytes(e) },
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
        ['ID', 'TIME', 'STATUS', 'TAGS', 'SERVICES', 'SIZE', 'STORED'],
        entries.map((e) => {
          if (isBroken(e)) return [e.id, '-', 'BROKEN', '-', e.broken, '-', '-'];
          const b = totalBytes(e);
          const services = Object.entries(e.services).map(([n, s]) => (s.status === 'ok' ? n : `${n}(failed)`));
          return [e.id, e.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.status, e.tags.join(',') || '-', services.join(','), formatBytes(b.raw), formatBytes(b.stored)];
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
