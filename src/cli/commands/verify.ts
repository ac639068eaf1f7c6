import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXIT, HoldfastError, toHoldfastError } from '../../core/errors.js';
import type { Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { HoldfastCommand } from '../command.js';
import { printRestoreTest, proveSnapshot } from '../restore-test-report.js';
import { verifyUsage } from './verify-usage.js';

export interface ArtifactCheck {
  service: string;
  artifact: string;
  ok: boolean;
  error?: string;
}

/**
 * Recomputes the checksum of every artifact of a snapshot, and decompresses
 * it: a stream cut short before its checksum was taken (a truncated zstd
 * frame whose sha256 the manifest agrees with) fails here, not in a restore.
 */
export async function verifySnapshot(repo: Repository, manifest: Manifest, signal: AbortSignal): Promise<ArtifactCheck[]> {
  const results: ArtifactCheck[] = [];
  for (const [service, record] of Object.entries(manifest.services)) {
    const source = repo.artifacts(manifest.id, service, record.artifacts, signal);
    for (const artifact of record.artifacts) {
      try {
        // open() checks the stored bytes' sha256 and size, zstd's exit and frame checksums, and the decompressed size.
        await pipeline(source.open(artifact.name), new Writable({ write: (_chunk, _enc, done) => done() }), { signal }).catch(async (error: unknown) => {
          // Damaged bytes can stop zstd before the checksum is known: the checksum's verdict, when it has one, names the damage best.
          if (signal.aborted) throw error;
          await repo.verifyArtifact(manifest.id, service, artifact, signal);
          throw error;
        });
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
  ...verifyUsage,
  async run(ctx, args) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const manifest = await repo.load(await repo.resolve(String(args.snapshot)));
    const printChecksums = (results: ArtifactCheck[]) => {
      if (ctx.out.json) return;
      const checksumsOk = results.every((r) => r.ok);
      for (const r of results) (r.ok ? ctx.out.details : ctx.out.line)(`${r.ok ? 'ok     ' : 'CORRUPT'}  ${r.service}/${r.artifact}${r.error ? `  ${r.error}` : ''}`);
      ctx.out.line(checksumsOk ? `snapshot ${manifest.id}: ${results.length} artifacts verified in ${repo.location}` : `snapshot ${manifest.id}: ${results.filter((r) => !r.ok).length} of ${results.length} artifacts are damaged`);
    };
    const proof = await proveSnapshot(ctx, repo, manifest, Boolean(args['restore-test']), { jobs: args.jobs, accept: args.accept }, printChecksums);
    if (ctx.signal.aborted) throw new HoldfastError('interrupted', 'verify interrupted; the scratch targets were removed and no verdict was stored', { hint: 'run it again' });
    const results = proof.checksums;
    const checksumsOk = results.every((r) => r.ok);
    if (ctx.out.json) {
      ctx.out.document({
        snapshot: manifest.id,
        repository: repo.location,
        status: !checksumsOk ? 'corrupt' : proof.ok ? 'ok' : 'failed',
        artifacts: results,
        ...(proof.restoreTest ? { restoreTest: proof.restoreTest } : {}),
      });
    } else {
      if (proof.restoreTest) {
        ctx.out.details();
        printRestoreTest(ctx, manifest, proof.restoreTest.services);
      }
    }
    return proof.ok ? EXIT.ok : EXIT.failed;
  },
};
