import { isBroken } from '../../repository/repository.js';
import type { HoldfastCommand } from '../command.js';
import { verifySnapshot } from './verify.js';
import { checkUsage } from './check-usage.js';

export const checkCommand: HoldfastCommand = {
  ...checkUsage,
  async run(ctx, args) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const warnings = (await repo.privacyWarnings?.()) ?? [];
    for (const w of warnings) ctx.out.warn(w);
    const entries = await repo.list();
    const problems: Array<{ snapshot: string; service?: string; artifact?: string; problem: string }> = [];
    // A backend with a checker of its own (restic check) runs it first.
    for (const problem of (await repo.checkStorage?.({ readData: !!args['read-data'], signal: ctx.signal })) ?? []) problems.push({ snapshot: '-', problem });
    let artifacts = 0;
    for (const [index, entry] of entries.entries()) {
      if (isBroken(entry)) {
        problems.push({ snapshot: entry.id, problem: entry.broken });
        continue;
      }
      if (args['read-data']) {
        ctx.out.info(`reading snapshot ${entry.id} (${index + 1} of ${entries.length})`);
        for (const r of await verifySnapshot(repo, entry, ctx.signal)) {
          artifacts++;
          if (!r.ok) problems.push({ snapshot: entry.id, service: r.service, artifact: r.artifact, problem: r.error ?? 'damaged' });
        }
        continue;
      }
      for (const [service, record] of Object.entries(entry.services)) {
        for (const a of record.artifacts) {
          artifacts++;
          const size = await repo.storedSize(entry.id, service, a);
          if (size !== a.storedBytes) problems.push({ snapshot: entry.id, service, artifact: a.name, problem: `${service}/${a.name}: ${size === null ? 'missing' : `${size} bytes, the manifest says ${a.storedBytes}`}` });
        }
      }
    }
    if (ctx.out.json) ctx.out.document({ status: problems.length ? 'damaged' : 'ok', ...(warnings.length ? { warnings } : {}), snapshots: entries.length, artifacts, readData: !!args['read-data'], problems });
    else {
      for (const p of problems) ctx.out.line(`PROBLEM  ${p.snapshot}  ${p.problem}`);
      ctx.out.line(`${entries.length} snapshots, ${artifacts} artifacts ${args['read-data'] ? 'read' : 'present with the right sizes'}${problems.length ? `; ${problems.length} problems` : '; no problems'}`);
    }
    return problems.length ? 1 : 0;
  },
};
