import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mysqlDriver } from '../../drivers/mysql/mysql-driver.js';
import { compareFingerprints } from '../../src/core/fingerprint.js';
import { parseEndpoint } from '../../src/core/service.js';
import { mariadbBinary, startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { CHINOOK_ROWS, chinookDigest, chinookSql } from '../support/chinook-sample.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mysqlQuery, mysqlUrl } from '../support/mysql-sample.js';
import { expectRestoreTestPassed } from '../support/restore-test-support.js';

/**
 * Issue 11, MariaDB: the hard cases of fixtures/mysql/hard-cases.sql, the
 * bookshop sample (fixtures/mysql/bookshop.sql) and the public Chinook sample
 * (fixtures/samples/chinook, from Maven Central) restored whole-server onto a
 * fresh server, in place with --force, one database at a time, under a new
 * name and through the restore test. Pass: the fingerprints (rows and
 * definitions) are equal AND an independent check agrees: mariadb-dump
 * --no-data of source and target, SHOW CREATE DATABASE and SHOW GRANTS,
 * normalized and compared here, and Chinook's rows read back table by table.
 * Then the proof is shown to fail: each
 * property changed on the target is named by the comparison.
 */
// fid_analytics sorts before fid_app, whose tables its view reads.
const DATABASES = ['bookshop', 'chinook', 'fid_analytics', 'fid_app'];
const ACCOUNTS = ["'fid_definer'@'localhost'", "'fid_reader'@'%'", 'fid_role'];

interface RestoreDoc {
  status: string;
  services: Array<{ status: string; notes: string[]; fingerprint?: { equal: boolean; compared: number; differences: string[] }; error?: { code: string; message: string } }>;
}

async function load(server: MariadbServer, file: string): Promise<void> {
  await mysqlQuery(server, await readFile(join('fixtures/mysql', file), 'utf8'));
}

/** The engine's own view of one database: schema-only dump and SHOW CREATE DATABASE, normalized; `as` names it as recorded. */
function schemaDump(server: MariadbServer, db: string, as = db): string[] {
  const r = spawnSync(
    mariadbBinary('mariadb-dump'),
    ['-h127.0.0.1', `-P${server.port}`, '-uroot', '--no-data', '--routines', '--events', '--triggers', '--skip-comments', '--skip-dump-date', '--databases', db],
    { env: { ...process.env, MYSQL_PWD: server.rootPassword }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout
    .replace(/ AUTO_INCREMENT=\d+/g, '')
    .split(`\`${db}\``)
    .join(`\`${as}\``)
    .split('\n')
    .filter((line) => line.trim() !== '');
}

async function grants(server: MariadbServer): Promise<string[]> {
  const out: string[] = [];
  for (const a of ACCOUNTS) for (const g of await mysqlQuery<Record<string, string>>(server, `SHOW GRANTS FOR ${a}`)) out.push(String(Object.values(g)[0]));
  return out.sort();
}

/** Chinook's rows as the mariadb client reads them, table by table in key order, hashed here (not by holdfast's fingerprint). */
const chinookRows = (server: MariadbServer, db = 'chinook') => chinookDigest((table) => mysqlQuery(server, `SELECT * FROM \`${table}\` ORDER BY 1, 2`, db));

/** Everything the independent check looks at, in one value: a failure shows every difference at once. */
async function independentView(server: MariadbServer) {
  const [h] = await mysqlQuery<{ h: string }>(server, 'SELECT COUNT(*) AS h FROM fid_app.prices FOR SYSTEM_TIME ALL');
  return { historyRows: h!.h, grants: await grants(server), schemas: Object.fromEntries(DATABASES.map((d) => [d, schemaDump(server, d)])), chinook: await chinookRows(server) };
}

async function dropFixture(server: MariadbServer): Promise<void> {
  await mysqlQuery(server, `DROP DATABASE IF EXISTS bookshop; DROP DATABASE IF EXISTS chinook; DROP DATABASE IF EXISTS fid_analytics; DROP DATABASE IF EXISTS fid_app; DROP USER IF EXISTS 'fid_definer'@'localhost', 'fid_reader'@'%'; DROP ROLE IF EXISTS fid_role;`);
}

function service(server: MariadbServer) {
  return { name: 'probe', engine: 'mysql', endpoint: parseEndpoint(`mysql://root:${encodeURIComponent(server.rootPassword)}@127.0.0.1:${server.port}/`, true, 'probe'), options: { databases: DATABASES }, origin: 'flag' as const };
}

describe('mysql fidelity: restores bring back everything, and the proof notices when they do not', () => {
  let source: MariadbServer;
  let other: MariadbServer;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  let before: Record<string, string[]>;
  let sourceGrants: string[];
  let sourceChinook: Record<string, string>;

  beforeAll(async () => {
    const started = await Promise.allSettled([startMariadb(), startMariadb()]);
    [source, other] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined!));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await load(source, 'hard-cases.sql');
    await load(source, 'bookshop.sql');
    await mysqlQuery(source, 'CREATE DATABASE chinook CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    await mysqlQuery(source, chinookSql('mysql'), 'chinook');
    before = Object.fromEntries(DATABASES.map((d) => [d, schemaDump(source, d)]));
    sourceChinook = await chinookRows(source);
    sourceGrants = await grants(source);
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-fidelity-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: source.rootPassword, HOLDFAST_SRC_TARGET_PASSWORD: other.rootPassword };
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=${mysqlUrl(source)}`], env));
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), other?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const restore = async (args: string[], into: MariadbServer = other) => {
    const r = await holdfast(['restore', snapshot, '--json', ...args], { ...env, HOLDFAST_SRC_TARGET_PASSWORD: into.rootPassword });
    return { r, doc: r.json<RestoreDoc>() };
  };

  test('whole server onto a fresh server: cross-database view, definer view, history, grants, database properties', async () => {
    const { r, doc } = await restore(['--target', `src=${mysqlUrl(other)}`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc.services[0]!.fingerprint).toMatchObject({ equal: true, differences: [] });
    expect(await independentView(other)).toEqual({ historyRows: '140', grants: sourceGrants, schemas: before, chinook: sourceChinook });
    expect(await mysqlQuery(other, 'SELECT SUM(gross) AS g FROM fid_app.taxed')).toEqual([{ g: '162.59' }]);
    // The public sample came whole: 15,607 rows as published.
    expect(Object.fromEntries(Object.entries(sourceChinook).map(([t, d]) => [t, Number(d.split(' ')[0])]))).toEqual(CHINOOK_ROWS);
  });

  test('the proof fails when a grant, a collation, a comment or the history differs on the target', async () => {
    const recorded = await mysqlDriver.fingerprint(service(source), 'full');
    expect(compareFingerprints(recorded, await mysqlDriver.fingerprint(service(other), 'full')).equal).toBe(true);
    await mysqlQuery(
      other,
      `REVOKE UPDATE (note) ON fid_app.orders FROM 'fid_reader'@'%';
       ALTER DATABASE fid_analytics COLLATE utf8mb4_general_ci;
       ALTER DATABASE fid_app COMMENT 'changed';
       DELETE HISTORY FROM fid_app.prices;`,
    );
    const { differences } = compareFingerprints(recorded, await mysqlDriver.fingerprint(service(other), 'full'));
    expect(differences.join('\n')).toContain(`fid_app.orders: column grants missing after restore (was "'fid_reader'@'%': UPDATE(note)")`);
    expect(differences.join('\n')).toContain('fid_analytics: collation is "utf8mb4_general_ci" after restore, "utf8mb4_bin" at backup');
    expect(differences.join('\n')).toContain('fid_app: comment is "changed" after restore, "orders of the app" at backup');
    expect(differences.join('\n')).toMatch(/fid_app\.prices: history rows is "90 \(checksum \d+\)" after restore, "140 \(checksum \d+\)" at backup/);
    expect(differences.join('\n')).not.toMatch(/^chinook/m);
  });

  test('the proof fails on the public sample too: a changed row and a dropped foreign key are named, and the independent check sees the row', async () => {
    const recorded = await mysqlDriver.fingerprint(service(source), 'full');
    await mysqlQuery(other, "UPDATE chinook.Track SET Name = 'Koyaanisqatsi (edit)' WHERE TrackId = 3503; ALTER TABLE chinook.Album DROP FOREIGN KEY FK_AlbumArtistId");
    const differences = compareFingerprints(recorded, await mysqlDriver.fingerprint(service(other), 'full')).differences.join('\n');
    expect(differences).toMatch(/^chinook\.Track: content checksum differs$/m);
    expect(differences).toMatch(/^chinook\.Album: .*FK_AlbumArtistId/m);
    const after = await chinookRows(other);
    expect(after.Track).not.toBe(sourceChinook.Track);
    expect({ ...after, Track: '' }).toEqual({ ...sourceChinook, Track: '' });
  });

  test('one database at a time onto a fresh server: grants on each come with it', async () => {
    await dropFixture(other);
    for (const db of ['fid_app', 'fid_analytics', 'bookshop', 'chinook']) {
      const { r, doc } = await restore(['--database', db, '--target', `src=${mysqlUrl(other)}`]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(doc.services[0]!.fingerprint).toMatchObject({ equal: true });
    }
    expect(await independentView(other)).toEqual({ historyRows: '140', grants: sourceGrants, schemas: before, chinook: sourceChinook });
  });

  test('under a new name on the same server: the definer view works, grants follow the name, and the restore says so', async () => {
    const { r, doc } = await restore(['--database', 'fid_app', '--target', `src=${mysqlUrl(source, 'fid_app_copy')}`], source);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc.services[0]!.fingerprint).toMatchObject({ equal: true });
    expect(doc.services[0]!.notes.join('\n')).toMatch(/grants rewritten to the new database names/);
    expect(schemaDump(source, 'fid_app_copy', 'fid_app')).toEqual(before.fid_app);
    expect(await mysqlQuery(source, 'SELECT SUM(gross) AS g FROM fid_app_copy.taxed')).toEqual([{ g: '162.59' }]);
    // The grants on the copy are the live accounts' grants on fid_app, under the new name.
    const copied = (await grants(source)).filter((g) => g.includes('`fid_app_copy`'));
    expect(copied).toEqual(sourceGrants.filter((g) => g.includes('`fid_app`.')).map((g) => g.replace('`fid_app`.', '`fid_app_copy`.')));
    const chinook = await restore(['--database', 'chinook', '--target', `src=${mysqlUrl(source, 'chinook_copy')}`], source);
    expect(chinook.r.code, chinook.r.stdout + chinook.r.stderr).toBe(0);
    expect(chinook.doc.services[0]!.fingerprint).toMatchObject({ equal: true });
    expect(schemaDump(source, 'chinook_copy', 'chinook')).toEqual(before.chinook);
    expect(await chinookRows(source, 'chinook_copy')).toEqual(sourceChinook);
    await mysqlQuery(source, 'DROP DATABASE chinook_copy');
    await mysqlQuery(
      source,
      "REVOKE ALL PRIVILEGES ON fid_app_copy.* FROM 'fid_definer'@'localhost'; REVOKE ALL PRIVILEGES ON fid_app_copy.orders FROM 'fid_reader'@'%'; REVOKE EXECUTE ON FUNCTION fid_app_copy.with_tax FROM 'fid_reader'@'%'; DROP DATABASE fid_app_copy",
    );
  });

  test('in place with --force', async () => {
    await mysqlQuery(source, 'DROP TABLE chinook.PlaylistTrack; DELETE FROM chinook.InvoiceLine WHERE InvoiceLineId > 2000');
    const { r, doc } = await restore(['--force'], source);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc.services[0]!.fingerprint).toMatchObject({ equal: true });
    expect(await independentView(source)).toEqual({ historyRows: '140', grants: sourceGrants, schemas: before, chinook: sourceChinook });
  });

  test('the restore test passes a good snapshot, on a throwaway server that is gone afterwards', async () => {
    // The server runs as the mysql user: it must reach its directory.
    const scratchRoot = join(work, 'scratch-root');
    await mkdir(scratchRoot, { mode: 0o755 });
    await chmod(work, 0o755);
    const result = await holdfast(['verify', snapshot, '--restore-test', '--json'], { ...env, HOLDFAST_TMPDIR: scratchRoot });
    expectRestoreTestPassed(result, 'src');
    expect(result.json<{ restoreTest: { services: Array<{ scratch: string }> } }>().restoreTest.services[0]!.scratch).toMatch(/^a throwaway MariaDB 10\.11\.\d+ server/);
    expect(await readdir(scratchRoot)).toEqual([]);
    expect(await grants(source)).toEqual(sourceGrants);
  });

  test('the restore test on the source server (only client tools here) passes too, and takes back the grants it gave', async () => {
    const bin = join(work, 'client-only');
    await mkdir(bin);
    for (const tool of ['mariadb', 'mariadb-dump'] as const) await symlink(mariadbBinary(tool), join(bin, tool));
    const result = await holdfast(['verify', snapshot, '--restore-test', '--json'], { ...env, HOLDFAST_MYSQL_BINDIR: bin });
    expectRestoreTestPassed(result, 'src');
    expect(result.json<{ restoreTest: { services: Array<{ scratch: string }> } }>().restoreTest.services[0]!.scratch).toMatch(/holdfast_scratch_/);
    const left = await mysqlQuery(
      source,
      `SELECT Db AS d FROM mysql.db WHERE Db LIKE 'holdfast\\_scratch%' UNION ALL SELECT Db FROM mysql.tables_priv WHERE Db LIKE 'holdfast\\_scratch%'
       UNION ALL SELECT Db FROM mysql.columns_priv WHERE Db LIKE 'holdfast\\_scratch%' UNION ALL SELECT Db FROM mysql.procs_priv WHERE Db LIKE 'holdfast\\_scratch%'
       UNION ALL SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'holdfast\\_scratch%'`,
    );
    expect(left).toEqual([]);
    expect(await grants(source)).toEqual(sourceGrants);
  });

  test('a restore that fails part-way names the databases replaced and not, and removes the accounts it created unless kept', async () => {
    await dropFixture(other);
    // fid_analytics on the target cannot be dropped: a table of another database refers to it.
    await mysqlQuery(
      other,
      'CREATE DATABASE fid_analytics; CREATE TABLE fid_analytics.runs (id INT PRIMARY KEY); CREATE DATABASE holder; CREATE TABLE holder.child (r INT, FOREIGN KEY (r) REFERENCES fid_analytics.runs (id));',
    );
    const accounts = () => mysqlQuery<{ u: string }>(other, "SELECT User AS u FROM mysql.user WHERE User LIKE 'fid\\_%' ORDER BY 1");
    const { r, doc } = await restore(['--force', '--target', `src=${mysqlUrl(other)}`]);
    expect(r.code).toBe(1);
    const message = doc.services[0]!.error!.message;
    expect(message).toMatch(/^restoring fid_analytics: /);
    expect(message).toMatch(/foreign key constraint fails/);
    expect(message).toMatch(/\(replaced: bookshop, chinook, fid_app; not replaced: fid_analytics; the accounts it created were removed: [^)]*fid_definer@localhost, fid_reader@%, fid_role\)$/);
    expect(await accounts()).toEqual([]);
    await mysqlQuery(other, 'DROP DATABASE bookshop; DROP DATABASE chinook; DROP DATABASE fid_app');

    const kept = await restore(['--force', '--option', 'keep_accounts=true', '--target', `src=${mysqlUrl(other)}`]);
    expect(kept.r.code).toBe(1);
    expect(kept.doc.services[0]!.error!.message).toMatch(/the accounts it created are kept \(keep_accounts\): [^)]*fid_definer@localhost, fid_reader@%, fid_role\)$/);
    expect((await accounts()).map((a) => a.u)).toEqual(['fid_definer', 'fid_reader', 'fid_role']);
    await mysqlQuery(other, 'DROP DATABASE holder; DROP DATABASE IF EXISTS fid_analytics__holdfast');
    await dropFixture(other);
  });
});
