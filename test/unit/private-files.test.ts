// A repository, its bundles and holdfast's temporary files are private (folders 0700, files 0600) under a permissive umask.
import { chmod, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exportBundleFile } from '../../src/repository/bundle-export.js';
import { DirRepository } from '../../src/repository/dir-repository.js';
import type { RepositorySecrets } from '../../src/repository/repository-key.js';
import { bytes } from './helpers/fake-driver.js';
import { cleanupTemp, manifest, serviceRecord, tempDir } from './helpers/temp-repo.js';

/** Every path under `root` (itself included) with its permission bits, e.g. `snapshots/x 0700`. */
async function modes(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (path: string) => {
    const info = await lstat(path);
    out.push(`${path.slice(root.length) || '/'} ${info.isDirectory() ? 'dir' : 'file'} ${(info.mode & 0o777).toString(8).padStart(4, '0')}`);
    if (info.isDirectory()) for (const name of (await readdir(path)).sort()) await visit(join(path, name));
  };
  await visit(root);
  return out;
}

function notPrivate(listing: string[]): string[] {
  return listing.filter((line) => !(line.endsWith('dir 0700') || line.endsWith('file 0600')));
}

const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8).padStart(4, '0');

/** A snapshot with a streamed artifact, a command's artifact (zstd -o), a manifest, an annotation, and the lock taken. */
async function fillRepository(repo: DirRepository): Promise<string> {
  const writer = await repo.beginSnapshot('backup');
  const sink = writer.sink('db');
  const globals = await sink.write('globals.sql', bytes("CREATE ROLE app PASSWORD 'SCRAM-SHA-256$4096:...';\n"), { kind: 'pg_dumpall' });
  const { record: dump } = await sink.writeCommand('app.pgdump', { command: 'printf', args: ['%s', 'x'.repeat(10_000)] }, { kind: 'pg_dump' });
  await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: [globals, dump] }) } }));
  await repo.annotate(writer.id, 'restore-test', { passed: true });
  return writer.id;
}

describe('private by default, under umask 000', () => {
  let previous: number;
  beforeAll(() => {
    previous = process.umask(0);
  });
  afterAll(async () => {
    process.umask(previous);
    await cleanupTemp();
  });

  test('a plain repository: every folder 0700, every file 0600, globals.sql and the command-written dump included', async () => {
    const root = join(await tempDir(), 'repo');
    const repo = new DirRepository(root);
    await repo.init();
    const id = await fillRepository(repo);
    const listing = await modes(root);
    expect(listing).toContain(`/snapshots/${id}/db/globals.sql file 0600`);
    expect(listing).toContain(`/snapshots/${id}/db/app.pgdump file 0600`);
    expect(listing).toContain(`/annotations/${id}/restore-test.json file 0600`);
    expect(listing).toContain('/ dir 0700');
    expect(notPrivate(listing)).toEqual([]);
    expect(await repo.privacyWarnings()).toEqual([]);
  });

  test('an encrypted repository, and a folder made beforehand that becomes the repository', async () => {
    const root = join(await tempDir(), 'repo');
    await mkdir(root, { mode: 0o755 });
    const secrets: RepositorySecrets = { passphrase: async () => 'correct horse battery', passphraseSet: true, howToSet: 'set HOLDFAST_PASSWORD' };
    const repo = new DirRepository(root, secrets);
    await repo.init({ encrypt: true });
    await fillRepository(repo);
    const listing = await modes(root);
    expect(listing.length).toBeGreaterThan(8);
    expect(notPrivate(listing)).toEqual([]);
  });

  test('an exported bundle and the temporary copy a restore extracts (the pg_restore spool) are 0600', async () => {
    const dir = await tempDir();
    const repo = new DirRepository(join(dir, 'repo'));
    await repo.init();
    const id = await fillRepository(repo);
    await exportBundleFile(repo, id, join(dir, 'snapshot.hfb'));
    expect(await mode(join(dir, 'snapshot.hfb'))).toBe('0600');
    const m = await repo.load(id);
    await repo.artifacts(id, 'db', m.services.db!.artifacts).extractToFile('app.pgdump', join(dir, 'spool.dump'));
    expect(await mode(join(dir, 'spool.dump'))).toBe('0600');
  });

  test('check: a repository readable by others is named with the fix; a private one is not', async () => {
    const root = join(await tempDir(), 'repo');
    const repo = new DirRepository(root);
    await repo.init();
    await fillRepository(repo);
    await chmod(root, 0o755);
    await chmod(join(root, 'config.json'), 0o644);
    const [warning, ...more] = await repo.privacyWarnings();
    expect(more).toEqual([]);
    expect(warning).toContain(`the repository at ${root} is readable by users other than its owner: 2 files and folders`);
    expect(warning).toContain(`${join(root, 'config.json')} is 0644`);
    expect(warning).toContain(`chmod -R go-rwx ${root}`);
  });

  test('a repository path whose parent does not exist is refused, and nothing is created', async () => {
    const dir = await tempDir();
    const root = join(dir, 'typo', 'x', 'repo');
    const error = await new DirRepository(root).open({ create: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'usage', message: `cannot create the repository at ${root}: its parent directory ${join(dir, 'typo', 'x')} does not exist` });
    await expect(new DirRepository(root).init()).rejects.toMatchObject({ code: 'usage' });
    expect(await readdir(dir)).toEqual([]);
  });
});
