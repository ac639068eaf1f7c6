/**
 * One suite for every engine whose container secret a label names (issue #14
 * point 3): a container with no network, labelled holdfast.secret-file, whose
 * named file holds the password and wins over the engine's own variable. The
 * password is never in holdfast's output; a file that is gone is an error
 * naming the label, not a quiet use of the container's variables. Each engine's
 * test file gives how to start and seed its container and how its login is refused.
 */
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from './cli.js';
import { DockerLab, IMAGES } from './docker.js';

export interface SecretLabelCase {
  /** The engine as titles name it ("MariaDB"). */
  engine: string;
  /** The container's own password variable the label wins over (MARIADB_ROOT_PASSWORD). */
  variable: string;
  password: string;
  /** The service and the dump strategy asked for: a plan without a login would fall back to a tar of the volume. */
  service: string;
  strategy: string;
  /** What the engine answers a wrong password with. */
  refused: RegExp;
  /** More environment for holdfast (tool paths). */
  env?: () => Record<string, string>;
  /** Builds the engine's images. */
  prepare: () => void;
  /**
   * Starts the container named `db` with the engine's variable set to the
   * password and `args` (the label and the secret's read-only mount) among its
   * `docker run` arguments, seeds it, and returns its name.
   */
  start: (lab: DockerLab, args: string[]) => Promise<string>;
}

const SECRET = '/run/secrets/pw';

export function secretLabelSuite(c: SecretLabelCase): void {
  describe.runIf(process.getuid?.() === 0)(`${c.engine} in a container: the secret a label names`, () => {
    const lab = new DockerLab();
    let repo: string;
    let secrets: string;
    let db: string;
    let env: Record<string, string>;
    let outputs = '';
    const secret = (value: string) => writeFile(join(secrets, 'pw'), value, { mode: 0o644 });

    const backup = async () => {
      const r = await holdfast(['--repo', repo, 'backup', '--service', `${c.service}=container:${db}`, '--strategy', `${c.service}=${c.strategy}`, '--json'], env);
      outputs += r.stdout + r.stderr;
      return r;
    };

    beforeAll(async () => {
      await lab.init();
      c.prepare();
      process.env.HOLDFAST_STATE_DIR = lab.stateDir; // the test's own seeding sidecars carry the lab's state tag
      repo = join(await lab.dir('repo'), 'repo');
      secrets = await lab.dir('secrets');
      await chmod(secrets, 0o755);
      await secret(c.password);
      env = lab.env({ ...c.env?.(), HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox });
      db = await c.start(lab, ['--label', `holdfast.secret-file=${SECRET}`, '-v', `${secrets}:/run/secrets:ro`]);
    }, 120_000);

    afterAll(async () => {
      await lab.cleanup();
    });

    test(`the named file holds the password: the ${c.strategy} logs in with it, and it is nowhere in the output`, async () => {
      const r = await backup();
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.json<{ services: Array<{ status: string; strategy: string }> }>().services[0]).toMatchObject({ status: 'ok', strategy: c.strategy });
      expect(outputs).not.toContain(c.password);
    }, 120_000);

    test(`the named file says otherwise: the label wins over ${c.variable}, and the login is refused`, async () => {
      await secret('not-the-password');
      const r = await backup();
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toMatch(c.refused);
      expect(r.stdout + r.stderr).not.toMatch(/^\s+at /m);
    }, 120_000);

    test('the named file is gone: an error naming the label and the fix', async () => {
      await rm(join(secrets, 'pw'));
      const r = await backup();
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const error = r.json<{ services: Array<{ error?: { message: string; hint?: string } }> }>().services[0]!.error!;
      expect(error.message).toBe(`the secret named by secret_file ${SECRET} is not readable inside container ${db}`);
      expect(error.hint).toContain('holdfast.secret-file');
      expect(outputs).not.toContain(c.password);
    }, 120_000);
  });
}
