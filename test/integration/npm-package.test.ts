/**
 * The npm package as a user gets it: `npm pack` in a clean copy of the
 * sources (no dist/: prepack must build it), the tarball installed into an
 * empty directory (dependencies from npm's cache or the registry), and its
 * `holdfast` bin run from there: --version, init, and a backup of a real
 * PostgreSQL. The worktree's own dist/ is never touched (other test files
 * run the CLI from it meanwhile).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

const execFileText = promisify(execFile);

/** execFile whose failure shows the command's stdout too (tsc and npm report there). */
async function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileText(command, args, { ...options, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(await (await import('node:fs/promises')).readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** npm without the npm_* variables of the `npx vitest` that runs this file: they would steer its prefix and cache. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

describe('the npm package', () => {
  let work: string;
  let pg: PgCluster;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-npm-'));
    pg = await startPgCluster();
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('npm pack builds dist/ and ships it; the installed bin runs --version, init and a backup', async () => {
    // A clean copy of what a checkout holds (no dist/), with the worktree's dependencies for the build.
    const source = join(work, 'source');
    // bench/ (compiled by tsconfig) imports test/servers and test/support.
    for (const entry of ['package.json', 'tsconfig.json', 'README.md', 'bin', 'src', 'drivers', 'bench', 'test']) await cp(join(ROOT, entry), join(source, entry), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: source, env: npmEnv() });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['bin/holdfast.js', 'package.json', 'README.md', 'dist/src/cli/main.js', 'dist/drivers/postgres/postgres-driver.js']));
    expect(files.filter((f) => /\.ts$|\.map$|^dist\/(test|bench)\/|^test\//.test(f))).toEqual([]);

    // Installed into an empty directory, as `npm install holdfast-0.1.0.tgz` would on another machine.
    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), '{ "name": "holdfast-user", "private": true }\n');
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(work, info!.filename)], { cwd: app, env: npmEnv() });
    const bin = join(app, 'node_modules', '.bin', 'holdfast');
    expect(await realpath(bin)).toBe(join(await realpath(app), 'node_modules', 'holdfast', 'bin', 'holdfast.js'));

    const env = { ...npmEnv(), HOLDFAST_DB_PASSWORD: pg.password };
    expect((await run(bin, ['--version'], { cwd: app, env })).stdout.trim()).toBe(VERSION);
    const repo = join(work, 'repo');
    await run(bin, ['--repo', repo, 'init'], { cwd: app, env });
    const backup = await run(bin, ['--repo', repo, 'backup', '--service', `db=${pg.url('postgres')}`, '--json'], { cwd: app, env });
    const doc = JSON.parse(backup.stdout) as { status: string; snapshot: string; services: Array<{ service: string; engine: string; status: string }> };
    expect(doc).toMatchObject({ status: 'ok', services: [{ service: 'db', engine: 'postgres', status: 'ok' }] });
    const listed = await run(bin, ['--repo', repo, 'snapshots', '--json'], { cwd: app, env });
    expect(listed.stdout).toContain(doc.snapshot);
  }, 240_000);
});
