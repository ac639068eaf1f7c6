/**
 * A throwaway S3-compatible server for tests: versitygw (POSIX backend) built by
 * scripts/install/s3.sh, on a free port of 127.0.0.1, with its own data dir and its own
 * credentials (passed through the environment, never argv).
 *
 *   const s3 = await startS3();
 *   await s3.createBucket('backups');
 *   await holdfast(['--repo', 's3://backups/app', 'snapshots'], s3.env);
 *   await s3.stop();      // kills the server, removes the data dir
 *
 * `kill()` stops the server but keeps its data and port, and `start()` brings it back on them:
 * for the "network cut mid-upload" tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { waitFor } from '../../src/core/wait.js';
import { freePort } from '../support/free-port.js';

export interface S3Server {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment the CLI needs to use this server (endpoint, credentials, region). */
  env: Record<string, string>;
  client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Every key in a bucket (under a prefix). */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** Multipart uploads begun and neither completed nor aborted. */
  uploads(bucket: string, prefix?: string): Promise<string[]>;
  /** Stops the process (SIGKILL), keeping data dir and port. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

// The SDK warns under Node 20 that later versions need Node 22; the tests pin it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export function versitygwPath(): string {
  return process.env.HOLDFAST_VERSITYGW ?? join(process.env.HOLDFAST_TEST_CACHE ?? '/opt/holdfast-test', 'bin', 'versitygw');
}

export function s3ServerAvailable(): boolean {
  return existsSync(versitygwPath());
}

export async function startS3(): Promise<S3Server> {
  const binary = versitygwPath();
  if (!existsSync(binary)) throw new Error(`${binary} not found: run scripts/install/s3.sh`);
  const root = await mkdtemp(join(tmpdir(), 'holdfast-s3-'));
  const data = join(root, 'data');
  await mkdir(data);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(18).toString('base64url');
  let child: ChildProcess | undefined;

  const launch = async () => {
    const log = await open(join(root, 'server.log'), 'a');
    child = spawn(binary, ['--port', `127.0.0.1:${port}`, '--quiet', 'posix', data], {
      env: { PATH: process.env.PATH, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
      stdio: ['ignore', log.fd, log.fd],
    });
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`versitygw exited (${code}) during start-up`))));
    await log.close();
    await Promise.race([
      exited,
      waitFor(
        'versitygw',
        async () => {
          const response = await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
          return response.status > 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      ),
    ]);
    exited.catch(() => undefined);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const gone = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await gone;
  };

  await launch();
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    port,
    accessKeyId,
    secretAccessKey,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Without credentials the SDK's chain would ask the EC2 metadata address: tests stay on loopback.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async keys(bucket, prefix = '') {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        out.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort();
    },
    async uploads(bucket, prefix = '') {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return (page.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
    },
    kill,
    start: launch,
    logTail: async () => (await readFile(join(root, 'server.log'), 'utf8').catch(() => '')).split('\n').slice(-20).join('\n'),
    async stop() {
      client.destroy();
      await kill();
      await rm(root, { recursive: true, force: true });
    },
  };
}
