/**
 * holdfast against the raw OpenSearch snapshot API, on the same data, in one run.
 *
 *   npm run build && node dist/bench/opensearch-bench.js [--docs 200000] [--rounds 3]
 *
 * Needs the embedded node (bash scripts/install/opensearch.sh). Backup:
 * `holdfast backup` (fingerprint none / counts / full) vs the raw route
 * `PUT _snapshot/raw/s?wait_for_completion=true` + `tar | zstd -T0 -3` of the
 * repository directory (what holdfast does, without holdfast). Restore:
 * `holdfast restore` under new names vs `_restore?wait_for_completion=true`
 * from the raw repository. Interleaved rounds, medians; ratios holdfast / raw
 * (below 1 is faster); writes bench/out/opensearch-*.json.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOpenSearch } from '../test/servers/opensearch.js';
import { os } from '../test/support/opensearch-data.js';
import { interleaved, timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const docs = Number(arg('docs', '200000'));
const rounds = Number(arg('rounds', '3'));
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const log = (t: string) => process.stderr.write(`[opensearch-bench] ${t}\n`);

/** Documents of mixed fields (~250 bytes): text, keywords, numbers, dates. */
async function load(url: string): Promise<void> {
  await os(url, 'PUT', '/events', {
    settings: { number_of_shards: 2, number_of_replicas: 0, refresh_interval: '-1' },
    mappings: { properties: { ts: { type: 'date' }, user: { type: 'keyword' }, kind: { type: 'keyword' }, n: { type: 'long' }, score: { type: 'float' }, text: { type: 'text' } } },
  });
  // A 4096-word vocabulary and a seeded generator: text that indexes and compresses like prose, not filler.
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const words = Array.from({ length: 4096 }, () => Array.from({ length: 3 + rnd(7) }, () => String.fromCharCode(97 + rnd(26))).join(''));
  for (let start = 0; start < docs; start += 5000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(docs, start + 5000); i++) {
      const text = Array.from({ length: 20 + rnd(20) }, () => words[rnd(words.length)]).join(' ');
      lines.push(JSON.stringify({ index: { _id: `e${i}` } }), JSON.stringify({ ts: new Date(1.7e12 + i * 1000).toISOString(), user: `u${i % 997}`, kind: words[rnd(50)], n: i, score: rnd(100000) / 100, text }));
    }
    const res = await os<{ errors: boolean; items: Array<{ index: { error?: unknown } }> }>(url, 'POST', '/events/_bulk', `${lines.join('\n')}\n`);
    if (res.errors) throw new Error(`bulk load failed: ${JSON.stringify(res.items.find((i) => i.index.error)?.index.error)}`);
  }
  await os(url, 'PUT', '/events/_settings', { index: { refresh_interval: '1s' } });
  await os(url, 'POST', '/events/_refresh');
  await os(url, 'POST', '/events/_forcemerge?max_num_segments=1');
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'holdfast-os-bench-'));
  const node = await startOpenSearch({ pathRepo: join(work, 'path-repo'), heap: '1g' });
  try {
    log(`loading ${docs} documents`);
    await load(node.url);
    const count = (await os<{ count: number }>(node.url, 'GET', '/events/_count')).count;
    const store = (await os<Array<{ 'store.size': string }>>(node.url, 'GET', '/_cat/indices/events?format=json&bytes=b'))[0]!['store.size'];
    log(`${count} documents, ${Math.round(Number(store) / 1048576)} MiB store`);
    const rawDir = join(node.pathRepo, 'raw');
    await os(node.url, 'PUT', '/_snapshot/raw', { type: 'fs', settings: { location: rawDir } });
    const repo = join(work, 'repo');
    const out = join(work, 'raw-out');
    await mkdir(out);
    const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet']);
    const service = `src=opensearch://127.0.0.1:${node.port}`;
    let n = 0;
    let lastId = '';
    const backups = await interleaved(rounds, {
      raw: () =>
        timed('bash', ['-c', `set -euo pipefail; s=s${++n}; curl -sf -XPUT "${node.url}/_snapshot/raw/$s?wait_for_completion=true" -H 'content-type: application/json' -d '{"indices":"events","include_global_state":false}' >/dev/null; tar -C "${rawDir}" -cf - . | zstd -q -T0 -3 > "${out}/$s.tar.zst"; curl -sf -XDELETE "${node.url}/_snapshot/raw/$s" >/dev/null`]),
      holdfast_none: async () => {
        const t = await hf(['backup', '--init', '--json', '--fingerprint', 'none', '--service', service]);
        lastId = (JSON.parse(t.stdout) as { snapshot: string }).snapshot;
        return t;
      },
      holdfast_counts: () => hf(['backup', '--init', '--json', '--fingerprint', 'counts', '--service', service]),
      holdfast_full: () => hf(['backup', '--init', '--json', '--fingerprint', 'full', '--service', service]),
    });
    const rawSize = (await stat(join(out, 's1.tar.zst'))).size;

    // Restore: raw `_restore` of a kept snapshot under a new name vs holdfast restore under a new name.
    await os(node.url, 'PUT', '/_snapshot/raw/keep?wait_for_completion=true', { indices: 'events', include_global_state: false });
    let r = 0;
    const restores = await interleaved(rounds, {
      raw: () =>
        timed('bash', ['-c', `set -euo pipefail; i=${++r}; curl -sf -XPOST "${node.url}/_snapshot/raw/keep/_restore?wait_for_completion=true" -H 'content-type: application/json' -d "{\\"indices\\":\\"events\\",\\"rename_pattern\\":\\"^\\",\\"rename_replacement\\":\\"raw$i-\\"}" >/dev/null; curl -sf -XDELETE "${node.url}/raw$i-events" >/dev/null`]),
      holdfast: async () => {
        const t = await hf(['restore', lastId, '--json', '--target', `src=opensearch://127.0.0.1:${node.port}/?rename_pattern=^&rename_replacement=hf${r}-`]);
        await os(node.url, 'DELETE', `/hf${r}-events`);
        return t;
      },
    });
    const result = {
      date: new Date().toISOString(),
      version: node.version,
      docs: count,
      storeMiB: Math.round(Number(store) / 1048576),
      rawTarZstMiB: Math.round((rawSize / 1048576) * 10) / 10,
      backup: Object.fromEntries(Object.entries(backups).map(([k, v]) => [k, { seconds: Math.round(v.seconds * 100) / 100, all: v.all, peakRssMiB: v.peakRssMiB, ratio: ratio(v.seconds, backups.raw.seconds) }])),
      restore: Object.fromEntries(Object.entries(restores).map(([k, v]) => [k, { seconds: Math.round(v.seconds * 100) / 100, all: v.all, peakRssMiB: v.peakRssMiB, ratio: ratio(v.seconds, restores.raw.seconds) }])),
    };
    console.log(JSON.stringify(result, null, 2));
    const dir = fileURLToPath(new URL('../../bench/out/', import.meta.url));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `opensearch-${result.date.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await node.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
