import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mysqlQuery, mysqlUrl, seedMysqlSample } from '../support/mysql-sample.js';
import { artifactNames, graftArtifacts, verdicts, expectRestoreTestPassed } from '../support/restore-test-support.js';

describe('restore test: mysql physical (throwaway mariadbd on the prepared copy)', () => {
  let server: MariadbServer;
  let work: string;
  let scratchRoot: string;
  let env: Record<string, string>;

  const leftovers = async () => (await readdir(scratchRoot)).filter((f) => f.startsWith('holdfast_scratch_'));
  /** Servers started on a scratch copy that are still running. */
  const scratchServers = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(scratchRoot) && !l.startsWith('ps '));
  const state = async () => ({
    databases: (await mysqlQuery<{ n: string }>(server, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA ORDER BY 1')).map((r) => r.n),
    orders: await mysqlQuery(server, 'CHECKSUM TABLE shop.orders EXTENDED'),
  });

  async function backup(): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', 'src=physical', '--service', `src=${mysqlUrl(server)}`], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    server = await startMariadb();
    await seedMysqlSample(server, 'shop', 300);
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-myphys-'));
    scratchRoot = await mkdtemp(join(tmpdir(), 'holdfast-rt-myphys-tmp-'));
    await chmod(scratchRoot, 0o755); // mariadbd runs as the mysql user
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: server.rootPassword, HOLDFAST_TMPDIR: scratchRoot };
  });
  afterAll(async () => {
    await server?.stop();
    for (const d of [work, scratchRoot]) if (d) await rm(d, { recursive: true, force: true });
  });

  test('a good physical snapshot opens in a throwaway server with equal fingerprints; server and files are gone after', async () => {
    const id = await backup();
    const before = await state();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expectRestoreTestPassed(result, 'src', '13 objects equal (full)'); // 3 tables' rows and their definitions; the event is not compared: the throwaway server lists none
    expect(await state()).toEqual(before);
    expect(await leftovers()).toEqual([]);
    expect(scratchServers()).toEqual([]);
  });

  test('a copy with other data than recorded is a mismatch; server and files are gone after', async () => {
    const good = await backup();
    await mysqlQuery(server, 'DELETE FROM orders WHERE id > 500', 'shop');
    const other = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, other, 'src', await artifactNames(env.HOLDFAST_REPO!, good, 'src'));
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).src).toEqual({ verdict: 'mismatch', detail: expect.stringContaining('shop.orders: 500 rows after restore, 600 at backup') });
    expect(await leftovers()).toEqual([]);
    expect(scratchServers()).toEqual([]);
  });

  test('a copy with other definitions than recorded is a mismatch that names them (issue #11: a physical copy is proven like a dump)', async () => {
    await mysqlQuery(server, "ALTER TABLE orders COMMENT = 'as backed up'", 'shop');
    const good = await backup();
    await mysqlQuery(server, "ALTER TABLE orders COMMENT = 'changed since'", 'shop');
    const other = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, other, 'src', await artifactNames(env.HOLDFAST_REPO!, good, 'src'));
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).src!.verdict).toBe('mismatch');
    expect(verdicts(result).src!.detail).toContain('changed since');
    expect(await leftovers()).toEqual([]);
    expect(scratchServers()).toEqual([]);
  });
});
