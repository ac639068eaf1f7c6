import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mysqlQuery, schemaObjects, seedMysqlSample, type SqlServer } from '../support/mysql-sample.js';

/**
 * Opt-in: a real MySQL 8, which CI does not have (no MySQL server in its
 * package registries). Runs only when HOLDFAST_TEST_MYSQL_URL is set, e.g.
 *   docker compose -f docker-compose.test.yml up -d mysql
 *   HOLDFAST_TEST_MYSQL_URL=mysql://root@127.0.0.1:13306 HOLDFAST_TEST_MYSQL_PASSWORD=holdfast-test \
 *   HOLDFAST_MYSQL_BINDIR=/path/to/mysql-8/bin npx vitest run test/integration/mysql-mysql8.test.ts
 * It needs MySQL's own client tools (mysqldump, mysql) on PATH or in
 * HOLDFAST_MYSQL_BINDIR: holdfast refuses MariaDB's against a MySQL server.
 */
const URL_ = process.env.HOLDFAST_TEST_MYSQL_URL;

describe.runIf(!!URL_)('mysql 8 (opt-in, HOLDFAST_TEST_MYSQL_URL): dump round trip with accounts and GTIDs', () => {
  const u = new URL(URL_ ?? 'mysql://root@127.0.0.1:3306');
  const server: SqlServer = {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    rootPassword: process.env.HOLDFAST_TEST_MYSQL_PASSWORD ?? decodeURIComponent(u.password),
  };
  const base = `mysql://${encodeURIComponent(server.user!)}@${server.host}:${server.port}`;
  const db = `holdfast_it_${Date.now()}`;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    await seedMysqlSample(server, db, 300);
    await mysqlQuery(server, `CREATE USER 'hf_app_${db}'@'%' IDENTIFIED BY 'app-pw-1'; GRANT SELECT ON \`${db}\`.* TO 'hf_app_${db}'@'%'`);
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql8-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: server.rootPassword, HOLDFAST_SRC_TARGET_PASSWORD: server.rootPassword };
  });
  afterAll(async () => {
    await mysqlQuery(server, `DROP DATABASE IF EXISTS \`${db}\`; DROP DATABASE IF EXISTS \`${db}_copy\`; DROP USER IF EXISTS 'hf_app_${db}'@'%'`).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup with mysqldump, restore into a new database, fingerprints and objects equal', async () => {
    const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=${base}/${db}`], env);
    const id = savedSnapshot(backup);
    const show = await holdfast(['show', id, '--json'], env);
    const record = show.json<{ services: { src: { details: { family: string; fingerprintExact: boolean; databases: Array<{ binlog?: { gtid?: string } }> }; artifacts: Array<{ name: string }> } } }>().services.src;
    expect(record.details.family).toBe('mysql');
    expect(record.details.fingerprintExact).toBe(true);
    expect(record.artifacts.map((a) => a.name)).toContain('accounts.sql');
    expect(record.details.databases[0]!.binlog?.gtid).toMatch(/^[0-9a-f-]+:/);

    const restore = await holdfast(['restore', id, '--json', '--target', `src=${base}/${db}_copy`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    expect(await schemaObjects(server, `${db}_copy`)).toEqual(await schemaObjects(server, db));
  });
});
