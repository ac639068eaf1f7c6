import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { DockerLab } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { committedSnapshots, stagingLeftovers } from '../support/repo-files.js';

describe('PostgreSQL in a container: tools through docker exec', () => {
  const lab = new DockerLab();
  let repo: string;
  let db: string;
  let copy: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    const [p1, p2] = await Promise.all([freePort(), freePort()]);
    [db, copy] = await Promise.all([lab.postgres('db', p1, { volume: await lab.volume('pgdata') }), lab.postgres('copy', p2, { password: 'another-secret' })]);
    await lab.psql(db, 'CREATE DATABASE shop');
    await lab.psql(db, "CREATE TABLE orders (id int PRIMARY KEY, what text); INSERT INTO orders SELECT g, repeat('x', g % 50) FROM generate_series(1, 3000) g", 'shop');
    // Database-level properties and an extension at an older version: a restore must bring them back (issue 11).
    await lab.psql(db, "CREATE ROLE clerk LOGIN; REVOKE CONNECT, TEMPORARY ON DATABASE shop FROM PUBLIC; GRANT CONNECT ON DATABASE shop TO clerk; COMMENT ON DATABASE shop IS 'orders'; ALTER DATABASE shop SET work_mem = '8MB'");
    await lab.psql(db, "CREATE EXTENSION citext VERSION '1.4'", 'shop');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('a pg_dump that fails half-way fails the service and stores nothing', async () => {
    // A table whose data file is gone: pg_dump has written the tables before it, then COPY fails.
    await lab.psql(db, 'CREATE TABLE zz_broken AS SELECT g FROM generate_series(1, 20000) g', 'shop');
    const file = await lab.psql(db, "SELECT current_setting('data_directory') || '/' || pg_relation_filepath('zz_broken')", 'shop');
    await lab.inVolume(lab.name('pgdata'), `rm /v/${file.replace('/var/lib/postgresql/data/', '')}`);
    const res = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'none'], lab.env());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('pg_dump exited with status 1');
    expect(res.stderr).toContain('zz_broken');
    expect(res.stdout).toContain('no snapshot was saved');
    expect(await committedSnapshots(repo)).toEqual([]);
    expect(await stagingLeftovers(repo)).toEqual([]);
    await lab.psql(db, 'DROP TABLE zz_broken', 'shop');
  });

  test('pg_dump runs inside the container and restores into a second container with equal fingerprints', async () => {
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'full', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; consistency: string }> }>();
    expect(doc.services[0]).toMatchObject({ strategy: 'pg_dump', consistency: 'transactional' });

    const restore = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--database', 'shop', '--target', `db=container:${copy}`, '--json'], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const out = restore.json<{ services: Array<{ status: string; location: string; fingerprint: { equal: boolean; compared: number } }> }>().services[0]!;
    expect(out).toMatchObject({ status: 'ok', location: `container:${copy}/shop`, fingerprint: { equal: true } });
    expect(out.fingerprint.compared).toBeGreaterThan(4); // the table, and the definitions: the database, its schema, the table, the roles
    const props = "SELECT array_to_string(ARRAY(SELECT x::text FROM unnest(datacl) x ORDER BY 1), ' ') || ' | ' || shobj_description(oid, 'pg_database') || ' | ' || (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0) FROM pg_database d WHERE datname = 'shop'";
    expect(await lab.psql(copy, props, 'postgres', 'another-secret')).toBe(await lab.psql(db, props));
    expect(await lab.psql(copy, props, 'postgres', 'another-secret')).not.toMatch(/(^| )=/); // PUBLIC may not connect
    expect(await lab.psql(copy, "SELECT extversion FROM pg_extension WHERE extname = 'citext'", 'shop', 'another-secret')).toBe('1.4');
    expect(await lab.psql(copy, 'SELECT count(*), sum(length(what)) FROM orders', 'shop', 'another-secret')).toBe('3000\t73500');

    // Into the same non-empty database again: refused, and nothing changed.
    await lab.psql(copy, "UPDATE orders SET what = 'changed' WHERE id = 1", 'shop', 'another-secret');
    const again = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--database', 'shop', '--target', `db=container:${copy}`], lab.env());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`database "shop" in container ${copy} is not empty`);
    expect(again.stderr).toContain('--force');
    expect(await lab.psql(copy, 'SELECT what FROM orders WHERE id = 1', 'shop', 'another-secret')).toBe('changed');
    const forced = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--database', 'shop', '--target', `db=container:${copy}`, '--force'], lab.env());
    expect(forced.code, forced.stderr).toBe(0);
    expect(await lab.psql(copy, 'SELECT what FROM orders WHERE id = 1', 'shop', 'another-secret')).toBe('x');
    expect(backup.stdout + backup.stderr + restore.stdout + restore.stderr).not.toMatch(/lab-secret|another-secret/);
  });

  test('unknown credentials: the plan falls back to a tar with the server stopped, and the copy starts a server', async () => {
    const [p3, p4] = await Promise.all([freePort(), freePort()]);
    const locked = await lab.postgres('locked', p3, { volume: await lab.volume('lockeddata'), env: ['-e', 'POSTGRES_INITDB_ARGS=--auth-local=scram-sha-256 --auth-host=scram-sha-256'] });
    await lab.psql(locked, "CREATE TABLE kept AS SELECT g AS n FROM generate_series(1, 500) g; ALTER USER postgres PASSWORD 'rotated-pw'");
    const service = `fb=container:${locked}`;

    const plan = await holdfast(['plan', '--service', service, '--json'], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    const item = plan.json<{ services: Array<{ strategy: string; consistency: string; reason: string }> }>().services[0]!;
    expect(item).toMatchObject({ strategy: 'tar', consistency: 'quiesced' });
    expect(item.reason).toContain("PostgreSQL's own methods cannot run");
    expect(item.reason).toContain('password authentication failed');

    const backup = await holdfast(['--repo', repo, 'backup', '--service', service, '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; consistency: string; notes: string[] }> }>();
    expect(doc.services[0]).toMatchObject({ strategy: 'tar', consistency: 'quiesced' });
    expect(doc.services[0]!.notes.join('\n')).toMatch(new RegExp(`${locked} was stopped for \\d+ ms`));
    expect(await lab.held()).toEqual([]);

    const restore = await holdfast(['--repo', repo, 'restore', doc.snapshot, '--target', `fb=volume:${lab.name('fbcopy')}`, '--json'], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    const revived = await lab.postgres('revived', p4, { volume: lab.name('fbcopy') });
    expect(await lab.psql(revived, 'SELECT count(*) FROM kept', 'postgres', 'rotated-pw')).toBe('500');

    // Once holdfast knows the password, the engine's own method is back.
    const known = await holdfast(['plan', '--service', service, '--json'], lab.env({ HOLDFAST_FB_PASSWORD: 'rotated-pw' }));
    expect(known.json<{ services: Array<{ strategy: string }> }>().services[0]!.strategy).toBe('pg_dump');
    expect(known.stdout + known.stderr).not.toContain('rotated-pw');
  });
});
