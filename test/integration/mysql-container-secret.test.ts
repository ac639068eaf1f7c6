import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { DockerLab, IMAGES } from '../support/docker.js';
import { ensureMariadbImage, mariadbContainer, mariadbSql } from '../support/mariadb-container.js';

// MariaDB in a container with no network, labelled holdfast.secret-file: the file the label names
// inside the container holds root's password, and it wins over MARIADB_ROOT_PASSWORD (issue #14
// point 3, "a label naming a secret"). Its value is never in holdfast's output; a file that is
// gone is an error naming the label, not a quiet use of the container's variables.
const PASSWORD = 'maria-root-secret-63';

describe.runIf(process.getuid?.() === 0)('MariaDB in a container: the secret a label names', () => {
  const lab = new DockerLab();
  let repo: string;
  let secrets: string;
  let db: string;
  let env: Record<string, string>;
  let outputs = '';

  // The dump asked for: a plan without a login would fall back to a tar of the container's volume.
  const backup = async () => {
    const r = await holdfast(['--repo', repo, 'backup', '--service', `shop=container:${db}`, '--strategy', 'shop=dump', '--json'], env);
    outputs += r.stdout + r.stderr;
    return r;
  };

  beforeAll(async () => {
    await lab.init();
    ensureMariadbImage();
    repo = join(await lab.dir('repo'), 'repo');
    secrets = await lab.dir('secrets');
    await chmod(secrets, 0o755);
    await writeFile(join(secrets, 'pw'), PASSWORD, { mode: 0o644 });
    env = lab.env({ HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox });
    db = await mariadbContainer(lab, 'db', { env: ['-e', `MARIADB_ROOT_PASSWORD=${PASSWORD}`, '--label', 'holdfast.secret-file=/run/secrets/pw'], args: ['-v', `${secrets}:/run/secrets:ro`] });
    await mariadbSql(db, 'CREATE DATABASE shop');
    await mariadbSql(db, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_40', 'shop');
  }, 120_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('the named file holds the password: the dump logs in with it, and it is nowhere in the output', async () => {
    const r = await backup();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json<{ services: Array<{ status: string; strategy: string }> }>().services[0]).toMatchObject({ status: 'ok', strategy: 'dump' });
    expect(outputs).not.toContain(PASSWORD);
  }, 120_000);

  test('the named file says otherwise: the label wins over MARIADB_ROOT_PASSWORD, and the login is refused', async () => {
    await writeFile(join(secrets, 'pw'), 'not-the-password', { mode: 0o644 });
    const r = await backup();
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/Access denied/);
    expect(r.stdout + r.stderr).not.toMatch(/^\s+at /m);
  }, 120_000);

  test('the named file is gone: an error naming the label and the fix', async () => {
    await rm(join(secrets, 'pw'));
    const r = await backup();
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const error = r.json<{ services: Array<{ error?: { message: string; hint?: string } }> }>().services[0]!.error!;
    expect(error.message).toBe(`the secret named by secret_file /run/secrets/pw is not readable inside container ${db}`);
    expect(error.hint).toContain('holdfast.secret-file');
    expect(outputs).not.toContain(PASSWORD);
  }, 120_000);
});
