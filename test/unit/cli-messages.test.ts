// What a new user reads: typos get a "did you mean", flags are named once, --quiet is quiet, words fit the engine, snapshot references exit alike.
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DirRepository } from '../../src/repository/dir-repository.js';
import { holdfast } from '../support/cli.js';
import { cleanupTemp, manifest, serviceRecord, tempDir } from './helpers/temp-repo.js';

const NOWHERE = 'db=postgres://postgres@127.0.0.1:1/app';

describe('messages of the first hour', () => {
  let repo: string;
  let volumeSnapshot: string;
  const env = () => ({ HOLDFAST_REPO: repo, HOLDFAST_CONFIG: undefined, HOLDFAST_PASSWORD: undefined, HOLDFAST_PASSWORD_FILE: undefined });

  beforeAll(async () => {
    repo = join(await tempDir('holdfast-messages-'), 'repo');
    const r = new DirRepository(repo);
    await r.init();
    // Two snapshots of the same second share their id's prefix: "2" is ambiguous.
    for (let i = 0; i < 2; i++) {
      const writer = await r.beginSnapshot('backup');
      const record = await writer.sink('data').write('data.tar', Readable.from([Buffer.alloc(2048)]), { kind: 'tar' });
      const data = serviceRecord({
        engine: 'volume',
        strategy: 'tar',
        artifacts: [record],
        fingerprint: { scope: 'full', items: { 'shop_data:/data': { count: 60, checksum: 'x' } } },
        details: { volumes: [{ artifact: 'data.tar', type: 'volume', source: 'shop_data', destination: '/data', entries: 60, bytes: 2048 }] },
      });
      await writer.commit(manifest(writer.id, { services: { data } }));
      volumeSnapshot = writer.id;
    }
  });
  afterAll(cleanupTemp);

  test('a mistyped command: exit 2 and the command that was meant', async () => {
    const r = await holdfast(['bakcup', '--service', NOWHERE], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('holdfast: unknown command "bakcup"; did you mean `holdfast backup`?\n  hint: see holdfast --help\n');
  });

  test('an unknown flag is named once, as typed, with the flag that was meant', async () => {
    const r = await holdfast(['forget', '--keep-daily', '1', '--dri-run', '--bogus-flag'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('holdfast: unknown arguments: --dri-run (did you mean --dry-run?), --bogus-flag\n  hint: see holdfast --help\n');
  });

  test('--quiet prints the outcome line and no result table', async () => {
    const r = await holdfast(['backup', '--quiet', '--service', NOWHERE], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`no snapshot was saved to ${repo}: every service failed\n`);
  });

  test('no services: the hint names --docker and --project', async () => {
    const r = await holdfast(['plan'], env(), { cwd: await tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('holdfast: no services to work on');
    expect(r.stderr).toMatch(/hint: .*--docker .*--project NAME/);
  });

  test("a volume's fingerprint is told in files and bytes, not tables and rows", async () => {
    const r = await holdfast(['show', volumeSnapshot], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('  fingerprint (full): 1 volume, 60 files and folders, 2.0 KiB\n');
    expect(r.stdout).not.toMatch(/tables|rows/);
  });

  test('an unknown and an ambiguous snapshot reference exit alike (1)', async () => {
    const unknown = await holdfast(['show', 'no-such-tag'], env());
    const ambiguous = await holdfast(['show', '2'], env());
    expect(unknown.stderr).toContain('no snapshot or tag "no-such-tag"');
    expect(ambiguous.stderr).toContain('"2" matches 2 snapshots');
    expect([unknown.code, ambiguous.code]).toEqual([1, 1]);
  });
});
