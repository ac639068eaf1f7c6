import { chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';

// PostgreSQL in containers with no network whose socket asks for a password
// (--auth-local=scram-sha-256): holdfast takes the password the container
// was given, inside it (issue #14 point 3): POSTGRES_PASSWORD_FILE, or the
// file a label names (holdfast.secret-file); never in holdfast's argv, its
// output or the manifest. A container whose credentials are gone, or whose
// image lacks pg_dump, gets a plan that says so and an error that names the fix.
const INITIAL = 'pg-initial-secret-31';
const ROTATED = 'pg-rotated-secret-47';

describe.runIf(process.getuid?.() === 0)('PostgreSQL in a container: the credentials it holds (_FILE, a label naming a secret), and the bad inputs', () => {
  const lab = new DockerLab();
  let repo: string;
  let secrets: string;
  let plain: string;
  let labelled: string;
  let outputs = '';

  const run = async (args: string[]) => {
    const r = await holdfast(['--repo', repo, ...args], lab.env());
    outputs += r.stdout + r.stderr;
    return r;
  };
  const start = (short: string, extra: string[]) =>
    lab.run(short, ['-e', 'POSTGRES_PASSWORD_FILE=/run/secrets/initial', '-e', 'POSTGRES_INITDB_ARGS=--auth-local=scram-sha-256 --auth-host=scram-sha-256', '-v', `${secrets}:/run/secrets:ro`, ...extra, IMAGES.postgres]);
  const ready = (name: string) =>
    waitFor(`postgres in ${name}`, async () => ((await docker(['exec', '-e', `PGPASSWORD=${INITIAL}`, name, 'psql', '-X', '-q', '-U', 'postgres', '-c', 'SELECT 1']).then(() => true, () => false)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    secrets = await lab.dir('secrets');
    await chmod(secrets, 0o755);
    await writeFile(join(secrets, 'initial'), `${INITIAL}\n`, { mode: 0o644 });
    await writeFile(join(secrets, 'rotated'), ROTATED, { mode: 0o644 });
    [plain, labelled] = await Promise.all([start('plain', []), start('labelled', ['--label', 'holdfast.secret-file=/run/secrets/rotated'])]);
    await Promise.all([ready(plain), ready(labelled)]);
    await docker(['exec', '-e', `PGPASSWORD=${INITIAL}`, plain, 'psql', '-X', '-q', '-U', 'postgres', '-c', 'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 50)']);
    // The password was changed after the container started: only the secret the label names holds the current one.
    await docker(['exec', '-e', `PGPASSWORD=${INITIAL}`, labelled, 'psql', '-X', '-q', '-U', 'postgres', '-c', `ALTER ROLE postgres PASSWORD '${ROTATED}'`]);
  }, 120_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  const manifests = async () => {
    const dir = join(repo, 'snapshots');
    const files = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
    return (await Promise.all(files.filter((f) => f.endsWith('.json')).map((f) => readFile(join(dir, f), 'utf8').catch(() => '')))).join('\n');
  };

  test('POSTGRES_PASSWORD_FILE: the password is read inside the container; backup and restore test pass; it is nowhere else', async () => {
    const backup = await run(['backup', '--service', `db=container:${plain}`, '--verify', '--json']);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    // pg_dump, not the tar a plan without credentials falls back to.
    expect(backup.json<{ services: Array<{ status: string; strategy: string }> }>().services[0]).toMatchObject({ status: 'ok', strategy: 'pg_dump' });
    expect(outputs).not.toContain(INITIAL);
    expect(await manifests()).not.toContain(INITIAL);
  }, 120_000);

  test('the label holdfast.secret-file names the secret: it wins over POSTGRES_PASSWORD_FILE (a rotated password)', async () => {
    const plan = await run(['plan', '--service', `db=container:${labelled}`, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.json<{ services: Array<{ strategy: string }> }>().services[0]).toMatchObject({ strategy: 'pg_dump' });
    const backup = await run(['backup', '--service', `db=container:${labelled}`, '--json']);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    expect(backup.json<{ services: Array<{ status: string; strategy: string }> }>().services[0]).toMatchObject({ status: 'ok', strategy: 'pg_dump' });
    expect(outputs).not.toContain(ROTATED);
    expect(await manifests()).not.toContain(ROTATED);
  }, 120_000);

  test('the secret the label names is gone: the plan says why pg_dump cannot run, the backup fails naming the label, nothing stored', async () => {
    await rm(join(secrets, 'rotated'));
    const plan = await run(['plan', '--service', `db=container:${labelled}`, '--json']);
    expect(plan.json<{ services: Array<{ reason: string }> }>().services[0]!.reason).toContain(`the secret named by secret_file /run/secrets/rotated is not readable inside container ${labelled}`);
    const before = await manifests();
    const backup = await run(['backup', '--service', `db=container:${labelled}`, '--strategy', 'db=pg_dump']);
    expect(backup.code, backup.stderr).toBe(1);
    expect(backup.stderr).toContain('secret_file /run/secrets/rotated');
    expect(backup.stderr).toMatch(/hint: .*holdfast\.secret-file/);
    expect(backup.stderr).not.toMatch(/^\s+at /m);
    expect(await manifests()).toBe(before);
  }, 120_000);

  test('a container with no credentials holdfast can use: the plan says so, the backup fails clearly naming the fix', async () => {
    await rm(join(secrets, 'initial'));
    const plan = await run(['plan', '--service', `db=container:${plain}`, '--json']);
    const item = plan.json<{ services: Array<{ strategy: string; reason: string }> }>().services[0]!;
    expect(item.reason).toMatch(/psql in container \S+ connects with the known credentials/);
    const backup = await run(['backup', '--service', `db=container:${plain}`, '--strategy', 'db=pg_dump']);
    expect(backup.code, backup.stderr).toBe(1);
    expect(backup.stderr).toMatch(/^holdfast: \[db\] strategy pg_dump cannot run: .*no password supplied/m);
    expect(backup.stderr).toMatch(/hint: set HOLDFAST_DB_PASSWORD \(or POSTGRES_PASSWORD\[_FILE\] in the container, or the label holdfast\.secret-file/);
    expect(backup.stderr).not.toMatch(/^\s+at /m);
  }, 120_000);

  test('an image without pg_dump: the plan names the missing tool and what it falls back to', async () => {
    await writeFile(join(secrets, 'initial'), `${INITIAL}\n`, { mode: 0o644 });
    await docker(['exec', '-u', '0', plain, 'sh', '-c', 'rm -f "$(command -v pg_dump)"']);
    const plan = await run(['plan', '--service', `db=container:${plain}`]);
    expect(plan.code, plan.stderr).toBe(0);
    // What it falls back to (pg_basebackup in the container, the server running), and which tool is missing where.
    const why = /strongest available: physical copy .*the server running.*; skipped pg_dump: pg_dump in the image of major 15 or newer \(not in the image\)/;
    expect(plan.stdout).toMatch(why);
    expect(plan.stdout).toContain('its image lacks pg_dump');
    const json = (await run(['plan', '--service', `db=container:${plain}`, '--json'])).json<{ services: Array<{ strategy: string; consistency: string; reason: string }> }>().services[0]!;
    expect(json).toMatchObject({ strategy: 'pg_basebackup', consistency: 'transactional' });
    expect(json.reason).toMatch(why);
    expect(outputs).not.toContain(INITIAL);
  }, 120_000);
});
