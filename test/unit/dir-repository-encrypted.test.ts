import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterEach, describe, expect, test } from 'vitest';
import { DirRepository } from '../../src/repository/dir-repository.js';
import type { RepositorySecrets } from '../../src/repository/repository-key.js';
import { bytes } from './helpers/fake-driver.js';
import { flipByte } from './helpers/files.js';
import { cleanupTemp, manifest, serviceRecord, tempDir } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

const PASSPHRASE = 'correct horse battery staple';
const SECRET_ROW = 'secret_customer_row_4711';

function secrets(passphrase?: string, keyFile?: string): RepositorySecrets {
  return {
    passphrase: async () => passphrase,
    passphraseSet: passphrase !== undefined,
    ...(keyFile ? { keyFile } : {}),
    howToSet: 'set HOLDFAST_PASSWORD',
  };
}

async function encryptedRepo(s = secrets(PASSPHRASE)): Promise<{ repo: DirRepository; root: string }> {
  const root = join(await tempDir(), 'repo');
  const repo = new DirRepository(root, s);
  await repo.init({ encrypt: true });
  return { repo, root };
}

/** One snapshot with an artifact whose name, label and content would give the database away. */
async function commitSecret(repo: DirRepository): Promise<{ id: string; record: Awaited<ReturnType<ReturnType<Awaited<ReturnType<DirRepository['beginSnapshot']>>['sink']>['write']>> }> {
  const writer = await repo.beginSnapshot('backup');
  const record = await writer.sink('orders_db').write('01-payroll_db.pgdump', bytes(`CREATE TABLE salaries;\n${SECRET_ROW}\n`.repeat(1000)), { kind: 'pg_dump', label: 'payroll_db' });
  await writer.commit(manifest(writer.id, { tags: ['pre-upgrade'], services: { orders_db: serviceRecord({ artifacts: [record] }) } }));
  return { id: writer.id, record };
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(path)));
    else out.push(path);
  }
  return out;
}

