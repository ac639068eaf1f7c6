import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { containerState, killRollbackThenResume, rollbackRecords, statesDuring, type RollbackDoc } from '../support/rollback-support.js';
import { docker, DockerLab } from '../support/docker.js';
import { freePort } from '../support/free-port.js';

/**
 * The pre-upgrade physical copy of PostgreSQL in a container is a
 * pg_basebackup run inside it (issue 14): the server is never paused or
 * stopped for it, and `holdfast rollback` puts it back into the
 * container's data volume (the container stopped for the rollback only),
 * with the data as at the snapshot.
 */
describe('pre-upgrade pg_basebackup of PostgreSQL in a container, and the rollback into its volume', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}pg`;
  let repo: string;
  let db: string;
  let snapshot: string;
  let schemaBefore: string;

  /** pg_dump --schema-only of shop, by the image's own pg_dump: an independent look at the definitions. */
  // Its \restrict key is random per run (PostgreSQL 15.14 and later): left out.
  const schema = async () => (await docker(['exec', db, 'pg_dump', '--schema-only', '-U', 'postgres', '-d', 'shop'])).split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');
  const state = () => containerState(db);

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    db = await lab.postgres('db', await freePort(), { volume: await lab.volume('pgdata'), project, service: 'db' });
    await lab.psql(db, 'CREATE DATABASE shop');
    await lab.psql(db, "CREATE TABLE orders (id int PRIMARY KEY, what text); INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 3000) g; CREATE VIEW big AS SELECT * FROM orders WHERE id > 100", 'shop');
    schemaBefore = await schema();
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('backup --tag pre-upgrade: the physical copy is pg_basebackup in the container; the server never stops or pauses', async () => {
    const before = await state();
    expect(before).toMatch(/^running /);
    // Docker's state, sampled all through the backup: never anything but running, and never restarted.
    const { result: backup, seen } = await statesDuring(db, () => holdfast(['--repo', repo, 'backup', '--init', '--project', project, '--tag', 'pre-upgrade', '--json'], lab.env()));
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    expect(seen).toEqual([before]);
    expect(await state()).toBe(before);
    const doc = backup.json<{ snapshot: string; services: Array<{ service: string; strategy: string; status: string }> }>();
    snapshot = doc.snapshot;
    expect(doc.services.map((s) => [s.service, s.strategy, s.status]).sort()).toEqual([
      ['db', 'pg_dump', 'ok'],
      ['db.physical', 'pg_basebackup', 'ok'],
    ]);
    const plan = await holdfast(['plan', '--project', project, '--tag', 'pre-upgrade', '--json'], lab.env());
    expect(plan.json<{ services: Array<{ service: string; strategy: string; physicalOf?: string }> }>().services.map((s) => [s.service, s.strategy])).toEqual([
      ['db', 'pg_dump'],
      ['db.physical', 'pg_basebackup'],
    ]);
  });

  test('rollback puts the base backup back into the volume: data and definitions as at the snapshot', async () => {
    await lab.psql(db, "DELETE FROM orders WHERE id > 2000; UPDATE orders SET what = 'changed'; DROP VIEW big; CREATE TABLE later (x int)", 'shop');
    await lab.psql(db, 'CREATE DATABASE after_upgrade');
    const dry = await holdfast(['--repo', repo, 'rollback', snapshot, '--dry-run', '--json'], lab.env());
    expect(dry.json<RollbackDoc>().services.map((s) => [s.service, s.entry, s.method, s.strategy])).toEqual([['db', 'db.physical', 'physical', 'pg_basebackup']]);

    const res = await holdfast(['--repo', repo, 'rollback', snapshot, '--json'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const doc = res.json<RollbackDoc>();
    expect(doc.status).toBe('ok');
    expect(doc.services[0]).toMatchObject({ service: 'db', entry: 'db.physical', method: 'physical', verdict: 'ok' });
    // The engine's own fingerprint, once it runs again on the restored files, against the dump's.
    expect(doc.services[0]!.checks).toContainEqual(expect.objectContaining({ what: 'data', equal: true }));
    expect(await state()).toMatch(/^running /);
    expect(await lab.psql(db, "SELECT count(*), count(*) FILTER (WHERE what = 'changed') FROM orders", 'shop')).toBe('3000\t0');
    expect(await lab.psql(db, "SELECT count(*) FROM pg_database WHERE datname = 'after_upgrade'")).toBe('0');
    expect(await schema()).toBe(schemaBefore);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
  });

  test('kill -9 while the rollback puts the base backup back: the next command keeps the container stopped, --resume finishes', async () => {
    await lab.psql(db, "UPDATE orders SET what = 'again'", 'shop');
    const resumed = await killRollbackThenResume(lab, repo, snapshot, db, lab.name('pgdata'));
    expect(resumed.json<RollbackDoc>().services[0]).toMatchObject({ entry: 'db.physical', method: 'physical', strategy: 'pg_basebackup', verdict: 'ok' });
    expect(await lab.psql(db, "SELECT count(*), count(*) FILTER (WHERE what LIKE 'o%') FROM orders", 'shop')).toBe('3000\t3000');
    expect(await schema()).toBe(schemaBefore);
    expect(await rollbackRecords(lab)).toEqual([]);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
  });

  test('a data directory bind-mounted from this host: the base backup goes back there too', async () => {
    const project2 = `${lab.prefix}pgb`;
    const bound = await lab.postgres('bound', await freePort(), { volume: await lab.dir('pgbind'), project: project2, service: 'db' });
    await lab.psql(bound, 'CREATE TABLE kept (id int); INSERT INTO kept SELECT generate_series(1, 700)');
    const backup = await holdfast(['--repo', repo, 'backup', '--project', project2, '--tag', 'pre-upgrade', '--json'], lab.env());
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ service: string; strategy: string; status: string }> }>();
    expect(doc.services.find((s) => s.service === 'db.physical')).toMatchObject({ strategy: 'pg_basebackup', status: 'ok' });
    await lab.psql(bound, 'DROP TABLE kept');
    const res = await holdfast(['--repo', repo, 'rollback', doc.snapshot, '--json'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.json<RollbackDoc>().services[0]).toMatchObject({ entry: 'db.physical', method: 'physical', verdict: 'ok' });
    expect(await lab.psql(bound, 'SELECT count(*) FROM kept')).toBe('700');
    expect(await lab.held()).toEqual([]);
  });
});
