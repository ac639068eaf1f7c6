import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mysqlDriver } from '../../drivers/mysql/mysql-driver.js';
import type { Fingerprint } from '../../src/core/driver.js';
import { compareFingerprints } from '../../src/core/fingerprint.js';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast } from '../support/cli.js';
import { mysqlQuery, mysqlUrl, seedMysqlSample } from '../support/mysql-sample.js';

/**
 * Strategy `physical` (mariadb-backup): back up a whole server, restore into
 * an empty directory, start a mariadbd on it, and find the same data.
 */
describe('mysql physical: mariadb-backup round trip into an empty data directory', () => {
  let source: MariadbServer;
  let restored: MariadbServer | undefined;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    source = await startMariadb();
    await seedMysqlSample(source, 'shop', 500);
    await mysqlQuery(source, 'CREATE TABLE legacy (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM; INSERT INTO legacy VALUES (1, "a"), (2, "b")', 'shop');
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-phys-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: source.rootPassword };
    const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', 'src=physical', '--service', `src=${mysqlUrl(source)}`], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; consistency: string }> }>();
    expect(doc.services[0]).toMatchObject({ strategy: 'physical', consistency: 'transactional' });
    snapshot = doc.snapshot;
  });
  afterAll(async () => {
    await restored?.stop();
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a server URL as target is a usage error that says what to pass', async () => {
    const r = await holdfast(['restore', snapshot, '--target', `src=${mysqlUrl(source, 'copy')}`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[src\].*restores into an empty data directory/);
    expect(r.stderr).toMatch(/--target src=\/absolute\/path/);
  });

  test('a non-empty directory is refused without --force', async () => {
    const dir = join(work, 'occupied');
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'x');
    const r = await holdfast(['restore', snapshot, '--target', `src=${dir}`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the data directory .*occupied is not empty/);
  });

  test('restored into an empty directory, prepared, a mariadbd starts on it with the same fingerprints', async () => {
    // mariadbd runs as the mysql user: the directories above the data directory must let it through.
    await chmod(work, 0o755);
    const dataDir = join(work, 'datadir');
    const r = await holdfast(['restore', snapshot, '--json', '--target', `src=${dataDir}`], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json<{ services: Array<{ status: string; location: string }> }>().services[0]).toMatchObject({ status: 'ok', location: `file:${dataDir}` });

    restored = await startMariadb({ existingDataDir: dataDir, rootPassword: source.rootPassword });
    const show = await holdfast(['show', snapshot, '--json'], env);
    const recorded = show.json<{ services: { src: { fingerprint: Fingerprint } } }>().services.src.fingerprint;
    const now = await mysqlDriver.fingerprint(
      { name: 'restored', endpoint: { scheme: 'mysql', host: '127.0.0.1', port: restored.port, user: 'root', password: source.rootPassword, path: '', params: {} }, options: {}, origin: 'config' },
      'full',
    );
    const comparison = compareFingerprints(recorded, now);
    expect(comparison.differences).toEqual([]);
    expect(comparison.compared).toBe(15); // 4 tables' rows and 11 definitions
    expect(await mysqlQuery(restored, 'SELECT v FROM legacy ORDER BY id', 'shop')).toEqual([{ v: 'a' }, { v: 'b' }]);
  });
});
