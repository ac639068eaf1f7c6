import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { containerState, killRollbackThenResume, rollbackRecords, statesDuring, type RollbackDoc } from '../support/rollback-support.js';
import { docker, DockerLab } from '../support/docker.js';
import { ensureMariadbImage, mariadbContainer, mariadbSql } from '../support/mariadb-container.js';

/**
 * The pre-upgrade physical copy of MariaDB in a container is mariadb-backup
 * run inside it (issue 14): the server keeps running (commits are held only
 * for the tool's own short BLOCK_COMMIT stage), and `holdfast rollback`
 * prepares the copy on this host and puts it back into the container's data
 * volume, the container stopped for the rollback only.
 */
describe('pre-upgrade mariadb-backup of MariaDB in a container, and the rollback into its volume', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}my`;
  let repo: string;
  let db: string;
  let snapshot: string;
  let schemaAtBackup: string;
  let countsAtBackup: string;

  const state = () => containerState(db);
  /** The definitions as the image's own mariadb-dump prints them: an independent look, not holdfast's fingerprint. */
  const schema = () =>
    docker(['exec', db, 'mariadb-dump', '--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock', '--no-data', '--routines', '--events', '--skip-dump-date', '--databases', 'shop']);
  const counts = () => mariadbSql(db, 'SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM legacy), (SELECT count(*) FROM orders WHERE what = "changed"), (SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "after_upgrade")', 'shop');

  beforeAll(async () => {
    await lab.init();
    ensureMariadbImage();
    repo = join(await lab.dir('repo'), 'repo');
    db = await mariadbContainer(lab, 'db', { env: ['-e', 'MARIADB_ROOT_PASSWORD=rollback-secret'], volume: await lab.volume('mydata'), project, service: 'db' });
    await mariadbSql(db, 'CREATE DATABASE shop');
    await mariadbSql(
      db,
      `CREATE TABLE orders (id INT PRIMARY KEY, what VARCHAR(60)) ENGINE=InnoDB;
       INSERT INTO orders SELECT seq, CONCAT('o', seq) FROM seq_1_to_3000;
       CREATE TABLE legacy (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM; INSERT INTO legacy VALUES (1, 'a'), (2, 'b');
       CREATE VIEW big AS SELECT id FROM orders WHERE id > 100;
       CREATE PROCEDURE bump(IN n INT) UPDATE orders SET what = CONCAT(what, 'y') WHERE id = n;
       CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM legacy WHERE id < 0`,
      'shop',
    );
  }, 180_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('backup --tag pre-upgrade: the physical copy is mariadb-backup in the container; the server never stops or pauses', async () => {
    schemaAtBackup = await schema();
    countsAtBackup = await counts();
    expect(countsAtBackup).toBe('3000\t2\t0\t0');
    const before = await state();
    expect(before).toMatch(/^running /);
    // Docker's state, sampled all through the backup: never anything but running, and never restarted.
    const { result: backup, seen } = await statesDuring(db, () => holdfast(['--repo', repo, 'backup', '--init', '--project', project, '--tag', 'pre-upgrade', '--json'], lab.env()));
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ service: string; strategy: string; status: string }> }>();
    snapshot = doc.snapshot;
    expect(seen).toEqual([before]);
    expect(await state()).toBe(before);
    expect(doc.services.map((s) => [s.service, s.strategy, s.status]).sort()).toEqual([
      ['db', 'dump', 'ok'],
      ['db.physical', 'physical', 'ok'],
    ]);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
    const plan = await holdfast(['plan', '--project', project, '--tag', 'pre-upgrade', '--json'], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.json<{ services: Array<{ service: string; strategy: string }> }>().services.map((s) => [s.service, s.strategy])).toEqual([
      ['db', 'dump'],
      ['db.physical', 'physical'],
    ]);
  }, 180_000);

  test('this host without mariadb-backup / mbstream: the rollback fails before it stops anything, naming the service, the tool and the fix', async () => {
    await mariadbSql(db, 'INSERT INTO orders VALUES (999999, "after the backup")', 'shop');
    const before = await state();
    const rows = await counts();
    // A pinned tool directory that holds neither tool (mysql-tools.ts findBinary: a pin never falls back to PATH).
    const empty = await lab.dir('no-mysql-tools');
    const { result: res, seen } = await statesDuring(db, () => holdfast(['--repo', repo, 'rollback', snapshot, '--json'], lab.env({ HOLDFAST_MYSQL_BINDIR: empty })));
    expect(res.code, res.stdout).not.toBe(0);
    expect(res.stderr).toMatch(/\[db\].*(mbstream|mariadb-backup).*not found.*nothing was stopped or changed/);
    expect(res.stderr).toMatch(/mariadb-backup|HOLDFAST_MYSQL_BINDIR/);
    // Never stopped, never restarted; its data as it was.
    expect(seen).toEqual([before]);
    expect(await counts()).toBe(rows);
    expect(await rollbackRecords(lab)).toEqual([]);
    expect(await lab.held()).toEqual([]);
    await mariadbSql(db, 'DELETE FROM orders WHERE id = 999999', 'shop');
  }, 180_000);

  test('rollback prepares the copy here and puts it back into the volume: fingerprint, definitions and rows as at the snapshot', async () => {
    await mariadbSql(db, "DELETE FROM orders WHERE id > 2000; UPDATE orders SET what = 'changed'; DROP VIEW big; DROP PROCEDURE bump; CREATE TABLE later (x INT)", 'shop');
    await mariadbSql(db, 'CREATE DATABASE after_upgrade');
    const dry = await holdfast(['--repo', repo, 'rollback', snapshot, '--dry-run', '--json'], lab.env());
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<RollbackDoc>().services.map((s) => [s.service, s.entry, s.method, s.strategy])).toEqual([['db', 'db.physical', 'physical', 'physical']]);

    const started = Date.now();
    // Human output with --verbose: the rollback's steps and the restore's phases, in order, on stderr.
    const res = await holdfast(['--repo', repo, '--verbose', 'rollback', snapshot], lab.env());
    console.log(`rollback of the mariadb-backup copy: ${Date.now() - started} ms`);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    // Unpacked and prepared while the container still runs: it is stopped only for the copy into its volume.
    const lines = res.stderr.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/db\.physical: prepare$/), res.stderr).toBeGreaterThanOrEqual(0);
    expect(at(/rollback: stopping /), res.stderr).toBeGreaterThan(at(/db\.physical: prepare$/));
    expect(at(/db\.physical: copy into volume$/), res.stderr).toBeGreaterThan(at(/rollback: stopping /));
    // The verdict, and the engine's own fingerprint once it runs again on the restored files.
    expect(res.stdout).toMatch(/^db +db\.physical +physical \(physical\) +ok +.*data equal/m);
    expect(res.stdout).toContain('done, every check equal');
    expect(await state()).toMatch(/^running /);
    expect(await counts()).toBe(countsAtBackup);
    expect(await schema()).toBe(schemaAtBackup);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
  }, 180_000);

  test('kill -9 while the rollback puts the copy back: the next command keeps the container stopped and names the volume, --resume finishes', async () => {
    await mariadbSql(db, "UPDATE orders SET what = 'changed' WHERE id < 10; DROP TABLE legacy", 'shop');
    const resumed = await killRollbackThenResume(lab, repo, snapshot, db, lab.name('mydata'));
    expect(resumed.json<RollbackDoc>().services[0]).toMatchObject({ entry: 'db.physical', method: 'physical', strategy: 'physical', verdict: 'ok' });
    expect(await counts()).toBe(countsAtBackup);
    expect(await schema()).toBe(schemaAtBackup);
    expect(await rollbackRecords(lab)).toEqual([]);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
  }, 180_000);

  test('a data directory bind-mounted from this host: the copy goes back there too, owned as before', async () => {
    const project2 = `${lab.prefix}myb`;
    const dir = await lab.dir('mybind');
    const bound = await mariadbContainer(lab, 'bound', { env: ['-e', 'MARIADB_ROOT_PASSWORD=rollback-secret'], volume: dir, project: project2, service: 'db' });
    await mariadbSql(bound, 'CREATE DATABASE kept; USE kept; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_700');
    const owner = () => docker(['exec', bound, 'stat', '-c', '%u:%g', '/var/lib/mysql/kept/t.ibd']);
    const ownerBefore = await owner();
    const backup = await holdfast(['--repo', repo, 'backup', '--project', project2, '--tag', 'pre-upgrade', '--json'], lab.env());
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ service: string; strategy: string; status: string }> }>();
    expect(doc.services.find((s) => s.service === 'db.physical')).toMatchObject({ strategy: 'physical', status: 'ok' });
    await mariadbSql(bound, 'DROP DATABASE kept');
    const res = await holdfast(['--repo', repo, 'rollback', doc.snapshot, '--json'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.json<RollbackDoc>().services[0]).toMatchObject({ entry: 'db.physical', method: 'physical', strategy: 'physical', verdict: 'ok' });
    expect(await mariadbSql(bound, 'SELECT count(*) FROM kept.t')).toBe('700');
    expect(await owner()).toBe(ownerBefore);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
  }, 180_000);
});
