/**
 * Passwords are never printed (issue 12): a password holding `#`, `@`, `/` or `%` makes a service URL
 * unparsable or misparsed, and whatever holdfast then says (text or --json, from --service or from
 * holdfast.yml) must not contain it. Runs the built CLI.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { redactUrl } from '../../src/core/service.js';
import { holdfast } from '../support/cli.js';

/** Each holds a character that breaks a URL, plus ones that misparse into a host:port when the part before it is numeric. */
const PASSWORDS = ['S3cr!tPw_ZQX#91', 'S3cr!tPw@ZQX91', 'S3cr!tPw/ZQX91', 'S3cr!tPw%ZQX91', '4242#S3cr!tPwZQX', '4242/S3cr!tPwZQX', 'S3cr!t Pw@ZQX?9"1'];

/** Distinctive pieces: none may show, not even half a password. */
function leaks(text: string, password: string): string[] {
  const pieces = [password, 'S3cr!t', 'PwZQX', 'ZQX91', 'ZQX#', 'ZQX'];
  return pieces.filter((p) => text.includes(p) || text.includes(encodeURIComponent(p)) || text.includes(JSON.stringify(p).slice(1, -1)));
}

describe('a password with # @ / % in a service URL is never printed', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'holdfast-redact-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const password of PASSWORDS) {
    const url = `postgres://postgres:${password}@127.0.0.1:1/app`;

    test(`holdfast.yml, text and --json: ${password}`, async () => {
      const config = join(dir, `holdfast-${PASSWORDS.indexOf(password)}.yml`);
      await writeFile(config, `repo: ${join(dir, 'repo')}\nservices:\n  db:\n    url: '${url.replace(/'/g, "''")}'\n`);
      for (const json of [false, true]) {
        const result = await holdfast(['backup', '--config', config, ...(json ? ['--json'] : [])]);
        expect(result.code, result.stderr).not.toBe(0);
        expect(leaks(result.stdout + result.stderr, password), result.stdout + result.stderr).toEqual([]);
        expect(result.stdout + result.stderr).toMatch(/db/);
      }
    });

    test(`--service, text and --json: ${password}`, async () => {
      for (const json of [false, true]) {
        const result = await holdfast(['backup', '--repo', join(dir, 'repo'), '--service', `db=${url}`, ...(json ? ['--json'] : [])]);
        expect(result.code, result.stderr).toBe(2);
        expect(leaks(result.stdout + result.stderr, password), result.stdout + result.stderr).toEqual([]);
      }
    });
  }

  test('redactUrl hides the whole password, whatever it holds, in free text', () => {
    for (const password of PASSWORDS.filter((p) => !/[\s"]/.test(p))) {
      const text = `connecting to postgres://postgres:${password}@127.0.0.1:1/app failed; retry mongodb://u:${password}@h/db`;
      expect(leaks(redactUrl(text), password), redactUrl(text)).toEqual([]);
      expect(redactUrl(text)).toContain('postgres://postgres:***@127.0.0.1:1/app failed');
    }
  });
});
