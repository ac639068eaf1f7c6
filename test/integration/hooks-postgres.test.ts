/**
 * Hooks on the host around a real PostgreSQL's backup and restore: the
 * pre-hook runs before the dump, a failing one fails its service (and only
 * it) with its status and stderr, a hanging one is stopped at its timeout,
 * and post-hooks learn the outcome from their environment, after failures too.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

/** A post-hook that appends what it learnt from its environment to a file. */
const RECORD = 'printf "%s %s %s %s %s\\n" "$HOLDFAST_HOOK_PHASE" "$HOLDFAST_SERVICE" "${HOLDFAST_STATUS:--}" "$HOLDFAST_SNAPSHOT" "${HOLDFAST_ERROR:-}" >> "$MARKS"';

/** Processes of a process group that still run (a killed child may linger as a zombie until init reaps it). */
function liveMembers(group: number): string[] {
  return execFileSync('ps', ['-eo', 'pgid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pgid, stat]) => Number(pgid) === group && !stat?.startsWith('Z'))
    .map((f) => f.slice(2).join(' '));
}

describe('hooks around a PostgreSQL backup and restore', () => {
  let pg: PgCluster;
  let work: string;
  let env: Record<string, string>;
  let marks: string;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-hooks-'));
    marks = join(work, 'marks');
    env = { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB2_PASSWORD: pg.password, PGPASSWORD: pg.password, MARKS: marks };
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function config(name: string, services: Record<string, string[]>): Promise<string> {
    const path = join(work, `${name}.yml`);
    const lines = [`repo: ${join(work, `${name}-repo`)}`, 'services:'];
    for (const [service, extra] of Object.entries(services)) lines.push(`  ${service}:`, `    url: ${pg.url('app')}`, ...extra.map((l) => `    ${l}`));
    await writeFile(path, lines.join('\n') + '\n');
    await initRepo(join(work, `${name}-repo`));
    await rm(marks, { force: true });
    return path;
  }

  test('the pre-hook runs before the dump (its row is in the snapshot); post-hooks see ok and the snapshot id', async () => {
    const path = await config('order', {
      db: [
        'hooks:',
        // An argv array, no shell: psql writes a row the dump must then contain.
        `  pre-backup: [psql, -h, 127.0.0.1, -p, "${pg.port}", -U, postgres, -d, app, -c, "CREATE TABLE IF NOT EXISTS from_hook AS SELECT 42 AS answer"]`,
        `  post-backup: '${RECORD}'`,
        `  pre-restore: '${RECORD}'`,
        `  post-restore: '${RECORD}'`,
      ],
    });
    const id = savedSnapshot(await holdfast(['--config', path, 'backup', '--json'], env));
    expect(await readFile(marks, 'utf8')).toBe(`post-backup db ok ${id} \n`);
    await pg.query('DROP TABLE from_hook', 'app');
    const restore = await holdfast(['--config', path, 'restore', id, '--force', '--json'], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(await pg.query('SELECT answer FROM from_hook', 'app')).toEqual([{ answer: 42 }]);
    expect(await readFile(marks, 'utf8')).toBe(`post-backup db ok ${id} \npre-restore db - ${id} \npost-restore db ok ${id} \n`);
  });

  test('a failing pre-hook fails its service with its status and stderr; nothing of it is stored; its post-hook learns why', async () => {
    const path = await config('fail', {
      db: [],
      db2: ['hooks:', `  pre-backup: 'echo "the app would not pause" >&2; exit 7'`, `  post-backup: '${RECORD}'`],
    });
    const r = await holdfast(['--config', path, 'backup', '--json'], env);
    expect(r.code, r.stderr).toBe(3);
    const doc = r.json<{ snapshot: string; services: Array<{ service: string; status: string; storedBytes: number; error?: { code: string; message: string } }> }>();
    const db2 = doc.services.find((s) => s.service === 'db2')!;
    expect(db2).toMatchObject({ status: 'failed', storedBytes: 0, error: { code: 'hook' } });
    expect(db2.error!.message).toMatch(/^pre-backup hook \(holdfast\.yml: \/bin\/sh\) exited with status 7: the app would not pause$/);
    expect(doc.services.find((s) => s.service === 'db')!.status).toBe('ok');
    const show = await holdfast(['--config', path, 'show', doc.snapshot, '--json']);
    expect(show.json<{ services: { db2: { artifacts: unknown[] } } }>().services.db2.artifacts).toEqual([]);
    expect(await readFile(marks, 'utf8')).toBe(`post-backup db2 failed ${doc.snapshot} pre-backup hook (holdfast.yml: /bin/sh) exited with status 7: the app would not pause\n`);

    // Alone, the failing service fails the run; the message names the service and the hook.
    const alone = await holdfast(['--config', path, 'backup', 'db2'], env);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/\[db2\] pre-backup hook .* exited with status 7: the app would not pause/);
  });

  test('a failing pre-restore hook leaves the target as it was; the post-restore hook learns why', async () => {
    const path = await config('restore', { db: ['hooks:', `  pre-restore: 'echo "app still running" >&2; exit 5'`, `  post-restore: '${RECORD}'`] });
    await pg.query('CREATE TABLE IF NOT EXISTS kept (n int)', 'app');
    const id = savedSnapshot(await holdfast(['--config', path, 'backup', '--json'], env));
    await pg.query('INSERT INTO kept VALUES (1)', 'app');
    const r = await holdfast(['--config', path, 'restore', id, '--force'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\] pre-restore hook \(holdfast\.yml: \/bin\/sh\) exited with status 5: app still running/);
    expect(await pg.query('SELECT n FROM kept', 'app')).toEqual([{ n: 1 }]);
    expect(await readFile(marks, 'utf8')).toBe(`post-restore db failed ${id} pre-restore hook (holdfast.yml: /bin/sh) exited with status 5: app still running\n`);
  });

  test('a hanging hook is stopped at its timeout, with what it started', async () => {
    const path = await config('hang', { db: ['hooks:', '  timeout: 1s', `  pre-backup: 'echo $$ > "$MARKS.pid"; sleep 300; echo late > "$MARKS"'`, `  post-backup: '${RECORD}'`] });
    const started = Date.now();
    const r = await holdfast(['--config', path, 'backup'], env);
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.stderr).toMatch(/\[db\] pre-backup hook \(holdfast\.yml: \/bin\/sh\) did not finish within 1s and was stopped/);
    expect(await readFile(marks, 'utf8')).toMatch(/^post-backup db failed \S+ pre-backup hook .* did not finish within 1s/);
    // The shell led a process group of its own: it and its sleep are gone.
    const group = Number(await readFile(`${marks}.pid`, 'utf8'));
    expect(liveMembers(group)).toEqual([]);
  });

  test('bad hooks in holdfast.yml are a configuration error before anything runs', async () => {
    const path = await config('bad', { db: ['hooks:', `  pre-backup: { run: [touch, ${join(work, 'never')}] }`, '  post-bakup: [true]'] });
    const r = await holdfast(['--config', path, 'backup'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/service db: hooks has unknown settings post-bakup/);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });
});
