import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mysqlDriver } from '../../drivers/mysql/mysql-driver.js';
import type { Fingerprint } from '../../src/core/driver.js';
import { compareFingerprints } from '../../src/core/fingerprint.js';
import { parseEndpoint } from '../../src/core/service.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, ensureDocker } from '../support/docker.js';
import { execTimeline, firstExec } from '../support/exec-timeline.js';
import { ensureMariadbImage, mariadbContainer, mariadbSql } from '../support/mariadb-container.js';

// The physical strategy (mariadb-backup) for MariaDB inside its own container with no published
// port (`--network none`): the image's tool runs there through docker exec with the container's
// credentials, its xbstream leaves into one artifact; the restore test and a restore into a data
// volume that a fresh container then serves give back the same data.
const SECRET = 'phys-secret "q" \\ #x';

describe('MySQL / MariaDB physical (mariadb-backup) inside its own container', () => {
  const lab = new DockerLab();
  let repo: string;
  let db: string;
  let bare: string;

  beforeAll(async () => {
    await lab.init();
    ensureMariadbImage();
    process.env.DOCKER_HOST = ensureDocker(); // the in-process fingerprint of the restored container
    repo = join(await lab.dir('repo'), 'repo');
    [db, bare] = await Promise.all([
      mariadbContainer(lab, 'db', { env: ['-e', `MARIADB_ROOT_PASSWORD=${SECRET}`], volume: await lab.volume('dbdata') }),
      // An image without mariadb-backup: both of its names made unusable (mariabackup is a link to it).
      mariadbContainer(lab, 'bare', { env: ['-e', `MARIADB_ROOT_PASSWORD=${SECRET}`], args: ['-v', '/dev/null:/usr/bin/mariadb-backup:ro'] }),
    ]);
    await mariadbSql(db, 'CREATE DATABASE shop');
    await mariadbSql(
      db,
      `CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(60), at TIMESTAMP NULL) ENGINE=InnoDB;
       INSERT INTO orders SELECT seq, REPEAT('x', seq % 50), FROM_UNIXTIME(1700000000 + seq) FROM seq_1_to_3000;
       CREATE TABLE legacy (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM; INSERT INTO legacy VALUES (1, 'a'), (2, 'b');
       CREATE VIEW big AS SELECT id FROM orders WHERE LENGTH(what) > 40;
       CREATE PROCEDURE bump(IN n INT) UPDATE orders SET what = CONCAT(what, 'y') WHERE id = n`,
      'shop',
    );
  }, 180_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('backup --strategy physical runs mariadb-backup inside the container; restore test and a restored data volume compare equal', async () => {
    const service = ['--service', `db=container:${db}`, '--strategy', 'db=physical'];
    const plan = await holdfast(['plan', ...service, '--json'], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    const item = plan.json<{ services: Array<{ strategy: string; place?: { where: string; reason: string } }> }>().services[0]!;
    expect(item.strategy).toBe('physical');
    expect(item.place).toMatchObject({ where: `inside container ${db}` });
    expect(item.place!.reason).toMatch(/^its image has mariadb-backup 10\.11\./);

    const backup = await holdfast(['--repo', repo, 'backup', ...service, '--fingerprint', 'full', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; consistency: string; status: string }> }>();
    expect(doc.services[0]).toMatchObject({ strategy: 'physical', consistency: 'transactional', status: 'ok' });
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
    const manifestText = await readFile(join(repo, 'snapshots', doc.snapshot, 'manifest.json'), 'utf8');
    const record = (JSON.parse(manifestText) as { services: Record<string, { details: { place: unknown; output: string; tool: string; dataOwner: string }; fingerprint: Fingerprint }> }).services.db!;
    expect(record.details).toMatchObject({ output: 'pipe', tool: 'mariadb-backup', dataOwner: '999:999' });
    // The place in the one shape of every engine, as the plan named it.
    expect(record.details.place).toEqual({ kind: 'container', where: `inside container ${db}`, reason: expect.stringMatching(/^its image has mariadb-backup 10\.11\./) });
    // Its pipe is gone from the container.
    expect(await docker(['exec', db, 'sh', '-c', 'ls -d /tmp/holdfast-* 2>/dev/null || true'])).toBe('');
    // Through the exec's own stream too (a daemon on another machine, or HOLDFAST_EXEC_STREAM=1).
    const viaExec = await holdfast(['--repo', repo, 'backup', ...service, '--fingerprint', 'none', '--json'], lab.env({ HOLDFAST_MYSQL_EXEC_STREAM: '1' }));
    expect(viaExec.code, viaExec.stderr).toBe(0);
    const execSnapshot = viaExec.json<{ snapshot: string }>().snapshot;
    const execDetails = (JSON.parse(await readFile(join(repo, 'snapshots', execSnapshot, 'manifest.json'), 'utf8')) as { services: Record<string, { details: { output: string } }> }).services.db!.details;
    expect(execDetails.output).toBe('exec');

    // The restore test: the copy prepared and opened by a throwaway mariadbd of the same series on this host.
    const verify = await holdfast(['--repo', repo, 'verify', doc.snapshot, '--restore-test', '--json'], lab.env());
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect(verify.json<{ restoreTest: { passed: boolean } }>().restoreTest.passed).toBe(true);

    // Into the volume of a running server: refused, nothing changed.
    const dbVolume = (await docker(['inspect', '-f', '{{range .Mounts}}{{if eq .Destination "/var/lib/mysql"}}{{.Name}}{{end}}{{end}}', db])).trim();
    const busy = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--target', `db=volume:${dbVolume}`, '--force'], lab.env());
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toContain(`volume ${dbVolume} is in use by running container ${db}`);
    // Into a fresh data volume (prepared, given to the image's mysql user), which a new container then serves.
    const volume = await lab.volume('restored');
    const restore = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'db', '--target', `db=volume:${volume}`, '--json'], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ status: string; location: string }> }>().services[0]).toMatchObject({ status: 'ok', location: `volume:${volume}` });
    // The copy holds the source's accounts: its container is told the same root password.
    const copy = await mariadbContainer(lab, 'copy', { env: ['-e', `MARIADB_ROOT_PASSWORD=${SECRET}`], volume });
    const now = await mysqlDriver.fingerprint({ name: 'copy', engine: 'mysql', endpoint: parseEndpoint(`container:${copy}`, false, 'copy'), options: {}, origin: 'flag' }, 'full');
    const comparison = compareFingerprints(record.fingerprint, now);
    expect(comparison.differences).toEqual([]);
    expect(comparison.compared).toBeGreaterThan(5);
    // And independently of holdfast: the definitions as the image's own mariadb-dump prints them.
    const schema = (c: string) => docker(['exec', c, 'mariadb-dump', '--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock', '--no-data', '--routines', '--events', '--skip-dump-date', '--databases', 'shop']);
    const [source, target] = await Promise.all([schema(db), schema(copy)]);
    expect(source).toContain('CREATE TABLE `orders`');
    expect(target).toBe(source);

    const all = [plan, backup, verify, busy, restore].map((r) => r.stdout + r.stderr).join('\n') + manifestText;
    expect(all).not.toContain(SECRET);
    expect(await lab.helpers()).toEqual([]);
  }, 240_000);

  test('the fixed cost of a dump in a container: a one-database backup makes 5 docker execs (the plan and the run share one probe, which also lists what dead runs left for the sweep; each dump makes and removes its pipe in its own exec)', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'none', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const until = ((Date.now() + 1000) / 1000).toFixed(3);
    const events = await docker(['events', '--since', since, '--until', until, '--filter', `container=${db}`, '--filter', 'event=exec_create', '--format', '{{.TimeNano}}']);
    // The probe (tools, credentials, and the listing of dead runs' pipes that the sweep uses), the tunnel's forwarder
    // for the plan's and the run's SQL, the accounts' dump and the database's dump, each making, using and removing its
    // pipe in its one exec. Before: the sweep's listing an exec of its own (6); the pipe made and removed by two execs of
    // its own (8); a second probe and a pipe per dump (10).
    expect(events.trim().split('\n').filter(Boolean)).toHaveLength(5);
    expect(await docker(['exec', db, 'sh', '-c', 'ls -d /tmp/holdfast-* 2>/dev/null || true'])).toBe('');
    // The plan's forwarder starts beside the probe, not once it answered (mysql-container.ts, the warm tunnel).
    // Before: the tunnel's exec was made when holdfast's SQL connected, after the probe.
    const timeline = await execTimeline(db, since, until);
    const probe = firstExec(timeline, 'mariadb-dump mysqldump');
    const forwarder = firstExec(timeline, 'holdfast-forward');
    expect(probe.die !== undefined && forwarder.start !== undefined).toBe(true);
    expect(forwarder.start! < probe.die!, `the forwarder started ${Number(forwarder.start! - probe.die!) / 1e6} ms after the probe ended`).toBe(true);
  }, 120_000);

  test('an image without mariadb-backup: the plan names the missing tool and what runs instead', async () => {
    const unpinned = await holdfast(['plan', '--service', `bare=container:${bare}`, '--json'], lab.env());
    expect(unpinned.code, unpinned.stderr).toBe(0);
    const item = unpinned.json<{ services: Array<{ strategy: string; offers: Array<{ name: string; requirements: Array<{ met: boolean; detail?: string }> }> }> }>().services[0]!;
    expect(item.strategy).toBe('dump');
    const physical = item.offers.find((o) => o.name === 'physical')!;
    expect(physical.requirements[0]).toMatchObject({ met: false, detail: 'its image lacks mariadb-backup or mariabackup; the dump (the default strategy) runs inside the container instead' });

    const pinned = await holdfast(['plan', '--service', `bare=container:${bare}`, '--strategy', 'bare=physical'], lab.env());
    expect(pinned.code).not.toBe(0);
    expect(pinned.stdout + pinned.stderr).toContain('its image lacks mariadb-backup or mariabackup');
    expect(pinned.stdout + pinned.stderr).toContain('the dump strategy (the default) runs inside the container instead');
    // Its pre-upgrade copy stays the tar of its data volume with the server stopped, and the plan says why.
    const preUpgrade = await holdfast(['plan', '--service', `bare=container:${bare}`, '--tag', 'pre-upgrade', '--json'], lab.env());
    expect(preUpgrade.code, preUpgrade.stderr).toBe(0);
    const copy = preUpgrade.json<{ services: Array<{ service: string; strategy: string; reason: string }> }>().services.find((s) => s.service === 'bare.physical')!;
    expect(copy.strategy).toBe('tar');
    expect(copy.reason).toContain('; not physical: its image lacks mariadb-backup or mariabackup');
    expect(unpinned.stdout + pinned.stdout + pinned.stderr).not.toContain(SECRET);
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);
});
