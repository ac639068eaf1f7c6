import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab } from '../support/docker.js';
import { execTimeline, firstExec, type ExecSpan } from '../support/exec-timeline.js';
import { freePort } from '../support/free-port.js';

interface RestoreDoc {
  services: Array<{ status: string; location?: string; notes: string[]; error?: { message: string }; fingerprint?: { equal: boolean; differences: string[] } }>;
}

/**
 * One PostgreSQL driver in every place (issue 14): what a restore onto a
 * server reached by URL can do, a restore into a container does too (issue
 * 11: --tablespace-map, the ICU locale fallback), and pg_basebackup runs
 * inside the container, streamed out of the exec, with the server running.
 */
describe('PostgreSQL in a container: the same restore as by URL, and pg_basebackup through the exec', () => {
  const lab = new DockerLab();
  let repo: string;
  let src: string;
  let dst: string;
  let snapshot: string;
  let backupExecs = 0;
  let timeline: ExecSpan[] = [];

  const inContainer = (name: string, script: string) => docker(['exec', name, 'sh', '-c', script]);

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    const [p1, p2] = await Promise.all([freePort(), freePort()]);
    [src, dst] = await Promise.all([lab.postgres('src', p1), lab.postgres('dst', p2, { password: 'other-secret' })]);
    await inContainer(src, 'mkdir -p /var/lib/postgresql/ts_fast && chown postgres:postgres /var/lib/postgresql/ts_fast');
    await inContainer(dst, 'mkdir -p /var/lib/postgresql/ts_slow && chown postgres:postgres /var/lib/postgresql/ts_slow');
    await lab.psql(src, "CREATE TABLESPACE fast LOCATION '/var/lib/postgresql/ts_fast'");
    await lab.psql(dst, "CREATE TABLESPACE slow LOCATION '/var/lib/postgresql/ts_slow'", 'postgres', 'other-secret');
    await lab.psql(src, 'CREATE DATABASE shop');
    await lab.psql(src, "CREATE TABLE orders (id int PRIMARY KEY, what text) TABLESPACE fast; INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 500) g", 'shop');
    await lab.psql(src, "CREATE DATABASE words TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'");
    await lab.psql(src, "CREATE TABLE w (t text); INSERT INTO w VALUES ('Äpfel'), ('Zebra'), ('apfel')", 'words');
    const since = (Date.now() / 1000).toFixed(3);
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${src}`, '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    snapshot = backup.json<{ snapshot: string }>().snapshot;
    const until = (Date.now() / 1000 + 0.5).toFixed(3);
    backupExecs = (await docker(['events', '--since', since, '--until', until, '--filter', `container=${src}`, '--filter', 'event=exec_create', '--format', '{{.ID}}'])).split('\n').filter(Boolean).length;
    timeline = await execTimeline(src, since, until);
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('plan and show say where the tools run, in one short line', async () => {
    const plan = await holdfast(['plan', '--service', `db=container:${src}`], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(new RegExp(`inside container ${src}: its image has pg_dump 15\\.\\d+; strongest available: pg_dump per database`));
    const show = await holdfast(['--repo', repo, 'show', snapshot], lab.env());
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`\\n  place: inside container ${src}: its image has pg_dump 15\\.\\d+\\n`));
  });

  test('a backup in the container costs few docker execs (each is 50-100 ms of fixed time)', () => {
    // postgres, shop and words: the plan's psql; one probe of the tools (presence, their versions, and the listing of
    // dead runs' pipes that the sweep uses: service-place.ts, container-pipe-sweep.ts); one psql for the inspection (it
    // then holds the snapshot of postgres, then of shop and words: psql's \connect); the globals; and per database two
    // dumps, each one exec (its pipe made and removed in the same exec). Before: 12 (the versions and the sweep's
    // listing an exec each), 14 (a psql per database), 31 (three execs a pipe, each tool version one, twice).
    expect(backupExecs).toBeGreaterThan(0);
    expect(backupExecs).toBeLessThanOrEqual(1 + 1 + 1 + 1 + 3 * 2);
  });

  test("the plan's psql starts beside the probe of the image's tools, not after it (an exec is 50-100 ms of fixed time)", () => {
    // Before: the psql exec was made once the probe had answered (postgres-place.ts openPgSite, PlaceNeeds.ahead).
    const probe = firstExec(timeline, 'holdfast-probe');
    const psql = firstExec(timeline, '--no-psqlrc');
    expect(probe.die, 'the probe ended').toBeDefined();
    expect(psql.start, 'the psql started').toBeDefined();
    expect(psql.start! < probe.die!, `psql started ${Number(psql.start! - probe.die!) / 1e6} ms after the probe ended`).toBe(true);
  });

  test('--tablespace-map OLD=NEW into another container: the table lands in the mapped tablespace, fingerprints equal', async () => {
    const res = await holdfast(['--repo', repo, 'restore', snapshot, 'db', '--database', 'shop', '--target', `db=container:${dst}`, '--tablespace-map', 'fast=slow', '--json'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const out = res.json<RestoreDoc>().services[0]!;
    expect(out).toMatchObject({ status: 'ok', location: `container:${dst}/shop`, fingerprint: { equal: true } });
    expect(await lab.psql(dst, "SELECT t.spcname, count(*) FROM orders, pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.relname = 'orders' GROUP BY 1", 'shop', 'other-secret')).toBe('slow\t500');
  });

  test('an ICU locale the target refuses: created with libc and said in a note, as by URL (not a failed restore)', async () => {
    // A snapshot of a server whose ICU knows a locale that this one's refuses: the recorded locale is one that ICU here cannot open.
    const file = join(repo, 'snapshots', snapshot, 'manifest.json');
    const manifest = await readFile(file, 'utf8');
    expect(manifest).toContain('"icuLocale": "de-DE"');
    await writeFile(file, manifest.replace('"icuLocale": "de-DE"', '"icuLocale": "@colStrength=zz"'));
    const restore = (accept: string[]) => holdfast(['--repo', repo, 'restore', snapshot, 'db', '--database', 'words', '--target', `db=container:${dst}`, '--force', ...accept.flatMap((a) => ['--accept', a]), '--json'], lab.env());
    // The proof names what was lost; declared with --accept, the restore passes.
    const named = await restore([]);
    expect(named.code).toBe(1);
    expect(named.json<RestoreDoc>().services[0]!.fingerprint!.differences).toContain('words: locale provider is "libc" after restore, "icu" at backup');
    const res = await restore(['words:locale provider', 'words:icu locale', 'words:collation version']);
    await writeFile(file, manifest);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const out = res.json<RestoreDoc>().services[0]!;
    expect(out.status).toBe('ok');
    expect(out.notes.join('\n')).toMatch(/words: created without locale provider icu \(ICU locale @colStrength=zz\): the target refused it \(could not open collator for locale "@colStrength=zz"/);
    expect(await lab.psql(dst, "SELECT datlocprovider FROM pg_database WHERE datname = 'words'", 'postgres', 'other-secret')).toBe('c');
    expect(await lab.psql(dst, 'SELECT count(*) FROM w', 'words', 'other-secret')).toBe('3');
  });

  test('pg_basebackup inside the container: streamed out of the exec with the server running, restored into an empty directory and into a volume', async () => {
    // pg_basebackup -D - writes one tablespace only: the one outside the data directory goes first.
    await lab.psql(src, 'DROP DATABASE shop');
    await lab.psql(src, 'DROP TABLESPACE fast');
    const started = await docker(['inspect', '-f', '{{.State.StartedAt}}', src]);
    const plan = await holdfast(['plan', '--service', `db=container:${src}`, '--strategy', 'db=pg_basebackup', '--json'], lab.env());
    expect(plan.code, plan.stderr).toBe(0);
    const offer = plan.json<{ services: Array<{ strategy: string; offers: Array<{ name: string; requirements: Array<{ what: string; met: boolean; detail?: string }> }> }> }>().services[0]!.offers.find((o) => o.name === 'pg_basebackup')!;
    expect(offer.requirements).toContainEqual(expect.objectContaining({ what: expect.stringContaining('replication connection on the container'), met: true, detail: 'pg_hba.conf: local replication trust' }));
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${src}`, '--strategy', 'db=pg_basebackup', '--json'], lab.env());
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const id = backup.json<{ snapshot: string; services: Array<{ strategy: string; status: string }> }>();
    expect(id.services[0]).toMatchObject({ strategy: 'pg_basebackup', status: 'ok' });
    expect(await docker(['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', src])).toBe(`true ${started}`);
    const manifest = JSON.parse(await readFile(join(repo, 'snapshots', id.snapshot, 'manifest.json'), 'utf8')) as { services: Record<string, { details: Record<string, unknown> }> };
    expect(manifest.services.db!.details.place).toEqual({ kind: 'container', where: `inside container ${src}`, reason: expect.stringMatching(/^its image has pg_basebackup 15\.\d+$/) });

    const datadir = join(await lab.dir('restored'), 'data');
    const restore = await holdfast(['--repo', repo, 'restore', id.snapshot, 'db', '--target', `db=file:${datadir}`, '--json'], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<RestoreDoc>().services[0]).toMatchObject({ status: 'ok', location: `file:${datadir}` });
    expect((await readFile(join(datadir, 'PG_VERSION'), 'utf8')).trim()).toBe('15');
    // The restore test of the copy: a throwaway server on this host, connected to as the container's POSTGRES_USER.
    const verified = await holdfast(['--repo', repo, 'verify', id.snapshot, '--restore-test'], lab.env());
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    expect(await readFile(join(datadir, 'backup_manifest'), 'utf8')).toContain('"Files"');

    // Into a volume: a container of the same image starts on it, with the data of the copy.
    const volume = await lab.volume('restored');
    const intoVolume = await holdfast(['--repo', repo, 'restore', id.snapshot, 'db', '--target', `db=volume:${volume}`, '--json'], lab.env());
    expect(intoVolume.code, intoVolume.stderr + intoVolume.stdout).toBe(0);
    expect(intoVolume.json<RestoreDoc>().services[0]).toMatchObject({ status: 'ok', location: `volume:${volume}` });
    expect(intoVolume.json<RestoreDoc>().services[0]!.notes.join('\n')).not.toContain('pg_verifybackup not run'); // checked with the image's own
    const copy = await lab.postgres('copy', await freePort(), { volume });
    expect(await lab.psql(copy, 'SELECT count(*) FROM w', 'words')).toBe('3');
    const busy = await holdfast(['--repo', repo, 'restore', id.snapshot, 'db', '--target', `db=volume:${volume}`, '--force'], lab.env());
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`volume ${volume} is in use by running container ${copy}`);
  });
});
