// Repositories never appear by accident: only init and backup --init create one, never where nothing names it, never under a missing parent.
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { cleanupTemp, tempDir } from './helpers/temp-repo.js';

// Port 1 refuses at once: every service fails, before any server is needed.
const NOWHERE = 'db=postgres://postgres@127.0.0.1:1/app';
/** No repository from the environment: each test names its own, or none. */
const env = { HOLDFAST_REPO: undefined, HOLDFAST_CONFIG: undefined, HOLDFAST_PASSWORD: undefined, HOLDFAST_PASSWORD_FILE: undefined, HOLDFAST_KEY_FILE: undefined };

describe('where a repository may appear', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('holdfast-repo-rule-');
  });
  afterAll(cleanupTemp);

  test('nothing names a repository: exit 2, says how to name one, and nothing appears in the current directory', async () => {
    const cwd = await tempDir();
    for (const args of [['backup', '--init', '--service', NOWHERE], ['snapshots']]) {
      const r = await holdfast(args, env, { cwd, init: false });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('holdfast: no repository named\n');
      expect(r.stderr).toMatch(/hint: pass --repo PATH .*, set HOLDFAST_REPO, or add repo: to holdfast.yml/);
    }
    expect(await readdir(cwd)).toEqual([]);
  });

  test('a backup without --init into a missing repository: exit 1, names it and the fix, creates nothing (directory and restic)', async () => {
    const repo = join(dir, 'not-yet');
    const r = await holdfast(['backup', '--repo', repo, '--service', NOWHERE], env, { init: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`holdfast: no holdfast repository at ${repo}\n`);
    expect(r.stderr).toContain('`holdfast backup --init`');
    const restic = await holdfast(['backup', '--repo', `restic:${join(dir, 'restic-not-yet')}`, '--service', NOWHERE], { ...env, RESTIC_PASSWORD: 'restic-test-pw' }, { init: false });
    expect(restic.code).toBe(1);
    expect(restic.stderr).toContain(`holdfast: no restic repository at ${join(dir, 'restic-not-yet')}\n`);
    expect(restic.stderr).toContain('`holdfast backup --init`');
    expect(await readdir(dir)).not.toContain('not-yet');
    expect(await readdir(dir)).not.toContain('restic-not-yet');
  });

  test('import into a missing repository is refused too', async () => {
    const bundle = join(dir, 'some.hfb');
    await writeFile(bundle, 'not read: the repository is looked at first');
    const r = await holdfast(['--repo', join(dir, 'import-target'), 'import', bundle], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no holdfast repository at ${join(dir, 'import-target')}`);
    expect(await readdir(dir)).not.toContain('import-target');
  });

  test('a path whose parent does not exist is refused by backup --init and init, for a directory and a restic repository', async () => {
    for (const [location, shown] of [
      [join(dir, 'nonexistent-parent', 'x', 'y'), join(dir, 'nonexistent-parent', 'x', 'y')],
      [`restic:${join(dir, 'nonexistent-parent', 'r')}`, join(dir, 'nonexistent-parent', 'r')],
    ] as const) {
      for (const args of [['backup', '--init', '--service', NOWHERE], ['init']]) {
        const r = await holdfast(['--repo', location, ...args], { ...env, RESTIC_PASSWORD: 'restic-test-pw' });
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`cannot create the (restic )?repository at ${shown}: its parent directory ${join(shown, '..')} does not exist`));
      }
    }
    expect(await readdir(dir)).not.toContain('nonexistent-parent');
  });

  test('backup --init creates it and names it, in the output and in --json; a failed service claims no consistency', async () => {
    const repo = join(dir, 'made');
    const r = await holdfast(['backup', '--init', '--repo', repo, '--service', NOWHERE], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`no snapshot was saved to ${repo}: every service failed`);
    expect(r.stdout).toMatch(/^db +postgres +none +- +failed /m);
    expect(r.stdout).not.toContain('inconsistent');
    const json = await holdfast(['backup', '--repo', repo, '--json', '--service', NOWHERE], env, { init: false });
    expect(json.json()).toMatchObject({ snapshot: null, repository: repo, status: 'failed', services: [{ service: 'db', status: 'failed', consistency: null }] });
  });
});
