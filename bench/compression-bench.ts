/**
 * Which compressor keeps up with a dump: gzip -6 (pg_dump's built-in choice,
 * here as Node's zlib and the gzip CLI) against the zstd CLI at levels 1, 3
 * and 6, multi-threaded, on the same input, in one run.
 *
 *   npm run build && node dist/bench/compression-bench.js FILE
 *
 * FILE should be a real uncompressed dump (e.g. `pg_dump -Fc -Z0 db > FILE`):
 * synthetic filler flatters every compressor.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { timed } from './timed.js';

const input = process.argv[2];
if (!input) {
  console.error('usage: node dist/bench/compression-bench.js DUMP_FILE');
  process.exit(2);
}
const inBytes = (await stat(input)).size;
const out = `${input}.bench-out`;
const MB = 1048576;

const rows: Array<{ codec: string; seconds: number; mbPerSecond: number; ratio: number }> = [];
async function record(codec: string, run: () => Promise<number>) {
  await run(); // warm the page cache and the binary
  const started = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const outBytes = (await stat(out)).size;
  rows.push({ codec, seconds: Math.round(seconds * 100) / 100, mbPerSecond: Math.round(inBytes / MB / seconds), ratio: Math.round((inBytes / outBytes) * 100) / 100 });
}

await record('node zlib gzip -6', async () => {
  await pipeline(createReadStream(input), createGzip({ level: 6 }), createWriteStream(out));
  return 0;
});
await record('gzip -6 (CLI)', async () => (await timed('bash', ['-c', `gzip -6 -c '${input}' > '${out}'`])).seconds);
for (const level of [1, 3, 6]) {
  await record(`zstd -${level} -T0 (CLI)`, async () => (await timed('zstd', ['-q', '-f', '-T0', `-${level}`, input, '-o', out])).seconds);
}
console.log(`input: ${Math.round(inBytes / MB)} MiB`);
console.table(rows);
