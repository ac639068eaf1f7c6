import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postgresDriver } from '../../drivers/postgres/postgres-driver.js';
import { pgTool } from '../../drivers/postgres/postgres-tools.js';
import type { Fingerprint } from '../../src/core/driver.js';
import { compareFingerprints } from '../../src/core/fingerprint.js';
import { parseEndpoint } from '../../src/core/service.js';
import { CHINOOK_ROWS, chinookDigest, chinookSql } from '../support/chinook-sample.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('../../fixtures/postgres/', import.meta.url));
const DATABASES = ['chinook', 'latin', 'library', 'postgres', 'shop', 'Ünïcode "db"'];

interface RestoreDoc {
  services: Array<{ status: string; notes: string[]; error?: { message: string; hint?: string }; fingerprint?: { equal: boolean; compared: number; differences: string[] } }>;
}

/**
 * Issue 11, PostgreSQL: a cluster of hard cases (fixtures/postgres/fidelity-cluster.sql),
 * a sample database (fixtures/postgres/library-sample.sql) and the public Chinook sample
 * (fixtures/samples/chinook, from Maven Central), backed up as a whole
 * server and restored whole onto a fresh server, in place with --force, one database at
 * a time, under a new name and through the restore test. Each restore must give equal row
 * and definition fingerprints AND pass an independent check: pg_dump --schema-only,
 * pg_dumpall --globals-only and pg_database of source and target, normalized and diffed.
 */
