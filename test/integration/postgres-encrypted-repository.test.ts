import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { flipByte } from '../support/repo-files.js';
import { seedSample } from '../support/sample-data.js';

const PASSPHRASE = 'a long test passphrase, not a real one';
const DATABASE = 'ledger_private';
const ROW_MARKER = 'salary-row-marker-7f3a';
/** What must never be readable in any file (or file name) of the repository. */
const PLAINTEXT = [DATABASE, 'payroll_secret', ROW_MARKER, 'customers', 'example.test', 'CREATE TABLE', PASSPHRASE];

/** Every file under `dir` with a hash of its content: a picture of the repository to compare. */
async function picture(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

describe('encrypted dir repository, end to end with PostgreSQL', () => {
  let pg: PgCluster;
  let work: string;
  let repo: string;
  let env: Record<string, string | undefined>;
  let snapshot: string;

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, DATABASE, 1000);
    await pg.query(`CREATE TABLE payroll_secret (id int, note text); INSERT INTO payroll_secret SELECT g, '${ROW_MARKER} ' || g FROM generate_series(1, 500) g`, DATABASE);
    work = await mkdtemp(join(tmpdir(), 'holdfast-enc-'));
    repo = join(work, 'repo');
    const passFile = join(work, 'passphrase');
    await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_PASSWORD_FILE: passFile, HOLDFAST_PASSWORD: undefined };
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('init --encrypt, backup, snapshots, restore, verify, check --read-data', async () => {
    const init = await holdfast(['init', '--encrypt'], env);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`created encrypted repository ${repo}`);

    const backup = await holdfast(['backup', '--json', '--tag', 'nightly', '--service', `db=${pg.url(DATABASE)}`], env);
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; status: string }>();
    expect(doc.status).toBe('ok');
    snapshot = doc.snapshot;

    const list = await holdfast(['snapshots', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.stringify(list.json())).toContain(snapshot);
    expect(JSON.stringify(list.json())).toContain('nightly');

    const restore = await holdfast(['restore', 'nightly', '--json', '--target', `db=${pg.url('ledger_copy')}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    expect(await pg.query('SELECT count(*)::int AS n FROM payroll_secret', 'ledger_copy')).toEqual([{ n: 500 }]);

    const verify = await holdfast(['verify', snapshot], env);
    expect(verify.code, verify.stderr).toBe(0);
    const check = await holdfast(['check', '--read-data', '--json'], env);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.json()).toMatchObject({ status: 'ok', snapshots: 1, problems: [] });
    const quick = await holdfast(['check', '--json'], env);
    expect(quick.code, quick.stdout).toBe(0);
  });

  test('verify --restore-test: the verdict is stored sealed beside the snapshot and read back', async () => {
    const result = await holdfast(['verify', snapshot, '--restore-test', '--json'], env);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.json()).toMatchObject({ status: 'ok', restoreTest: { passed: true } });
    const list = await holdfast(['snapshots', '--json'], env);
    const entry = list.json<{ snapshots: Array<{ id: string; restoreTest: { passed: boolean } | null }> }>().snapshots.find((s) => s.id === snapshot)!;
    expect(entry.restoreTest).toMatchObject({ passed: true });
    const annotations = Object.keys(await picture(join(repo, 'annotations')));
    expect(annotations.length).toBe(1);
    expect((await readFile(annotations[0]!)).includes('passed')).toBe(false);
  });

  test('no table name, row, database name or passphrase in any file of the repository', async () => {
    const files = Object.keys(await picture(repo));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const content = await readFile(file);
      for (const text of PLAINTEXT) {
        expect(content.includes(text), `"${text}" in ${file}`).toBe(false);
        expect(file.includes(text), `"${text}" in the name ${file}`).toBe(false);
      }
    }
  });

  test('a wrong passphrase: a clear error, exit 2, before anything else; nothing changed', async () => {
    const before = await picture(repo);
    const sourceBefore = await pg.query('SELECT count(*)::int AS n FROM payroll_secret', DATABASE);
    const wrong = { ...env, HOLDFAST_PASSWORD_FILE: undefined, HOLDFAST_PASSWORD: 'not the passphrase' };
    for (const args of [['backup', '--service', `db=${pg.url(DATABASE)}`], ['snapshots'], ['restore', 'latest', '--target', `db=${pg.url('wrong_copy')}`], ['check', '--read-data']]) {
      const r = await holdfast(args, wrong);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`wrong passphrase for the repository at ${repo}`);
      expect(r.stderr).toMatch(/hint: .*HOLDFAST_PASSWORD/);
      expect(r.stdout + r.stderr).not.toContain('not the passphrase');
    }
    expect(await picture(repo)).toEqual(before);
    expect(await pg.query('SELECT count(*)::int AS n FROM payroll_secret', DATABASE)).toEqual(sourceBefore);
    expect(await pg.query("SELECT count(*)::int AS n FROM pg_database WHERE datname = 'wrong_copy'")).toEqual([{ n: 0 }]);
  });

  test('no passphrase at all (not a terminal): says what to set, exit 2', async () => {
    const r = await holdfast(['snapshots'], { ...env, HOLDFAST_PASSWORD_FILE: undefined, HOLDFAST_PASSWORD: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the repository at ${repo} is encrypted and no passphrase was given`);
    expect(r.stderr).toMatch(/hint: set HOLDFAST_PASSWORD, or HOLDFAST_PASSWORD_FILE/);
  });

  test('export from the encrypted repository, import into another one with its own passphrase: verify and restore there', async () => {
    const bundle = join(work, 'snapshot.hfb');
    const exported = await holdfast(['export', snapshot, '--to', bundle], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain('the bundle is not encrypted');
    const other = { ...env, HOLDFAST_REPO: join(work, 'other'), HOLDFAST_PASSWORD_FILE: undefined, HOLDFAST_PASSWORD: 'the other repository passphrase' };
    expect((await holdfast(['init', '--encrypt'], other)).code).toBe(0);
    const imported = await holdfast(['import', bundle], other);
    expect(imported.code, imported.stderr).toBe(0);
    const verify = await holdfast(['verify', snapshot], other);
    expect(verify.code, verify.stderr).toBe(0);
    const restore = await holdfast(['restore', snapshot, '--json', '--target', `db=${pg.url('ledger_imported')}`], other);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(await pg.query('SELECT count(*)::int AS n FROM payroll_secret', 'ledger_imported')).toEqual([{ n: 500 }]);
    for (const file of Object.keys(await picture(join(work, 'other')))) {
      expect((await readFile(file)).includes(ROW_MARKER), file).toBe(false);
    }
  });

  test('a damaged encrypted artifact: verify names it and fails', async () => {
    const files = Object.keys(await picture(join(repo, 'snapshots', snapshot))).filter((f) => !f.endsWith('manifest.json'));
    await flipByte(files[0]!);
    const verify = await holdfast(['verify', snapshot, '--json'], env);
    expect(verify.code).toBe(1);
    const doc = verify.json<{ status: string; artifacts: Array<{ ok: boolean; error?: string }> }>();
    expect(doc.status).toBe('corrupt');
    expect(doc.artifacts.find((a) => !a.ok)!.error).toMatch(new RegExp(`artifact ${snapshot}/db/\\S+ fails decryption`));
  });
});