describe('DirRepository, encrypted', () => {
  test('round trip: list, load, open, openStored, verify, annotations; nothing readable on disk', async () => {
    const { repo, root } = await encryptedRepo();
    const { id, record } = await commitSecret(repo);
    await repo.annotate(id, 'restore-test', { at: 'now', passed: true, services: { orders_db: { verdict: 'ok', detail: 'payroll_db matched' } } });

    const again = new DirRepository(root, secrets(PASSPHRASE));
    await again.open({ create: false });
    const [m] = await again.list();
    expect(m).toMatchObject({ id, tags: ['pre-upgrade'] });
    expect(await again.resolve('pre-upgrade')).toBe(id);
    const text = (await buffer(again.artifacts(id, 'orders_db', [record]).open(record.name))).toString();
    expect(text).toContain(SECRET_ROW);
    expect(text.length).toBe(record.rawBytes);
    const stored = await buffer(again.openStored(id, 'orders_db', record));
    expect(stored.length).toBe(record.storedBytes);
    await again.verifyArtifact(id, 'orders_db', record);
    expect(await again.storedSize(id, 'orders_db', record)).toBe(record.storedBytes);
    expect(await again.annotations(id)).toMatchObject({ 'restore-test': { passed: true } });

    for (const file of await allFiles(root)) {
      const content = await readFile(file);
      for (const secret of [SECRET_ROW, 'salaries', 'payroll_db', 'orders_db', 'pre-upgrade']) {
        expect(content.includes(secret), `${secret} in ${file}`).toBe(false);
        expect(file.includes(secret), `${secret} in the path ${file}`).toBe(false);
      }
    }
    const config = JSON.parse(await readFile(join(root, 'config.json'), 'utf8')) as { encryption: { slots: Array<{ type: string; kdf: Record<string, unknown> }> } };
    expect(config.encryption.slots).toEqual([expect.objectContaining({ type: 'passphrase', kdf: expect.objectContaining({ name: 'scrypt', N: 131072, r: 8, p: 1 }) })]);
  });

  test('a wrong passphrase is refused at open, naming the repository', async () => {
    const { repo, root } = await encryptedRepo();
    await commitSecret(repo);
    const error = await new DirRepository(root, secrets('not the passphrase')).open({ create: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'config', message: `wrong passphrase for the repository at ${root}` });
  });

  test('no passphrase says what to set; a passphrase that is too short is refused at init', async () => {
    const { root } = await encryptedRepo();
    const error = await new DirRepository(root, secrets()).open({ create: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'config', message: expect.stringContaining('encrypted and no passphrase was given'), hint: expect.stringContaining('HOLDFAST_PASSWORD') });
    const short = join(await tempDir(), 'repo');
    await expect(new DirRepository(short, secrets('short')).init({ encrypt: true })).rejects.toMatchObject({ code: 'usage' });
    await expect(stat(short)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a passphrase set for a repository that does not exist: a backup does not create a plain one', async () => {
    const root = join(await tempDir(), 'repo');
    await expect(new DirRepository(root, secrets(PASSPHRASE)).open({ create: true })).rejects.toMatchObject({ code: 'config', hint: expect.stringContaining('init --encrypt') });
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a damaged artifact and a damaged manifest: integrity errors naming them', async () => {
    const { repo, root } = await encryptedRepo();
    const { id, record } = await commitSecret(repo);
    const snapshotDir = join(root, 'snapshots', id);
    const [serviceDir] = (await readdir(snapshotDir)).filter((n) => n !== 'manifest.json');
    const [artifact] = await readdir(join(snapshotDir, serviceDir!));
    await flipByte(join(snapshotDir, serviceDir!, artifact!));
    await expect(repo.verifyArtifact(id, 'orders_db', record)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(`${id}/orders_db/01-payroll_db.pgdump`) });
    await flipByte(join(snapshotDir, 'manifest.json'));
    const [entry] = await repo.list();
    expect(entry).toMatchObject({ id, broken: expect.stringContaining(`the manifest of snapshot ${id} fails decryption`) });
  });

  test('stored bytes are the same in a plain and an encrypted repository: export from one, import into the other', async () => {
    const { repo } = await encryptedRepo();
    const { id, record } = await commitSecret(repo);
    const plainRoot = join(await tempDir(), 'plain');
    const plain = new DirRepository(plainRoot);
    await plain.init();
    const writer = await plain.beginSnapshot('import', { id });
    await writer.putStored('orders_db', record, repo.openStored(id, 'orders_db', record));
    await writer.commit(await repo.load(id));
    await plain.verifyArtifact(id, 'orders_db', record);
    expect(await plain.storedSize(id, 'orders_db', record)).toBe(record.storedBytes);

    const { repo: back } = await encryptedRepo();
    const w2 = await back.beginSnapshot('import', { id });
    await w2.putStored('orders_db', record, plain.openStored(id, 'orders_db', record));
    await w2.commit(await plain.load(id));
    await back.verifyArtifact(id, 'orders_db', record);
    expect((await buffer(back.artifacts(id, 'orders_db', [record]).open(record.name))).toString()).toContain(SECRET_ROW);
  });

  test('a key file: created at init (0600), opens the repository; another key file is refused', async () => {
    const dir = await tempDir();
    const keyFile = join(dir, 'repo.key');
    const { repo, root } = await encryptedRepo(secrets(undefined, keyFile));
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const { id, record } = await commitSecret(repo);
    const again = new DirRepository(root, secrets(undefined, keyFile));
    await again.open({ create: false });
    await again.verifyArtifact(id, 'orders_db', record);
    const other = join(dir, 'other.key');
    await new DirRepository(join(dir, 'other-repo'), secrets(undefined, other)).init({ encrypt: true });
    await expect(new DirRepository(root, secrets(undefined, other)).open({ create: false })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('is not the key of the repository') });
    await expect(new DirRepository(root, secrets(PASSPHRASE)).open({ create: false })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('encrypted with a key file') });
  });
});
