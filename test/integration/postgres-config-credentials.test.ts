import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';

describe('configuration, credentials and tools', () => {
  let pg: PgCluster;
  let work: string;

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, 'app', 300);
    await seedSample(pg, 'audit', 100);
    work = await mkdtemp(join(tmpdir(), 'holdfast-cfg-'));
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('holdfast.yml: services, databases, a pinned strategy and a password file', async () => {
    const secret = join(work, 'db.secret');
    await writeFile(secret, `${pg.password}\n`, { mode: 0o600 });
    const config = join(work, 'holdfast.yml');
    await writeFile(
      config,
      [
        `repo: ${join(work, 'cfg-repo')}`,
        'services:',
        '  db:',
        `    url: postgres://postgres@127.0.0.1:${pg.port}`,
        '    databases: [app, audit]',
        '    strategy: pg_dump',
        `    password_file: ${secret}`,
      ].join('\n'),
    );
    const discover = await holdfast(['--config', config, 'discover', '--json'], {});
    expect(discover.code, discover.stderr).toBe(0);
    const found = discover.json<{ services: Array<{ service: string; engine: string; version: string; objects: Array<{ name: string }> }> }>().services[0]!;
    expect(found).toMatchObject({ service: 'db', engine: 'postgres' });
    expect(found.version).toMatch(/^\d+\.\d+/);
    expect(found.objects.map((o) => o.name)).toEqual(['app', 'audit']);

    const plan = await holdfast(['--config', config, 'plan', '--json'], {});
    expect(plan.json<{ services: Array<{ strategy: string; reason: string }> }>().services[0]).toMatchObject({ strategy: 'pg_dump', reason: expect.stringMatching(/pinned/) });

    const backup = await holdfast(['--config', config, 'backup', '--json'], {});
    const id = savedSnapshot(backup);
    const show = await holdfast(['--config', config, 'show', id, '--json'], {});
    const manifest = show.json<{ services: { db: { artifacts: Array<{ kind: string; label?: string }>; options: Record<string, unknown> } } }>();
    expect(manifest.services.db.artifacts.filter((a) => a.kind === 'pg_dump').map((a) => a.label)).toEqual(['app', 'audit']);
    expect(manifest.services.db.options).not.toHaveProperty('password_file_contents');
    expect(show.stdout).not.toContain(pg.password);

    // Two databases into one named target is ambiguous: refused with the way out.
    const ambiguous = await holdfast(['--config', config, 'restore', id, '--target', `db=${pg.url('one')}`], {});
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/--database NAME/);
    const one = await holdfast(['--config', config, 'restore', id, '--database', 'audit', '--target', `db=${pg.url('audit_copy')}`, '--json'], {});
    expect(one.code, one.stderr + one.stdout).toBe(0);
    expect(one.json<{ services: Array<{ fingerprint: { equal: boolean; compared: number } }> }>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 11 }); // 3 tables; 8 definitions
  });

  test('~/.pgpass (PGPASSFILE) is honoured when holdfast is given no password', async () => {
    const pgpass = join(work, 'pgpass');
    await writeFile(pgpass, `127.0.0.1:${pg.port}:*:postgres:${pg.password}\n`);
    await chmod(pgpass, 0o600);
    const r = await holdfast(['backup', '--json', '--repo', join(work, 'pgpass-repo'), '--service', `db=${pg.url('app')}`], { PGPASSFILE: pgpass, PGPASSWORD: undefined });
    expect(r.code, r.stderr).toBe(0);
  });

  test('a pg_dump older than the server is refused by name; the planner says why it fell back', async () => {
    const fake = join(work, 'old-bin');
    await mkdir(fake);
    for (const tool of ['pg_dump', 'pg_dumpall']) {
      await writeFile(join(fake, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) 12.4"\n`, { mode: 0o755 });
    }
    const env = { HOLDFAST_PG_BINDIR: fake, HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_REPO: join(work, 'old-repo') };
    const plan = await holdfast(['plan', '--json', '--service', `db=${pg.url('app')}`], env);
    const item = plan.json<{ services: Array<{ strategy: string; reason: string }> }>().services[0]!;
    expect(item.strategy).toBe('pg_basebackup');
    expect(item.reason).toMatch(/skipped pg_dump: pg_dump of major \d+ or newer \(.*old-bin\/pg_dump is 12\.4\)/);

    const pinned = await holdfast(['backup', '--strategy', 'db=pg_dump', '--service', `db=${pg.url('app')}`], env);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/\[db\] strategy pg_dump cannot run: pg_dump of major \d+ or newer/);
    expect(pinned.stderr).toMatch(/hint: install the PostgreSQL client/);
  });

  test('restoring into a server that lacks the owning roles is refused, unless --no-owner is asked for; the owners it dropped show as differences', async () => {
    const other = await startPgCluster({ password: 'second-server-pw' });
    try {
      await pg.query("DO $$ BEGIN CREATE ROLE reporting LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
      await pg.query('CREATE TABLE report (v int); ALTER TABLE report OWNER TO reporting; INSERT INTO report VALUES (7)', 'audit');
      const env = { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: other.password, HOLDFAST_REPO: join(work, 'roles-repo') };
      const backup = await holdfast(['backup', '--json', '--service', `db=${pg.url('audit')}`], env);
      const id = backup.json<{ snapshot: string }>().snapshot;
      const refused = await holdfast(['restore', id, '--no-globals', '--json', '--target', `db=${other.url('audit')}`], env);
      expect(refused.code).toBe(1);
      expect(refused.json<{ services: Array<{ error: { message: string; hint: string } }> }>().services[0]!.error).toMatchObject({ message: expect.stringMatching(/lacks role reporting/), hint: expect.stringMatching(/--no-owner/) });
      expect(await other.query("SELECT 1 FROM pg_database WHERE datname = 'audit'")).toEqual([]);

      const restore = await holdfast(['restore', id, '--no-globals', '--no-owner', '--json', '--target', `db=${other.url('audit')}`, '--accept', 'audit.public.report:owner'], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      const outcome = restore.json<{ services: Array<{ notes: string[]; fingerprint: { equal: boolean; accepted: string[] } }> }>().services[0]!;
      expect(outcome.fingerprint.equal).toBe(true);
      expect(outcome.fingerprint.accepted).toEqual(['audit.public.report: owner is "postgres" after restore, "reporting" at backup']);
      expect(await other.query('SELECT v FROM report', 'audit')).toEqual([{ v: 7 }]);
    } finally {
      await other.stop();
    }
  });
});
