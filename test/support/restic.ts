import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToolText } from '../../src/core/process.js';
import { ResticRepository } from '../../src/repository/restic-repository.js';

/** A fresh restic repository in a temp dir, its password in a 0600 file (never in argv). */
export interface ResticFixture {
  dir: string;
  repo: string;
  env: Record<string, string>;
  /** restic itself, with this repository and password. */
  restic(args: string[]): Promise<string>;
  /** holdfast's restic snapshots (artifacts, manifests, annotations) as restic lists them. */
  snapshots(): Promise<Array<{ id: string; tags?: string[]; paths: string[] }>>;
  cleanup(): Promise<void>;
}

export async function resticFixture(init = true): Promise<ResticFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'holdfast-restic-'));
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, 'fixture-restic-secret\n');
  await chmod(passwordFile, 0o600);
  const repo = join(dir, 'repo');
  const env = { RESTIC_PASSWORD_FILE: passwordFile, XDG_CACHE_HOME: join(dir, 'cache') };
  const restic = (args: string[]) => runToolText('restic', args, { env: { ...env, RESTIC_REPOSITORY: repo } });
  if (init) await restic(['init']);
  return {
    dir,
    repo,
    env,
    restic,
    snapshots: async () => JSON.parse(await restic(['snapshots', '--json'])) ?? [],
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Artifacts that no manifest refers to. */
export async function resticLeftovers(repo: string, env: Record<string, string>): Promise<string[]> {
  return withEnv(env, async () => {
    const repository = new ResticRepository(repo);
    await repository.open({ create: false });
    return repository.leftovers();
  });
}

/** Runs `fn` with `env` in process.env (the backend reads the restic password from there, as in the CLI). */
export async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
