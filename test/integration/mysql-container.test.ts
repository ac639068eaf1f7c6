import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab } from '../support/docker.js';
import { execTimeline } from '../support/exec-timeline.js';
import { ensureMariadbImage, mariadbContainer, mariadbSql } from '../support/mariadb-container.js';

// MariaDB in containers with NO published port (`--network none`: only their own loopback).
// holdfast runs the image's mariadb-dump / mariadb through docker exec, with the container's own
// credentials, and reaches the server's 127.0.0.1:3306 for its SQL through a sidecar tunnel.
const SECRET = 'lab-my-secret "quoted" \\ #x';
const OTHER = 'another-my-secret';

describe('MySQL / MariaDB inside its own container', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}p`;
  let repo: string;
  let db: string;
  let copy: string;

  beforeAll(async () => {
    await lab.init();
    ensureMariadbImage();
    repo = join(await lab.dir('repo'), 'repo');
    const secrets = await lab.dir('secrets');
    await writeFile(join(secrets, 'root'), OTHER, { mode: 0o644 });
    [db, copy] = await Promise.all([
      mariadbContainer(lab, 'db', { env: ['-e', `MARIADB_ROOT_PASSWORD=${SECRET}`], volume: await lab.volume('dbdata'), project, service: 'db' }),
      // The fresh container takes its password from a file, as a Docker secret would give it.
      mariadbContainer(lab, 'copy', { env: ['-e', 'MARIADB_ROOT_PASSWORD_FILE=/run/secrets/root'], args: ['-v', `${secrets}:/run/secrets:ro`] }),
    ]);
    await mariadbSql(db, 'CREATE DATABASE shop');
    await mariadbSql(
      db,
      `CREATE TABLE orders (id INT PRIMARY KEY, what VARCHAR(60), at TIMESTAMP NULL) ENGINE=InnoDB;
       INSERT INTO orders SELECT seq, REPEAT('x', seq % 50), FROM_UNIXTIME(1700000000 + seq) FROM seq_1_to_3000;
       CREATE VIEW big AS SELECT id FROM orders WHERE LENGTH(what) > 40;
       CREATE PROCEDURE bump(IN n INT) UPDATE orders SET what = CONCAT(what, 'y') WHERE id = n;
       CREATE USER clerk@'%' IDENTIFIED BY 'clerk-pw'; GRANT SELECT ON shop.* TO clerk@'%'`,
      'shop',
    );
  }, 180_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('plan --docker --project picks the dump inside the container, not a tar with the server stopped', async () => {
    const plan = await holdfast(['plan', '--docker', '--project', project, '--json'], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    const item = plan.json<{ services: Array<{ service: string; strategy: string; consistency: string; reason: string; place: unknown }> }>().services.find((s) => s.service === 'db')!;
    expect(item).toMatchObject({ strategy: 'dump', consistency: 'transactional' });
    // The place in the one shape of every engine; the reason (the strategy's summary) does not repeat it.
    expect(item.place).toEqual({ kind: 'container', where: `inside container ${db}`, reason: expect.stringMatching(/^its image has mariadb-dump 10\.11\./) });
    expect(item.reason).not.toContain(`container ${db}`);
    expect(plan.stdout + plan.stderr).not.toContain(SECRET);
  });

  test('backup through exec, restore test on the same server, restore into a fresh container: equal fingerprints, no password anywhere', async () => {
    const backup = await holdfast(['--repo', repo, 'backup', '--docker', '--project', project, '--fingerprint', 'full', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ service: string; strategy: string; consistency: string; status: string }> }>();
    expect(doc.services.find((s) => s.service === 'db')).toMatchObject({ strategy: 'dump', consistency: 'transactional', status: 'ok' });
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]); // the sidecar of the tunnel is gone
    const manifestText = await readFile(join(repo, 'snapshots', doc.snapshot, 'manifest.json'), 'utf8');
    const details = (JSON.parse(manifestText) as { services: Record<string, { details: { place: unknown; output: string; sqlTunnel: string; databases: Array<{ name: string; heldMs: number; snapshotConfirmedBy?: string }> } }> }).services.db!.details;
    expect(details.place).toEqual({ kind: 'container', where: `inside container ${db}`, reason: expect.stringMatching(/^its image has mariadb-dump 10\.11\./) });
    expect(details.output).toBe('pipe'); // read on this host through the container's /proc root, not dockerd's stdio copy
    expect(details.sqlTunnel).toBe('exec'); // the image has bash: the tunnel's forwarder runs in the container, no sidecar
    // The dump's snapshot was seen while commits were held (a small dump may even end inside the hold).
    expect(details.databases).toEqual([expect.objectContaining({ name: 'shop' })]);
    expect(['connection-order', 'finished-inside-hold']).toContain(details.databases[0]!.snapshotConfirmedBy);
    expect(details.databases[0]!.heldMs).toBeLessThan(5000);

    const verify = await holdfast(['--repo', repo, 'verify', doc.snapshot, '--restore-test', '--json'], lab.env());
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect(verify.json<{ restoreTest: { passed: boolean } }>().restoreTest.passed).toBe(true);
    expect(await mariadbSql(db, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'holdfast\\_scratch\\_%'")).toBe('0');

    const restore = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--target', `db=container:${copy}`, '--json'], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const out = restore.json<{ services: Array<{ status: string; location: string; place?: unknown; fingerprint: { equal: boolean; compared: number } }> }>().services[0]!;
    expect(out).toMatchObject({ status: 'ok', location: `container:${copy}/shop`, fingerprint: { equal: true } });
    // The image's own client loaded the dump: the restore says so, in the one place shape.
    expect(out.place).toEqual({ kind: 'container', where: `inside container ${copy}`, reason: expect.stringMatching(/^its image has (mariadb|mysql) \S+/) });
    expect(out.fingerprint.compared).toBeGreaterThan(3);
    const rows = 'SELECT COUNT(*), SUM(LENGTH(what)), (SELECT COUNT(*) FROM big) FROM orders';
    expect(await mariadbSql(copy, rows, 'shop')).toBe(await mariadbSql(db, rows, 'shop'));
    expect(await mariadbSql(copy, "SELECT COUNT(*) FROM mysql.user WHERE User = 'clerk'")).toBe('1');

    // Into the same container again, over the live database: refused without --force, and nothing changed.
    await mariadbSql(db, "UPDATE orders SET what = 'changed' WHERE id = 1", 'shop');
    const again = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db'], lab.env());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`database "shop" on container ${db} is not empty`);
    const forced = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--force', '--json'], lab.env());
    expect(forced.code, forced.stderr).toBe(0);
    expect(await mariadbSql(db, 'SELECT what FROM orders WHERE id = 1', 'shop')).toBe('x');

    const all = [backup, verify, restore, again, forced].map((r) => r.stdout + r.stderr).join('\n') + manifestText;
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(OTHER);
    expect(await lab.helpers()).toEqual([]);
    // The named pipes of the dumps and loads are gone from both containers.
    for (const c of [db, copy]) expect(await docker(['exec', c, 'sh', '-c', 'ls -d /tmp/holdfast-io.* 2>/dev/null || true'])).toBe('');
  }, 240_000);

  test("an image without mariadb-dump: the plan names the missing tool and runs this host's through the tunnel", async () => {
    // Both names of the dump tool in the image are made unusable (a bind mount of /dev/null over them).
    const bare = await mariadbContainer(lab, 'bare', { env: ['-e', `MARIADB_ROOT_PASSWORD=${OTHER}`], args: ['-v', '/dev/null:/usr/bin/mariadb-dump:ro'] });
    await mariadbSql(bare, 'CREATE DATABASE app');
    await mariadbSql(bare, 'CREATE TABLE t (n INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_100', 'app');
    // And holdfast's SQL through a sidecar joined to the container's network namespace (what an image without nc or bash gets).
    const env = lab.env({ HOLDFAST_MYSQL_SIDECAR: '1' });
    const plan = await holdfast(['plan', '--service', `bare=container:${bare}`, '--json'], env);
    expect(plan.code, plan.stderr).toBe(0);
    const item = plan.json<{ services: Array<{ strategy: string; reason: string; place: unknown }> }>().services[0]!;
    expect(item.strategy).toBe('dump');
    const place = { kind: 'host', where: `on this host through a tunnel to container ${bare}`, reason: expect.stringMatching(/^its image has no mariadb-dump or mysqldump, so \/usr\/bin\/mariadb-dump 10\.11\.\S+ runs instead$/) };
    expect(item.place).toEqual(place);

    const backup = await holdfast(['--repo', repo, 'backup', '--service', `bare=container:${bare}`, '--fingerprint', 'full', '--json'], env);
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; status: string }> }>();
    expect(doc.services[0]).toMatchObject({ strategy: 'dump', status: 'ok' });
    const verify = await holdfast(['--repo', repo, 'verify', doc.snapshot, '--restore-test', '--json'], env);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const shown = await holdfast(['--repo', repo, 'show', doc.snapshot, '--json'], env);
    expect(shown.json<{ services: Record<string, { details: { sqlTunnel: string; place: unknown } }> }>().services.bare!.details).toMatchObject({ sqlTunnel: 'sidecar', place });
    expect(plan.stdout + backup.stdout + backup.stderr + verify.stdout + verify.stderr).not.toContain(OTHER);
    expect(await lab.helpers()).toEqual([]);
  }, 180_000);

  test("an image without nc or bash: the probe sends holdfast's SQL through a sidecar, and a command tries the image's forwarder once at most", async () => {
    // bash made unusable (this host has no nc): the tunnel's forwarder cannot run in the container.
    const plain = await mariadbContainer(lab, 'noforward', { env: ['-e', `MARIADB_ROOT_PASSWORD=${OTHER}`], args: ['-v', '/dev/null:/usr/bin/bash:ro'] });
    await mariadbSql(plain, 'CREATE DATABASE app; CREATE TABLE app.t (n INT PRIMARY KEY); INSERT INTO app.t VALUES (1), (2)');
    const since = (Date.now() / 1000).toFixed(3);
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `plain=container:${plain}`, '--fingerprint', 'none', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const until = ((Date.now() + 1000) / 1000).toFixed(3);
    const snapshot = backup.json<{ snapshot: string }>().snapshot;
    const shown = await holdfast(['--repo', repo, 'show', snapshot, '--json'], lab.env());
    expect(shown.json<{ services: Record<string, { details: { sqlTunnel: string } }> }>().services.plain!.details.sqlTunnel).toBe('sidecar');
    // The plan's forwarder starts beside the probe and fails (exit 127); once the probe said so, the run does not try
    // again. Before: one more failed forwarder exec per opening of the container (two for plan and run).
    const timeline = await execTimeline(plain, since, until);
    expect(timeline.filter((e) => e.command.includes('holdfast-forward')).length).toBeLessThanOrEqual(1);
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test("holdfast's SQL connections through the tunnel end with a QUIT: the server counts no aborted client", async () => {
    // Aborted_clients is what MariaDB's "Aborted connection ... (Got an error reading communication packets)" warnings count.
    const aborted = async () => Number(await mariadbSql(db, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'ABORTED_CLIENTS'"));
    const before = await aborted();
    // Through the image's own forwarder, then through a sidecar.
    for (const env of [lab.env(), lab.env({ HOLDFAST_MYSQL_SIDECAR: '1' })]) {
      const plan = await holdfast(['plan', '--service', `db=container:${db}`], env);
      expect(plan.code, plan.stderr).toBe(0);
      const backup = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'none'], env);
      expect(backup.code, backup.stderr).toBe(0);
    }
    // Before: the tunnel was cut while mysql2's COM_QUIT was on its way (sidecar-tunnel.ts closeGently), 2 aborted
    // clients per plan and per backup, and a warning in the server's log for each.
    expect(await aborted()).toBe(before);
  }, 120_000);

  test('a place pinned in holdfast.yml (place: sidecar) runs this host\'s tool through a sidecar, and the plan says who pinned it', async () => {
    const config = join(await lab.dir('pin'), 'holdfast.yml');
    await writeFile(config, `services:\n  pinned:\n    url: container:${db}\n    place: sidecar\n    databases: [shop]\n`);
    const plan = await holdfast(['--config', config, 'plan', '--json'], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.json<{ services: Array<{ place: unknown }> }>().services[0]!.place).toEqual({ kind: 'host', where: `on this host through a tunnel to container ${db}`, reason: expect.stringMatching(/^pinned by place: sidecar, so \/usr\/bin\/mariadb-dump 10\.11\.\S+ runs there$/) });
    const backup = await holdfast(['--config', config, '--repo', repo, 'backup', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const snapshot = backup.json<{ snapshot: string }>().snapshot;
    const shown = await holdfast(['--repo', repo, 'show', snapshot, '--json'], lab.env());
    expect(shown.json<{ services: Record<string, { details: { sqlTunnel: string } }> }>().services.pinned!.details.sqlTunnel).toBe('sidecar');
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('a container with no credentials holdfast can use: a clear error naming the service and the fix', async () => {
    // The official image's MARIADB_RANDOM_ROOT_PASSWORD: the password is only in the container's log.
    const locked = await mariadbContainer(lab, 'locked', { env: ['-e', 'MARIADB_RANDOM_ROOT_PASSWORD=1'] });
    const res = await holdfast(['--repo', repo, 'backup', '--service', `locked=container:${locked}`, '--strategy', 'locked=dump'], lab.env());
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('locked');
    expect(res.stderr).toContain(`the container ${locked} has no credentials holdfast can use`);
    expect(res.stderr).toContain('HOLDFAST_LOCKED_PASSWORD');
    expect(res.stdout + res.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  }, 120_000);
});