describe('postgres fidelity: everything comes back, and the proof notices when not', () => {
  let src: PgCluster;
  let fresh: PgCluster;
  let perDb: PgCluster;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  let recorded: Fingerprint;
  let chinookBefore: { schema: string; rows: Record<string, string> };
  const server = (c: PgCluster) => `postgres://postgres@127.0.0.1:${c.port}`;

  async function tablespaceDir(name: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout), Number(gid));
    }
    return dir;
  }

  async function psqlFile(c: PgCluster, database: string, file: string, vars: Record<string, string> = {}): Promise<void> {
    const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', database, '-f', file];
    await run(pgTool('psql'), args, { env: { ...process.env, PGPASSWORD: c.password } });
  }

  /** pg_dump --schema-only of one database, without what differs by design (the \restrict key, comments with the dump's own details). */
  async function schemaDump(c: PgCluster, database: string, tablespaceRename: Record<string, string> = {}): Promise<string> {
    const { stdout } = await run(pgTool('pg_dump'), ['--schema-only', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', database], { env: { ...process.env, PGPASSWORD: c.password }, maxBuffer: 64 << 20 });
    let text = stdout
      .split('\n')
      .filter((l) => !/^\\(un)?restrict /.test(l) && !/^-- Dumped (from|by)/.test(l))
      .join('\n');
    for (const [to, from] of Object.entries(tablespaceRename)) text = text.replaceAll(`SET default_tablespace = ${to};`, `SET default_tablespace = ${from};`).replaceAll(`; Tablespace: ${to}\n`, `; Tablespace: ${from}\n`);
    return text;
  }

  /** Roles, memberships and role settings from pg_dumpall --globals-only (tablespaces are compared through the databases). */
  async function rolesDump(c: PgCluster): Promise<string[]> {
    const { stdout } = await run(pgTool('pg_dumpall'), ['--globals-only', '--no-role-passwords', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres'], { env: { ...process.env, PGPASSWORD: c.password } });
    return stdout.split('\n').filter((l) => /^(CREATE ROLE|ALTER ROLE|GRANT|COMMENT ON ROLE)/.test(l) && !/ON TABLESPACE/.test(l)).sort();
  }

  /** pg_database and its settings, as a DBA reads them, for the named databases (recorded name -> name on this server). */
  async function databaseRows(c: PgCluster, names: Record<string, string>, tablespaceRename: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [as, name] of Object.entries(names)) {
      const [row] = await c.query(
        `SELECT pg_get_userbyid(d.datdba) AS owner, array_to_string(ARRAY(SELECT x::text FROM unnest(d.datacl) x ORDER BY 1), ' ') AS acl, d.datconnlimit AS connlimit,
                pg_encoding_to_char(d.encoding) AS encoding, d.datlocprovider AS provider, d.daticulocale AS icu, d.datcollate AS collate, d.datctype AS ctype,
                shobj_description(d.oid, 'pg_database') AS comment, t.spcname AS tablespace,
                (SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '*') || ':' || array_to_string(s.setconfig, ','), ' ' ORDER BY 1) FROM pg_db_role_setting s WHERE s.setdatabase = d.oid) AS settings
           FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1`,
        'postgres',
        [name],
      );
      if (row) row.tablespace = Object.entries(tablespaceRename).find(([to]) => to === row.tablespace)?.[1] ?? row.tablespace;
      out[as] = row ?? 'missing';
    }
    return out;
  }

  async function extensionVersions(c: PgCluster, database: string): Promise<string[]> {
    return (await c.query<{ x: string }>("SELECT extname || ' ' || extversion AS x FROM pg_extension ORDER BY 1", database)).map((r) => r.x);
  }

  /** Chinook's rows as psql would list them, table by table in key order, hashed here (not by holdfast's fingerprint). */
  const chinookRows = (c: PgCluster, database = 'chinook') => chinookDigest((table) => c.query(`SELECT * FROM "${table}" ORDER BY 1, 2`, database));

  /** The independent check: every database of `names` on `target` equals its source in schema, properties and extensions (and Chinook in its rows). */
  async function expectSameAsSource(target: PgCluster, names: Record<string, string>, tablespaceRename: Record<string, string> = {}): Promise<void> {
    expect(await databaseRows(target, names, tablespaceRename)).toEqual(await databaseRows(src, Object.fromEntries(Object.keys(names).map((n) => [n, n]))));
    for (const [from, to] of Object.entries(names)) {
      expect(await schemaDump(target, to, tablespaceRename), `schema of ${to}`).toBe(await schemaDump(src, from));
      expect(await extensionVersions(target, to)).toEqual(await extensionVersions(src, from));
      if (from === 'chinook') expect(await chinookRows(target, to), `rows of ${to}`).toEqual(await chinookRows(src));
    }
  }

  const words = (c: PgCluster, db = 'Ünïcode "db"') => c.query<{ w: string }>('SELECT w FROM words ORDER BY w', db).then((r) => r.map((x) => x.w).join(' '));

  function expectEqual(doc: RestoreDoc): void {
    const s = doc.services[0]!;
    expect(s.status, JSON.stringify(s)).toBe('ok');
    expect(s.fingerprint?.equal, JSON.stringify(s.fingerprint?.differences)).toBe(true);
  }

  beforeAll(async () => {
    [src, fresh, perDb] = await Promise.all([startPgCluster(), startPgCluster({ password: 'fresh-pw' }), startPgCluster({ password: 'per-db-pw' })]);
    work = await mkdtemp(join(tmpdir(), 'holdfast-pg-fidelity-'));
    await chmod(work, 0o711); // the server (as postgres) reaches the tablespace directories inside
    await psqlFile(src, 'postgres', join(FIXTURES, 'fidelity-cluster.sql'), { tsdir: await tablespaceDir('ts-src') });
    await src.query('CREATE DATABASE library');
    await psqlFile(src, 'library', join(FIXTURES, 'library-sample.sql'));
    await src.query('CREATE DATABASE chinook');
    await writeFile(join(work, 'chinook.sql'), chinookSql('postgres'));
    await psqlFile(src, 'chinook', join(work, 'chinook.sql'));
    chinookBefore = { schema: await schemaDump(src, 'chinook'), rows: await chinookRows(src) };
    // The fresh server has a tablespace of another name: the snapshot's `fast` cannot be created there (its directory belongs to the source).
    await fresh.query(`CREATE TABLESPACE fast2 LOCATION '${await tablespaceDir('ts-fresh')}'`);
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: src.password };
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `db=${server(src)}`], env));
    const shown = await holdfast(['show', snapshot, '--json'], env);
    recorded = shown.json<{ services: Record<string, { fingerprint: Fingerprint; notes: string[] }> }>().services.db!.fingerprint;
  }, 120_000);
  afterAll(async () => {
    await Promise.all([src?.stop(), fresh?.stop(), perDb?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the backup records the database-level properties, definitions and the tablespaces it uses', async () => {
    expect(recorded.definitions?.shop).toMatchObject({ owner: 'app_owner', comment: "the shop's orders", 'connection limit': '50', 'extension citext': '1.4 in public', 'settings of role reader': 'default_transaction_read_only=on' });
    expect(recorded.definitions?.shop?.acl).not.toContain('PUBLIC');
    expect(recorded.definitions?.['Ünïcode "db"']).toMatchObject({ 'locale provider': 'icu', 'icu locale': 'de-DE' });
    expect(recorded.definitions?.latin).toMatchObject({ encoding: 'LATIN1', tablespace: 'fast' });
    expect(recorded.definitions?.['role reader']).toMatchObject({ 'member of': 'auditors with admin' });
    // The public sample is all there before anything is restored: its 11 tables, and 15,607 rows as published.
    expect(Object.keys(recorded.definitions ?? {}).filter((k) => k.startsWith('chinook.public.')).length).toBeGreaterThanOrEqual(11);
    const counts = await chinookRows(src);
    expect(Object.fromEntries(Object.entries(counts).map(([t, d]) => [t, Number(d.split(' ')[0])]))).toEqual(CHINOOK_ROWS);
    const shown = await holdfast(['show', snapshot], env);
    expect(shown.stdout).toMatch(/tablespaces in use \(latin: fast; shop: fast\)/);
    const plan = await holdfast(['plan', '--service', `db=${server(src)}`], env);
    expect(plan.stdout).toMatch(/tablespaces fast/);
  });

  test('whole server onto a fresh server: refused while a tablespace is missing (with the server\'s reason), then complete with --tablespace-map', async () => {
    const targetEnv = { ...env, HOLDFAST_DB_TARGET_PASSWORD: fresh.password };
    const refused = await holdfast(['restore', snapshot, '--json', '--target', `db=${server(fresh)}`], targetEnv);
    expect(refused.code).toBe(1);
    const error = refused.json<RestoreDoc>().services[0]!.error!;
    expect(error.message).toMatch(/tablespace fast, which the target does not have \(creating it failed: .*directory/);
    expect(error.hint).toMatch(/--tablespace-map fast=|--no-tablespaces/);
    expect((await fresh.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname IN ('shop', 'latin')")).length).toBe(0);
    // The roles its globals had created are gone again: nothing was restored that uses them.
    expect(error.message).toMatch(/the roles it had created were removed$/);
    expect(await fresh.query("SELECT rolname FROM pg_roles WHERE rolname IN ('reader', 'app_owner', 'auditors')")).toEqual([]);

    const restored = await holdfast(['restore', snapshot, '--json', '--target', `db=${server(fresh)}`, '--tablespace-map', 'fast=fast2'], targetEnv);
    expectEqual(restored.json<RestoreDoc>());
    await expectSameAsSource(fresh, Object.fromEntries(DATABASES.map((d) => [d, d])), { fast2: 'fast' });
    expect(await rolesDump(fresh)).toEqual(await rolesDump(src));
    expect(await words(fresh)).toBe(await words(src));
    expect(await fresh.query('SELECT note FROM kept_in_postgres')).toEqual([{ note: 'the maintenance database has data too' }]);
  });

  test('the proof can fail: owner, ACL, collation and a grant changed on the target are each named', async () => {
    await fresh.query('ALTER DATABASE shop OWNER TO reader');
    await fresh.query('GRANT CONNECT ON DATABASE shop TO PUBLIC');
    await fresh.query('ALTER TABLE "Ünïcode schema"."Tëst ""table""" ALTER COLUMN "ünï" TYPE text COLLATE "POSIX"; REVOKE SELECT ON orders FROM "Ødd ""quoted"" role"', 'shop');
    const service = { name: 'db', engine: 'postgres', endpoint: parseEndpoint(server(fresh), false, 'db'), options: { password_env: 'PG_FRESH_PW' }, origin: 'flag' as const };
    process.env.PG_FRESH_PW = fresh.password;
    const now = await postgresDriver.fingerprint(service, 'full');
    const differences = compareFingerprints(recorded, now, { prefixes: DATABASES }).differences.join('\n');
    expect(differences).toMatch(/^shop: owner is "reader" after restore, "app_owner" at backup$/m);
    expect(differences).toMatch(/^shop: acl is ".*PUBLIC=CONNECT\/.*" after restore/m);
    expect(differences).toMatch(/^shop\.Ünïcode schema\.Tëst "table": column ünï is "text COLLATE \\"POSIX\\"" after restore, "text" at backup$/m);
    expect(differences).toMatch(/^shop\.public\.orders: acl is "app_owner=arwdDxt\/app_owner" after restore/m);
    expect(differences).not.toMatch(/^chinook/m);
  });

  test('the proof can fail on the public sample too: a changed row and a dropped foreign key are named, and the independent check sees the row', async () => {
    await fresh.query(`UPDATE "Track" SET "Name" = 'Koyaanisqatsi (edit)' WHERE "TrackId" = 3503; ALTER TABLE "Album" DROP CONSTRAINT "FK_AlbumArtistId"`, 'chinook');
    const service = { name: 'db', engine: 'postgres', endpoint: parseEndpoint(server(fresh), false, 'db'), options: { password_env: 'PG_FRESH_PW' }, origin: 'flag' as const };
    const differences = compareFingerprints(recorded, await postgresDriver.fingerprint(service, 'full'), { prefixes: ['chinook'] }).differences.join('\n');
    expect(differences).toMatch(/^chinook\.public\.Track: content checksum differs$/m);
    expect(differences).toMatch(/^chinook\.public\.Album: .*FK_AlbumArtistId/m);
    const [after, before] = [await chinookRows(fresh), await chinookRows(src)];
    expect(after.Track).not.toBe(before.Track);
    expect({ ...after, Track: '' }).toEqual({ ...before, Track: '' });
  });

  test('in place with --force, postgres included: the admin session is never in a database it replaces', async () => {
    await src.query("UPDATE kept_in_postgres SET note = 'damaged'");
    await src.query('ALTER DATABASE shop OWNER TO postgres; GRANT ALL ON DATABASE shop TO PUBLIC');
    await src.query('DELETE FROM orders WHERE id % 3 = 0', 'shop');
    await src.query('DROP TABLE "PlaylistTrack"; DELETE FROM "InvoiceLine" WHERE "InvoiceLineId" > 2000', 'chinook');
    const restored = await holdfast(['restore', snapshot, '--json', '--force'], env);
    expectEqual(restored.json<RestoreDoc>());
    expect({ schema: await schemaDump(src, 'chinook'), rows: await chinookRows(src) }).toEqual(chinookBefore);
    expect(await src.query('SELECT note FROM kept_in_postgres')).toEqual([{ note: 'the maintenance database has data too' }]);
    const [shop] = await src.query<{ owner: string; acl: string }>("SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = 'shop'");
    expect(shop!.owner).toBe('app_owner');
    expect(shop!.acl).not.toMatch(/[{,]=/); // PUBLIC has nothing again
  });

  test('one database at a time onto a fresh server, then under a new name', async () => {
    const targetEnv = { ...env, HOLDFAST_DB_TARGET_PASSWORD: perDb.password };
    for (const db of DATABASES) {
      const restored = await holdfast(['restore', snapshot, '--json', '--database', db, '--target', `db=${server(perDb)}`, '--no-tablespaces', '--accept', 'shop.public.orders_2026:tablespace', '--accept', 'shop.Ünïcode schema.Tëst "table"', '--accept', 'latin:tablespace'], targetEnv);
      const doc = restored.json<RestoreDoc>();
      expectEqual(doc);
    }
    // --no-tablespaces is the only difference, and it is the one accepted above.
    const noTs = Object.fromEntries(DATABASES.map((d) => [d, d]));
    expect(await databaseRows(perDb, { shop: 'shop', library: 'library', 'Ünïcode "db"': 'Ünïcode "db"' })).toEqual(await databaseRows(src, { shop: 'shop', library: 'library', 'Ünïcode "db"': 'Ünïcode "db"' }));
    for (const db of Object.keys(noTs)) {
      const strip = (s: string) => s.replace(/^SET default_tablespace = .*\n/gm, '').replace(/; Tablespace: \w+$/gm, '').replace(/\n{3,}/g, '\n\n');
      expect(strip(await schemaDump(perDb, db)), db).toBe(strip(await schemaDump(src, db)));
    }
    expect(await words(perDb)).toBe(await words(src));
    expect(await chinookRows(perDb)).toEqual(await chinookRows(src));

    const renamed = await holdfast(['restore', snapshot, '--json', '--database', 'shop', '--target', `db=${src.url('shop_copy')}`], { ...env, HOLDFAST_DB_TARGET_PASSWORD: src.password });
    expectEqual(renamed.json<RestoreDoc>());
    const chinookCopy = await holdfast(['restore', snapshot, '--json', '--database', 'chinook', '--target', `db=${src.url('chinook_copy')}`], { ...env, HOLDFAST_DB_TARGET_PASSWORD: src.password });
    expectEqual(chinookCopy.json<RestoreDoc>());
    await expectSameAsSource(src, { shop: 'shop_copy', library: 'library', chinook: 'chinook_copy' });
  });

  test('a whole-server restore that stops part-way says which databases were restored and which not, with pg_restore\'s own words', async () => {
    const other = await startPgCluster({ password: 'partial-pw' });
    try {
      // Without the globals and owners, shop's grants name roles the target lacks: its pg_restore fails.
      const failed = await holdfast(['restore', snapshot, '--json', '--no-globals', '--no-owner', '--no-tablespaces', '--target', `db=${server(other)}`], { ...env, HOLDFAST_DB_TARGET_PASSWORD: other.password });
      expect(failed.code).toBe(1);
      const error = failed.json<RestoreDoc>().services[0]!.error!;
      expect(error.message).toMatch(/^database "shop", pg_restore: pg_restore .*role "(reader|auditors|Ødd ""quoted"" role)" does not exist/s);
      expect(error.message).toMatch(/already restored: "chinook", "latin", "library", "postgres"; not restored \(left as they were\): "shop", "Ünïcode \\"db\\""$/);
      expect(error.hint).toMatch(/--database NAME/);
      const there = (await other.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE NOT datistemplate ORDER BY 1')).map((r) => r.d);
      expect(there).toEqual(['chinook', 'latin', 'library', 'postgres']);
    } finally {
      await other.stop();
    }
  });

  test('the restore test passes on the good snapshot', async () => {
    const verified = await holdfast(['verify', snapshot, '--restore-test', '--json'], env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect((await src.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname LIKE 'holdfast%'")).length).toBe(0);
    const report = verified.json<{ restoreTest: { passed: boolean; services: Array<{ verdict: string; fingerprint?: { equal: boolean; compared: number } }> } }>().restoreTest;
    expect(report.passed).toBe(true);
    expect(report.services[0]).toMatchObject({ verdict: 'ok', fingerprint: { equal: true } });
    expect(report.services[0]!.fingerprint!.compared).toBeGreaterThan(50); // the definitions were compared, not only the tables
  });
});
