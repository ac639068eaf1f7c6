import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runToolText } from '../src/core/process.js';

/**
 * The repositories a benchmark writes to, from `--repo` arguments:
 *   dir                      a fresh plain directory repository
 *   restic                   a fresh local restic repository (password in a 0600 file)
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
}

export async function benchRepos(specs: string[], work: string): Promise<BenchRepo[]> {
  const out: BenchRepo[] = [];
  await mkdir(work, { recursive: true });
  for (const spec of specs) {
    if (spec === 'dir') {
      const path = join(work, 'dir-repo');
      out.push({ label: 'dir', repo: path, env: {}, bytes: () => diskBytes(path), reset: () => rm(path, { recursive: true, force: true }) });
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
      out.push({ label: 'restic', repo: `restic:${path}`, env, bytes: () => diskBytes(path), reset });
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
      });
    }
  }
  return out;
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
