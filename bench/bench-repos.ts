import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { runToolText } from '../src/core/process.js';
import { startS3, type S3Server } from '../test/servers/s3.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

/**
 * The repositories a benchmark writes to, from `--repo` arguments:
 *   dir                      a fresh plain directory repository
 *   restic                   a fresh local restic repository (password in a 0600 file)
 *   enc                      a fresh encrypted directory repository (a key file)
 *   s3                       a fresh bucket on a versitygw server started for the run
 *                            (scripts/install/s3.sh); its size is the sum of its objects
 *   LABEL=REPO[,du=PATH]     anything holdfast's --repo takes (s3://bucket/prefix, an
 *                            encrypted dir with HOLDFAST_PASSWORD in the environment, ...);
 *                            du=PATH is the local directory whose size is the repository's
 *                            size on disk (a MinIO bucket's data directory), default REPO itself
 * A repository given by LABEL=REPO must exist and start empty; its environment
 * (credentials, passphrases) comes from the benchmark's own environment.
 */
export interface BenchRepo {
  label: string;
  repo: string;
  env: Record<string, string>;
  /** Bytes on disk of the repository now. */
  bytes(): Promise<number>;
  /** Empties it for a new round (only for repositories the benchmark created). */
  reset(): Promise<void>;
  /** Whether reset() works: the benchmark created it. */
  resettable: boolean;
  /** Stops what was started for it. */
  close?(): Promise<void>;
}

export async function benchRepos(specs: string[], work: string): Promise<BenchRepo[]> {
  const out: BenchRepo[] = [];
  await mkdir(work, { recursive: true });
  for (const spec of specs) {
    if (spec === 'dir') {
      const path = join(work, 'dir-repo');
      out.push({ label: 'dir', repo: path, env: {}, bytes: () => diskBytes(path), reset: () => rm(path, { recursive: true, force: true }), resettable: true });
    } else if (spec === 'enc') {
      const path = join(work, 'enc-repo');
      const keyFile = join(work, 'enc.key');
      await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
      const env = { HOLDFAST_KEY_FILE: keyFile };
      const reset = async () => {
        await rm(path, { recursive: true, force: true });
        await runToolText(process.execPath, [BIN, '--repo', path, 'init', '--encrypt'], { env });
      };
      await reset();
      out.push({ label: 'enc', repo: path, env, bytes: () => diskBytes(path), reset, resettable: true });
    } else if (spec === 's3') {
      const server = await startS3();
      let bucket = '';
      const reset = async () => {
        bucket = `bench-${randomBytes(4).toString('hex')}`;
        await server.createBucket(bucket);
      };
      await reset();
      out.push({ label: 's3', get repo() { return `s3://${bucket}/holdfast`; }, env: server.env, bytes: () => bucketBytes(server, bucket), reset, resettable: true, close: () => server.stop() });
    } else if (spec === 'restic') {
      const path = join(work, 'restic-repo');
      const passwordFile = join(work, 'restic-password');
      await writeFile(passwordFile, 'bench-restic-password\n');
      await chmod(passwordFile, 0o600);
      const env = { RESTIC_PASSWORD_FILE: passwordFile, XDG_CACHE_HOME: join(work, 'cache') };
      const reset = async () => {
        await rm(path, { recursive: true, force: true });
        await mkdir(work, { recursive: true });
        await runToolText('restic', ['init'], { env: { ...env, RESTIC_REPOSITORY: path } });
      };
      await reset();
      out.push({ label: 'restic', repo: `restic:${path}`, env, bytes: () => diskBytes(path), reset, resettable: true });
    } else {
      const match = /^([^=]+)=(.+?)(?:,du=(.+))?$/.exec(spec);
      if (!match) throw new Error(`--repo ${spec}: expected dir, restic or LABEL=REPO[,du=PATH]`);
      const [, label, repo, du] = match;
      const measured = du ?? repo!.replace(/^restic:/, '');
      out.push({
        label: label!,
        repo: repo!,
        env: {},
        bytes: () => diskBytes(measured),
        reset: async () => {
          throw new Error(`${label}: the benchmark cannot empty a repository it did not create`);
        },
        resettable: false,
      });
    }
  }
  return out;
}

/** Sum of the sizes of a bucket's objects. */
async function bucketBytes(server: S3Server, bucket: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) total += o.Size ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return total;
}

/** Sum of the sizes of the files under a path (what `du -sb` says, without the directories). */
export async function diskBytes(path: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await diskBytes(join(path, entry));
  return total;
}

export function args(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.argv.length; i++) if (process.argv[i] === `--${name}` && process.argv[i + 1]) out.push(process.argv[i + 1]!);
  return out;
}

export function arg(name: string, fallback: string): string {
  return args(name).at(-1) ?? fallback;
}

export const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
