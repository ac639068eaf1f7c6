/**
 * holdfast against a raw Qdrant snapshot create + download, on the FAKE Qdrant
 * (test/servers/qdrant-fake.ts; no real server is installable here), in one run.
 *
 *   npm run build && node dist/bench/qdrant-bench.js [--points 100000] [--dim 128] [--rounds 3]
 *   HOLDFAST_TEST_QDRANT_URL=http://127.0.0.1:6333 node dist/bench/qdrant-bench.js   # a real server
 *
 * What it measures on the fake is holdfast's own overhead (streamed download
 * with sha256 check, zstd, manifest, the fingerprint scroll), not Qdrant's
 * snapshot speed: the fake's snapshot is JSON, not Qdrant's segment tar.
 * Raw: `POST /collections/c/snapshots` + `curl` of the file (+ zstd -3, like
 * holdfast stores it) + delete. Interleaved rounds, medians, ratios holdfast / raw.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startFakeQdrant } from '../test/servers/qdrant-fake.js';
import { interleaved, timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const points = Number(arg('points', '100000'));
const dim = Number(arg('dim', '128'));
const rounds = Number(arg('rounds', '3'));
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const log = (t: string) => process.stderr.write(`[qdrant-bench] ${t}\n`);

async function main(): Promise<void> {
  const real = process.env.HOLDFAST_TEST_QDRANT_URL;
  const fake = real ? undefined : await startFakeQdrant();
  const url = real ?? fake!.url;
  const work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-bench-'));
  try {
    const client = new QdrantClient({ url, checkCompatibility: false });
    if ((await client.collectionExists('bench')).exists) await client.deleteCollection('bench');
    await client.createCollection('bench', { vectors: { size: dim, distance: 'Dot' } });
    log(`loading ${points} points of dimension ${dim} into ${real ? 'a real Qdrant' : 'the FAKE Qdrant'}`);
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
    for (let start = 0; start < points; start += 2000) {
      const batch = Array.from({ length: Math.min(2000, points - start) }, (_, i) => ({
        id: start + i + 1,
        vector: Array.from({ length: dim }, () => Math.round(rnd() * 1e4) / 1e4),
        payload: { group: (start + i) % 17, label: `item-${start + i}` },
      }));
      await client.upsert('bench', { wait: true, points: batch });
    }
    const repo = join(work, 'repo');
    const out = join(work, 'raw');
    await mkdir(out);
    const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet']);
    const service = `src=qdrant://${new URL(url).host}/?collections=bench`;
    let n = 0;
    const raw = () =>
      timed('bash', [
        '-c',
        `set -euo pipefail; i=${++n}; name=$(curl -sf -XPOST "${url}/collections/bench/snapshots?wait=true" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).result.name))'); ` +
          `curl -sf "${url}/collections/bench/snapshots/$name" | zstd -q -T0 -3 > "${out}/$i.zst"; curl -sf -XDELETE "${url}/collections/bench/snapshots/$name" >/dev/null`,
      ]);
    const backups = await interleaved(rounds, {
      raw,
      holdfast_none: () => hf(['backup', '--init', '--json', '--fingerprint', 'none', '--service', service]),
      holdfast_counts: () => hf(['backup', '--init', '--json', '--fingerprint', 'counts', '--service', service]),
      holdfast_full: () => hf(['backup', '--init', '--json', '--fingerprint', 'full', '--service', service]),
    });
    const result = {
      date: new Date().toISOString(),
      server: real ? 'real Qdrant' : 'FAKE Qdrant (test/servers/qdrant-fake.ts)',
      points,
      dim,
      backup: Object.fromEntries(Object.entries(backups).map(([k, v]) => [k, { seconds: Math.round(v.seconds * 100) / 100, all: v.all, peakRssMiB: v.peakRssMiB, ratio: ratio(v.seconds, backups.raw.seconds) }])),
    };
    console.log(JSON.stringify(result, null, 2));
    const dir = fileURLToPath(new URL('../../bench/out/', import.meta.url));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `qdrant-${result.date.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await fake?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
