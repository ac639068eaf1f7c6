import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mysqlQuery, mysqlUrl, schemaObjects, seedMysqlSample } from '../support/mysql-sample.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, graftArtifacts, verdicts, expectRestoreTestPassed } from '../support/restore-test-support.js';

describe('restore test: mysql dump (MariaDB)', () => {
  let server: MariadbServer;
  let work: string;
  let env: Record<string, string>;

  /** Databases, every table's CHECKSUM TABLE, and the non-table objects: what "untouched" means. */
  async function sourceState() {
    const databases = (await mysqlQuery<{ n: string }>(server, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA ORDER BY 1')).map((r) => r.n);
    const tables = await mysqlQuery<{ s: string; t: string }>(server, "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN ('shop', 'crm') ORDER BY 1, 2");
    const checksums: Record<string, string> = {};
    for (const { s, t } of tables) {
      const [row] = await mysqlQuery<{ Checksum: string }>(server, `CHECKSUM TABLE \`${s}\`.\`${t}\` EXTENDED`);
      checksums[`${s}.${t}`] = String(row!.Checksum);
    }
    return { databases, checksums, shop: await schemaObjects(server, 'shop') };
  }
  const scratch = async () => (await mysqlQuery<{ n: string }>(server, "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'holdfast\\_scratch\\_%'")).map((r) => r.n);

  async function backup(): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=${mysqlUrl(server)}`], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    server = await startMariadb();
    await seedMysqlSample(server, 'shop', 500);
    await seedMysqlSample(server, 'crm', 100);
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-mysql-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: server.rootPassword };
  });
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a good snapshot passes into temporary databases; the source and its accounts are untouched', async () => {
    const id = await backup();
    const before = await sourceState();
    const users = await mysqlQuery(server, 'SELECT User, Host FROM mysql.user ORDER BY 1, 2');
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expectRestoreTestPassed(result, 'src');
    expect(await sourceState()).toEqual(before);
    expect(await mysqlQuery(server, 'SELECT User, Host FROM mysql.user ORDER BY 1, 2')).toEqual(users);
    expect(await scratch()).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(server.rootPassword);
  });

  test('a deleted artifact fails the checksum phase with the service named; nothing is restored', async () => {
    const id = await backup();
    const [name] = await artifactNames(env.HOLDFAST_REPO!, id, 'src', 'shop');
    await deleteArtifact(env.HOLDFAST_REPO!, id, 'src', name!);
    expectMissingArtifact(await holdfast(['verify', id, '--restore-test', '--json'], env), 'src', name!);
    expect(await scratch()).toEqual([]);
  });

  test('a dump that holds less than the server did is a mismatch; no scratch database is left', async () => {
    const good = await backup();
    // Rows vanish, a second snapshot is taken, and its dump of "crm" is grafted into the first one.
    await mysqlQuery(server, 'DELETE FROM events_log WHERE MOD(CAST(SUBSTRING(what, 7) AS UNSIGNED), 4) = 0', 'crm');
    const short = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, short, 'src', await artifactNames(env.HOLDFAST_REPO!, good, 'src', 'crm'));
    const before = await sourceState();
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).src).toEqual({ verdict: 'mismatch', detail: expect.stringContaining('crm.events_log: 75 rows after restore, 100 at backup') });
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
  });
});
