import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertToolSucceeded, runTool } from '../../src/core/process.js';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

/**
 * TPC-B under load: pgbench moves money between accounts, tellers and
 * branches while holdfast backs up. Every transaction changes the three sums
 * by the same delta, so in any consistent snapshot they are equal.
 */
describe('postgres: a backup taken while pgbench writes is one point in time', () => {
  let pg: PgCluster;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE bank');
    const init = runTool(pg.bin('pgbench'), ['-i', '-s', '4', '-q', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'bank'], {
      env: { PGPASSWORD: pg.password },
      stdout: 'ignore',
    });
    assertToolSucceeded('pgbench -i', await init.done);
    work = await mkdtemp(join(tmpdir(), 'holdfast-tpcb-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_BANK_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const sums = async (db: string) => {
    const [row] = await pg.query<{ a: string; t: string; b: string; h: string }>(
      `SELECT (SELECT sum(abalance) FROM pgbench_accounts)::text AS a, (SELECT sum(tbalance) FROM pgbench_tellers)::text AS t,
              (SELECT sum(bbalance) FROM pgbench_branches)::text AS b, (SELECT count(*) FROM pgbench_history)::text AS h`,
      db,
    );
    return row!;
  };

  test('the restored copy satisfies the TPC-B invariant and matches the recorded fingerprint', async () => {
    const load = runTool(pg.bin('pgbench'), ['-c', '4', '-j', '2', '-T', '60', '-n', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'bank'], {
      env: { PGPASSWORD: pg.password },
      stdout: 'ignore',
    });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const before = Number((await sums('bank')).h);
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `bank=${pg.url('bank')}`], env);
      const after = Number((await sums('bank')).h);
      expect(backup.code, backup.stderr).toBe(0);
      expect(after).toBeGreaterThan(before); // pgbench really wrote during the backup

      const id = backup.json<{ snapshot: string }>().snapshot;
      const restore = await holdfast(['restore', id, '--json', '--target', `bank=${pg.url('bank_copy')}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);

      const copy = await sums('bank_copy');
      expect(copy.a).toBe(copy.t);
      expect(copy.t).toBe(copy.b);
      const history = Number(copy.h);
      expect(history).toBeGreaterThanOrEqual(before);
      expect(history).toBeLessThanOrEqual(after);
    } finally {
      load.child.kill('SIGINT');
      await load.done;
    }
  });
});
