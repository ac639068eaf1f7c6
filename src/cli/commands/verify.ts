import { toHoldfastError } from '../../core/errors.js';
import type { Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { HoldfastCommand } from '../command.js';

export interface ArtifactCheck {
  service: string;
  artifact: string;
  ok: boolean;
  error?: string;
}

/** Recomputes the checksum of every artifact of a snapshot. */
export async function verifySnapshot(repo: Repository, manifest: Manifest, signal: AbortSignal): Promise<ArtifactCheck[]> {
  const results: ArtifactCheck[] = [];
  for (const [service, record] of Object.entries(manifest.services)) {
    for (const artifact of record.artifacts) {
      try {
        await repo.verifyArtifact(manifest.id, service, artifact, signal);
        results.push({ service, artifact: artifact.name, ok: true });
      } catch (error) {
        const e = toHoldfastError(error, { service });
        process.stderr.write(`holdfast: [${service}] ${e.message}\n`);
        results.push({ service, artifact: artifact.name, ok: false, error: e.message });
      }
    }
  }
  return results;
}

export const verifyCommand: HoldfastCommand = {
  command: 'verify <snapshot>',
  describe: 'Recompute the checksum of every artifact of a snapshot',
  builder: (y) => y.positional('snapshot', { type: 'string', describe: 'id, unique prefix, tag or "latest"' }),
  async run(ctx, args) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const manifest = await repo.load(await repo.resolve(String(args.snapshot)));
    const results = await verifySnapshot(repo, manifest, ctx.signal);
    const ok = results.every((r) => r.ok);
    if (ctx.out.json) ctx.out.document({ snapshot: manifest.id, status: ok ? 'ok' : 'corrupt', artifacts: results });
    else {
      for (const r of results) ctx.out.line(`${r.ok ? 'ok     ' : 'CORRUPT'}  ${r.service}/${r.artifact}${r.error ? `  ${r.error}` : ''}`);
      ctx.out.line(ok ? `snapshot ${manifest.id}: ${results.length} artifacts verified` : `snapshot ${manifest.id}: ${results.filter((r) => !r.ok).length} of ${results.length} artifacts are damaged`);
    }
    return ok ? 0 : 1;
  },
};
