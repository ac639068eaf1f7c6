import { createHash, randomBytes } from 'node:crypto';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { flipByte } from '../support/repo-files.js';
import { readCounter, WRITER } from '../support/stack-writer.js';

interface RollbackDoc {
  snapshot: string;
  status: string;
  stop: Array<{ container: string; why: string; timeoutSec: number }>;
  keepRunning: string[];
  start: string[];
  services: Array<{ service: string; entry: string; method: string; verdict: string; checks: Array<{ what: string; against?: string; equal: boolean; compared: number; differences: string[] }>; error?: { message: string } }>;
  errors: unknown[];
}

const PGDATA = '/var/lib/postgresql/data';

describe('pre-upgrade snapshot and rollback of a compose-like stack', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}up`;
  let repo: string;
  let bind: string;
  let db: string;
  let app: string;
  let feeder: string;
  let snapshot: string;

  /** When each container last started: a rollback that stopped nothing leaves these alone. */
  const startedAt = async () => ({ db: await docker(['inspect', '-f', '{{.State.StartedAt}}', db]), app: await docker(['inspect', '-f', '{{.State.StartedAt}}', app]) });
  const journal = async () => (await readdir(join(lab.stateDir, 'held')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  /** Containers the hold journal lists as stopped by a holdfast run. */
  const journaled = async () => {
    const lists = await Promise.all((await journal()).map(async (f) => (JSON.parse(await readFile(join(lab.stateDir, 'held', f), 'utf8').catch(() => '{"entries":[]}')) as { entries: Array<{ name: string }> }).entries));
    return lists.flat().map((e) => e.name);
  };

  beforeAll(async () => {
    await lab.init();
    const port = await freePort();
    const [pgdata, appdata] = await Promise.all([lab.volume('pgdata'), lab.volume('appdata')]);
    bind = await lab.dir('conf');
    repo = join(await lab.dir('repo'), 'repo');
    await writeFile(join(bind, 'settings.conf'), 'mode=test\n');
    db = await lab.postgres('db', port, { volume: pgdata, project, service: 'db' });
    // No replication on its socket (pg_hba.conf): pg_basebackup cannot run in it, so its physical copy is the stopped-volume tar,
    // which this file tests (docker-postgres-rollback-basebackup.test.ts tests the pg_basebackup copy, with the server running).
    await docker(['exec', db, 'sh', '-c', `sed -i '/replication/d' ${PGDATA}/pg_hba.conf`]);
    await lab.psql(db, 'SELECT pg_reload_conf()');
    await lab.psql(db, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g");
    await lab.psql(db, 'CREATE DATABASE shop');
    await lab.psql(db, "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 300) g", 'shop');
    app = await lab.run('app', ['--init', '-v', `${appdata}:/data`, '-v', `${bind}:/conf`, IMAGES.busybox, 'sh', '-c', WRITER], { project, service: 'app', dependsOn: 'db' });
    // A client that keeps writing into the database over the network (from the postgres image for its psql; excluded: not a
    // service of its own): only depends_on ties it to db.
    await lab.psql(db, 'CREATE TABLE feed (at timestamptz DEFAULT clock_timestamp())');
    const feed = `while true; do psql -X -q -h 127.0.0.1 -p ${port} -U postgres -c 'INSERT INTO feed DEFAULT VALUES' >/dev/null 2>&1; sleep 0.1; done`;
    feeder = await lab.run('feeder', ['--init', '--label', 'holdfast.exclude=true', '-e', 'PGPASSWORD=lab-secret', '--entrypoint', 'sh', IMAGES.postgres, '-c', feed], { project, service: 'feeder', dependsOn: 'db', network: 'host' });
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('plan --tag pre-upgrade shows the physical copy of the database beside its dump', async () => {
    const res = await holdfast(['plan', '--project', project, '--tag', 'pre-upgrade', '--json'], lab.env());
    expect(res.code, res.stderr).toBe(0);
    const items = res.json<{ services: Array<{ service: string; strategy: string; consistency: string; reason: string; physicalOf?: string }> }>().services;
    expect(items.map((i) => i.service)).toEqual(['app', 'db', 'db.physical']);
    expect(items[1]).toMatchObject({ strategy: 'pg_dump', consistency: 'transactional' });
    expect(items[2]).toMatchObject({ strategy: 'tar', consistency: 'quiesced', physicalOf: 'db' });
    expect(items[2]!.reason).toContain('physical copy of db for rollback');
    // The app is a volume copy already: no second entry.
    expect(items[0]).toMatchObject({ strategy: 'tar' });
    expect(items[0]!.physicalOf).toBeUndefined();
    // Without the tag (or with --no-physical) there is no physical entry.
    const plain = await holdfast(['plan', '--project', project, '--json'], lab.env());
    expect(plain.json<{ services: Array<{ service: string }> }>().services.map((i) => i.service)).toEqual(['app', 'db']);
    const text = await holdfast(['plan', '--project', project, '--physical'], lab.env());
    expect(text.stdout).toMatch(/\ndb\.physical\s+postgres\s+tar\s+quiesced\s+physical copy of db for rollback/);
  });

  test('backup --tag pre-upgrade stores the dump and the stopped-volume copy; the manifest can rebuild the place', async () => {
    const res = await holdfast(['--repo', repo, 'backup', '--project', project, '--tag', 'pre-upgrade', '--fingerprint', 'full', '--json'], lab.env());
    expect(res.code, res.stderr).toBe(0);
    const doc = res.json<{ snapshot: string; status: string; services: Array<{ service: string; strategy: string; status: string; physicalOf?: string }> }>();
    snapshot = doc.snapshot;
    expect(doc.status).toBe('ok');
    expect(doc.services.map((s) => [s.service, s.strategy, s.status, s.physicalOf]).sort()).toEqual([
      ['app', 'tar', 'ok', undefined],
      ['db', 'pg_dump', 'ok', undefined],
      ['db.physical', 'tar', 'ok', 'db'],
    ]);
    const manifest = JSON.parse(await readFile(join(repo, 'snapshots', snapshot, 'manifest.json'), 'utf8')) as {
      tags: string[];
      services: Record<string, {
        physicalOf?: string;
        notes: string[];
        details: {
          volumes: Array<{ source: string; driver: string; labels: Record<string, string> }>;
          held: Array<{ container: string }>;
          clientsHeld: Array<{ container: string; action: string }>;
          engineFingerprint: { items: Record<string, { count: number; checksum: string }> };
          container: { name: string; image: string; imageId: string; envNames: string[] };
        };
      }>;
    };
    expect(manifest.tags).toEqual(['pre-upgrade']);
    const physical = manifest.services['db.physical']!;
    expect(physical.physicalOf).toBe('db');
    expect(physical.details.volumes).toEqual([expect.objectContaining({ source: lab.name('pgdata'), driver: 'local', labels: expect.objectContaining({ 'holdfast-test.lab': lab.prefix }) })]);
    expect(physical.details.held).toEqual([expect.objectContaining({ container: db })]);
    // The app (depends_on db) was stopped while the engine's fingerprint of the copied files was taken.
    expect(physical.details.clientsHeld).toEqual([expect.objectContaining({ container: app, action: 'stop' }), expect.objectContaining({ container: feeder, action: 'stop' })]);
    // The feeder wrote between the dump and the copy (seconds apart): the copy has its own fingerprint, which a rollback checks.
    const dumped = (manifest.services.db as unknown as { fingerprint: { items: Record<string, { count: number }> } }).fingerprint.items['postgres.public.feed']!.count;
    expect(physical.details.engineFingerprint.items['postgres.public.feed']!.count).toBeGreaterThan(dumped);
    expect(physical.notes.join('\n')).toMatch(new RegExp(`${app} \\(depends on it\\) was stopped for \\d+ ms`));
    expect(physical.details.engineFingerprint.items['postgres.public.items']).toMatchObject({ count: 2000, checksum: expect.any(String) });
    expect(physical.details.container).toMatchObject({ name: db, image: IMAGES.postgres, imageId: expect.stringMatching(/^sha256:/) });
    expect(physical.details.container.envNames).toContain('POSTGRES_PASSWORD');
    expect(JSON.stringify(manifest)).not.toContain('lab-secret');
    expect(await lab.held()).toEqual([]);
  });

  test('rollback of a tag that does not exist: a clear error, exit 1, nothing stopped', async () => {
    const before = await startedAt();
    const res = await holdfast(['--repo', repo, 'rollback', 'no-such-tag', '--project', project], lab.env());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('no snapshot or tag "no-such-tag" in this repository');
    expect(res.stderr).toContain('hint: list them with `holdfast snapshots`');
    // No snapshot named at all, or a service the snapshot does not hold: usage errors, exit 2.
    const none = await holdfast(['--repo', repo, 'rollback'], lab.env());
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('holdfast: name the snapshot to roll back to\n  hint: holdfast rollback SNAPSHOT|TAG [SERVICE..], or --resume / --abandon for a rollback that was killed\n');
    const unknown = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade', 'nosuch'], lab.env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('has no service "nosuch"');
    expect(unknown.stderr).toContain('hint: it holds: app, db');
    expect(await startedAt()).toEqual(before);
  });

  test('rollback --dry-run says what it would stop, restore and start, and touches nothing', async () => {
    const before = await startedAt();
    const res = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade', '--dry-run', '--json'], lab.env());
    expect(res.code, res.stderr).toBe(0);
    const doc = res.json<RollbackDoc>();
    expect(doc).toMatchObject({ snapshot, status: 'dry-run', keepRunning: [] });
    // Dependents first when stopping, dependencies first when starting (compose depends_on).
    expect(doc.stop.map((s) => s.container)).toEqual([feeder, app, db]);
    expect(doc.start).toEqual([db, app, feeder]);
    expect(doc.services.map((s) => [s.service, s.entry, s.method])).toEqual([
      ['app', 'app', 'physical'],
      ['db', 'db.physical', 'physical'],
    ]);
    const text = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade', '--dry-run'], lab.env());
    expect(text.stdout).toContain(`  stop     ${app} (container of app; stop timeout 10s)`);
    expect(text.stdout).toContain('  restore  db from db.physical (physical: tar)');
    expect(text.stdout).toContain(`  stop     ${feeder} (depends on db; stop timeout 10s)`);
    expect(text.stdout).toContain(`  start    ${db}`);
    expect(await startedAt()).toEqual(before);
  });

  test('a damaged artifact is found before anything is stopped', async () => {
    const damaged = join(await lab.dir('damaged'), 'repo');
    await cp(repo, damaged, { recursive: true });
    const dir = join(damaged, 'snapshots', snapshot, 'db.physical');
    const [artifact] = await readdir(dir);
    await flipByte(join(dir, artifact!));
    const before = await startedAt();
    const res = await holdfast(['--repo', damaged, 'rollback', 'pre-upgrade'], lab.env());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('[db]');
    expect(res.stderr).toContain('nothing was stopped or changed');
    expect(await startedAt()).toEqual(before);
    expect(await lab.held()).toEqual([]);
  });

  test('a helper image that is not there is found before anything is stopped', async () => {
    const before = await startedAt();
    const res = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env({ HOLDFAST_HELPER_IMAGE: 'holdfast-test/no-such-image:1' }));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('the helper image holdfast-test/no-such-image:1 is not on the Docker daemon');
    expect(res.stderr).toContain('nothing was stopped or changed');
    expect(await startedAt()).toEqual(before);
  });

  test('a restore that fails after the stop (an archive that is no tar, with a matching checksum): the others are restored, everything starts again, exit 1', async () => {
    const tampered = join(await lab.dir('tampered'), 'repo');
    await cp(repo, tampered, { recursive: true });
    const manifestPath = join(tampered, 'snapshots', snapshot, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { services: Record<string, { artifacts: Array<{ name: string; sha256: string; storedBytes: number; rawBytes: number }> }> };
    const record = manifest.services.app!.artifacts[0]!;
    const garbage = execFileSync('zstd', ['-q', '-c'], { input: randomBytes(64 * 1024) });
    await writeFile(join(tampered, 'snapshots', snapshot, 'app', record.name), garbage);
    Object.assign(record, { sha256: createHash('sha256').update(garbage).digest('hex'), storedBytes: garbage.length, rawBytes: 64 * 1024 });
    await writeFile(manifestPath, JSON.stringify(manifest));
    const counter = await readCounter(app);

    const res = await holdfast(['--repo', tampered, 'rollback', 'pre-upgrade', '--json'], lab.env());
    expect(res.code, res.stderr).toBe(1);
    const doc = res.json<RollbackDoc>();
    expect(doc.status).toBe('failed');
    const by = Object.fromEntries(doc.services.map((s) => [s.service, s]));
    expect(by.app).toMatchObject({ verdict: 'failed', error: { message: expect.stringContaining('is not a readable tar') } });
    expect(by.db).toMatchObject({ verdict: 'ok' });
    // Nothing was extracted into the app's volume, and every container runs again.
    expect(await readCounter(app)).toBeGreaterThanOrEqual(counter);
    expect(await lab.held()).toEqual([]);
    expect(await journal()).toEqual([]);
  });

  test('an upgrade that damages the data, then rollback pre-upgrade: the data equals the snapshot and everything runs', async () => {
    // The "upgrade": a dropped table, a new one, garbage in both volumes and the bind mount.
    await lab.psql(db, 'DROP TABLE items; CREATE TABLE upgraded (x int); INSERT INTO upgraded VALUES (1)');
    await lab.psql(db, 'DROP DATABASE shop');
    await docker(['exec', db, 'sh', '-c', `echo 'garbage = !!!' > ${PGDATA}/postgresql.auto.conf; head -c 4096 /dev/urandom > ${PGDATA}/GARBAGE`]);
    await docker(['exec', app, 'sh', '-c', 'echo garbage > /data/counter; head -c 4096 /dev/urandom > /data/log; echo junk > /data/junk']);
    await writeFile(join(bind, 'settings.conf'), 'garbage\n');
    const before = await startedAt();

    const res = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade', '--project', project, '--json'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const doc = res.json<RollbackDoc>();
    expect(doc).toMatchObject({ snapshot, status: 'ok', errors: [] });
    expect(doc.start).toEqual([db, app, feeder]);
    const by = Object.fromEntries(doc.services.map((s) => [s.service, s]));
    expect(by.db).toMatchObject({ entry: 'db.physical', method: 'physical', verdict: 'ok' });
    expect(by.db!.checks.map((c) => [c.what, c.against, c.equal])).toEqual([
      ['files', undefined, true],
      ['data', 'physical', true],
    ]);
    expect(by.db!.checks[1]!.compared).toBeGreaterThanOrEqual(2);
    expect(by.app).toMatchObject({ entry: 'app', method: 'physical', verdict: 'ok' });
    expect(by.app!.checks).toEqual([expect.objectContaining({ what: 'files', equal: true, compared: 2 })]);

    // Everything was stopped and started again, and runs.
    const after = await startedAt();
    expect(after.db).not.toBe(before.db);
    expect(after.app).not.toBe(before.app);
    expect(await lab.held()).toEqual([]);
    expect(await journal()).toEqual([]);

    // The database as it was: the dropped table and database back, the new one gone, no garbage.
    expect(await lab.psql(db, "SELECT count(*), max(name) FROM items WHERE name LIKE 'item %'")).toBe('2000\titem 999');
    expect(await lab.psql(db, 'SELECT count(*), sum(total) FROM orders', 'shop')).toBe('300\t67725.0');
    expect(await lab.psql(db, "SELECT to_regclass('upgraded') IS NULL")).toBe('t');
    expect(await docker(['exec', db, 'sh', '-c', `ls ${PGDATA}/GARBAGE 2>&1; grep -c garbage ${PGDATA}/postgresql.auto.conf || true`])).toMatch(/No such file[\s\S]*\n0$/);
    expect(await readFile(join(bind, 'settings.conf'), 'utf8')).toBe('mode=test\n');

    // The app volume as the snapshot holds it (restored beside it for the comparison), and the app counting on from there.
    const copy = lab.name('appcopy');
    const copyDir = join(await lab.dir('confcopy'), 'conf');
    const restore = await holdfast(['--repo', repo, 'restore', snapshot, 'app', '--target', `app=volume:${lab.name('appdata')}=${copy},${bind}=${copyDir}`], lab.env());
    expect(restore.code, restore.stderr).toBe(0);
    const saved = (await lab.inVolume(copy, 'cat /v/counter; cat /v/events')).split('\n');
    const n = Number(saved[0]);
    expect(saved[1]).toBe(`stop ${n}`);
    const live = await docker(['exec', app, 'sh', '-c', 'cat /data/events; ls /data; head -n 1 /data/log; tail -n 1 /data/log']);
    const [events, ...rest] = live.split('\n');
    expect(events).toBe(`stop ${n}`);
    expect(rest.slice(0, 3)).toEqual(['counter', 'events', 'log']);
    expect(rest[3]).toBe('line 1');
    expect(Number(/^line (\d+)$/.exec(rest[4]!)?.[1])).toBeGreaterThan(n);
  });

  test('a snapshot without a physical copy: the database comes back from its dump, into the running server, with the app stopped meanwhile', async () => {
    const backup = await holdfast(['--repo', repo, 'backup', '--project', project, '--fingerprint', 'full', '--json'], lab.env());
    const id = savedSnapshot(backup);
    await lab.psql(db, "DELETE FROM items WHERE id > 1000; UPDATE items SET name = 'changed' WHERE id = 1");
    const dry = await holdfast(['--repo', repo, 'rollback', id, '--dry-run', '--json'], lab.env());
    const plan = dry.json<RollbackDoc>();
    expect(plan.services.map((s) => [s.service, s.entry, s.method])).toEqual([
      ['app', 'app', 'physical'],
      ['db', 'db', 'logical'],
    ]);
    // The app for its volume, the feeder because it writes into db.
    expect(plan.stop.map((s) => s.container)).toEqual([feeder, app]);
    expect(plan.keepRunning).toEqual([db]);
    const before = await startedAt();
    const res = await holdfast(['--repo', repo, 'rollback', id, '--json'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const doc = res.json<RollbackDoc>();
    expect(doc.status).toBe('ok');
    const by = Object.fromEntries(doc.services.map((s) => [s.service, s]));
    expect(by.db).toMatchObject({ method: 'logical', verdict: 'ok', checks: [expect.objectContaining({ what: 'data', equal: true })] });
    expect(await lab.psql(db, "SELECT count(*), min(name) FROM items")).toBe('2000\titem 1');
    const after = await startedAt();
    expect(after.db).toBe(before.db);
    expect(after.app).not.toBe(before.app);
    expect(await lab.held()).toEqual([]);
  });

  test('SIGTERM during a rollback: it stops, starts every container again and says so', async () => {
    let pid = 0;
    const running = holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env(), { onSpawn: (p) => (pid = p) });
    await waitFor('the app stopped by the rollback', async () => ((await journaled()).includes(app) ? true : undefined), { timeoutMs: 60_000, intervalMs: 20 });
    process.kill(pid, 'SIGTERM');
    const res = await running;
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('SIGTERM received');
    expect(res.stderr).toContain('rollback interrupted; every container it stopped was started again');
    await waitFor('every container running', async () => ((await lab.held()).length === 0 ? true : undefined), { timeoutMs: 60_000 });
    expect(await journal()).toEqual([]);
  });

  test('SIGTERM while a rollback rewrites the volumes: the containers stay stopped, it says so, and --resume finishes', async () => {
    await lab.psql(db, 'DROP TABLE IF EXISTS items');
    let pid = 0;
    const running = holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env(), { onSpawn: (p) => (pid = p) });
    await waitFor('the rollback rewriting the volumes', async () => ((await rollbackRecords()).length === 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
    process.kill(pid, 'SIGTERM');
    const res = await running;
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('rollback interrupted while it rewrote the data');
    expect(res.stderr).toContain('are kept stopped: their data may be half-restored');
    expect(res.stderr).toContain('holdfast rollback --resume');
    expect(await lab.held()).toHaveLength(3);
    const resumed = await holdfast(['--repo', repo, 'rollback', '--resume', '--json'], lab.env());
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(await lab.psql(db, 'SELECT count(*) FROM items')).toBe('2000');
    await waitFor('every container running', async () => ((await lab.held()).length === 0 ? true : undefined), { timeoutMs: 60_000 });
    expect(await rollbackRecords()).toEqual([]);
    expect(await journal()).toEqual([]);
  });

  /** Kills a rollback once it has begun to rewrite data (its record written), as issue 12 found: 4 of 5 such kills had the next command start the database on a half-restored volume. */
  async function killRollbackWhileRewriting(): Promise<number> {
    await lab.psql(db, 'DROP TABLE IF EXISTS items');
    let pid = 0;
    const running = holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env(), { onSpawn: (p) => (pid = p) });
    await waitFor('the rollback rewriting the volumes', async () => ((await rollbackRecords()).length === 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
    process.kill(pid, 'SIGKILL');
    expect((await running).code).toBeNull();
    return pid;
  }
  const rollbackRecords = async () => (await readdir(join(lab.stateDir, 'rollbacks')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));

  test('kill -9 while a rollback rewrites the volumes: the next command keeps the containers stopped and says so; --abandon wants a yes; --resume finishes', async () => {
    const pid = await killRollbackWhileRewriting();
    const next = await holdfast(['--repo', repo, 'snapshots'], lab.env());
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`holdfast: a rollback to snapshot ${snapshot} (pid ${pid}`);
    expect(next.stderr).toContain(`was killed while it rewrote `);
    expect(next.stderr).toContain(`volume ${lab.name('pgdata')}`);
    expect(next.stderr).toContain(`volume ${lab.name('appdata')}`);
    expect(next.stderr).toContain('holdfast rollback --resume');
    expect(next.stderr).not.toContain('resumed container');
    // Nothing runs on the half-restored volumes.
    expect((await lab.held()).map((l) => l.split(' ')[0]).sort()).toEqual([app, db, feeder].sort());

    const refused = await holdfast(['--repo', repo, 'rollback', '--abandon'], lab.env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('needs an explicit yes');
    expect(refused.stderr).toContain('--yes');
    expect(await lab.held()).toHaveLength(3);

    const resumed = await holdfast(['--repo', repo, 'rollback', '--resume', '--json'], lab.env());
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(resumed.json<RollbackDoc>().services.map((s) => s.verdict)).toEqual(['ok', 'ok']);
    expect(await lab.psql(db, 'SELECT count(*) FROM items')).toBe('2000');
    await waitFor('every container running', async () => ((await lab.held()).length === 0 ? true : undefined), { timeoutMs: 60_000 });
    expect(await rollbackRecords()).toEqual([]);
    expect(await journal()).toEqual([]);
    const quiet = await holdfast(['--repo', repo, 'snapshots'], lab.env());
    expect(quiet.stderr).not.toContain('a rollback to snapshot');
  });

  test('kill -9 while a rollback rewrites the volumes, then --abandon --yes: the containers start on what is there', async () => {
    await killRollbackWhileRewriting();
    const abandoned = await holdfast(['--repo', repo, 'rollback', '--abandon', '--yes', '--json'], lab.env());
    expect(abandoned.code, abandoned.stderr).toBe(0);
    expect(abandoned.json<{ status: string; started: string[] }>()).toEqual({ status: 'abandoned', started: expect.arrayContaining([app, db, feeder]) });
    await waitFor('every container running', async () => ((await lab.held()).length === 0 ? true : undefined), { timeoutMs: 60_000 });
    expect(await rollbackRecords()).toEqual([]);
    expect(await journal()).toEqual([]);
    // Put the stack back for the tests after this one.
    const again = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade', '--json'], lab.env());
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(await lab.psql(db, 'SELECT count(*) FROM items')).toBe('2000');
  });

  test('a container recreated from another image: refused before anything stops, unless --allow-new-image', async () => {
    const image = `${lab.prefix}-busybox:2`;
    await docker(['build', '-q', '-t', image, '--label', lab.label, '-'], `FROM ${IMAGES.busybox}\nLABEL holdfast-test.variant=2\n`);
    await docker(['rm', '-f', app]);
    await lab.run('app', ['--init', '-v', `${lab.name('appdata')}:/data`, '-v', `${bind}:/conf`, image, 'sh', '-c', WRITER], { project, service: 'app', dependsOn: 'db' });
    try {
      const before = await startedAt();
      const res = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env());
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`[app] container ${app} of service app now runs ${image}`);
      expect(res.stderr).toContain('nothing was stopped');
      expect(res.stderr).toContain('--allow-new-image');
      expect(await startedAt()).toEqual(before);
      const forced = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade', 'app', '--allow-new-image', '--json'], lab.env());
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.json<RollbackDoc>().services.map((s) => [s.service, s.verdict])).toEqual([['app', 'ok']]);
      expect(await lab.held()).toEqual([]);
    } finally {
      await docker(['rm', '-f', app]).catch(() => undefined);
      await docker(['rmi', image]).catch(() => undefined);
    }
  });
});
