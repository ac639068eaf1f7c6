/**
 * The baseline of bench/s3-bench.ts: `pg_dump -Fc -Z0 | zstd -3 -T0` and a
 * plain AWS SDK multipart upload of zstd's output (lib-storage, the same part
 * size and queue as holdfast), with nothing else: no hashing, no manifest, no
 * lock. Endpoint and credentials from the environment, like holdfast.
 *
 *   node dist/bench/s3-raw-upload.js BUCKET KEY PG_DUMP_PATH DATABASE
 */
import { spawn } from 'node:child_process';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const [bucket, key, pgDump, database] = process.argv.slice(2);
if (!bucket || !key || !pgDump || !database) throw new Error('usage: s3-raw-upload BUCKET KEY PG_DUMP DATABASE');

const zstd = spawn('zstd', ['-q', '-T0', '-3', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
const dump = spawn(pgDump, ['-Fc', '-Z0', '-d', database], { stdio: ['ignore', zstd.stdin, 'inherit'] });
zstd.stdin.destroy();
const client = new S3Client({
  endpoint: process.env.AWS_ENDPOINT_URL_S3,
  region: process.env.AWS_REGION ?? 'us-east-1',
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const exited = (child: ReturnType<typeof spawn>, name: string) =>
  new Promise<void>((resolve, reject) => child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited ${code}`)))));
await Promise.all([
  new Upload({ client, params: { Bucket: bucket, Key: key, Body: zstd.stdout }, partSize: 16 * 1024 * 1024, queueSize: 4 }).done(),
  exited(dump, 'pg_dump'),
  exited(zstd, 'zstd'),
]);
client.destroy();
