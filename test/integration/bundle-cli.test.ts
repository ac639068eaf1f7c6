import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DirRepository } from '../../src/repository/dir-repository.js';
import { holdfast, initRepo } from '../support/cli.js';
import { cleanupTemp, listDir, manifest, serviceRecord, tempDir } from '../unit/helpers/temp-repo.js';

const BIN = new URL('../../bin/holdfast.js', import.meta.url).pathname;

/** `holdfast export ... --to - | holdfast import -`, as two processes joined by a pipe. */
async function pipeExportImport(from: string, to: string, ref: string): Promise<{ exportCode: number | null; importCode: number | null; importOut: string; exportErr: string }> {
  await initRepo(to);
  const exporter = spawn(process.execPath, [BIN, '--repo', from, 'export', ref, '--to', '-', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const importer = spawn(process.execPath, [BIN, '--repo', to, 'import', '-', '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
  exporter.stdout.pipe(importer.stdin);
  let importOut = '';
  let exportErr = '';
  importer.stdout.on('data', (d: Buffer) => (importOut += d.toString()));
  exporter.stderr.on('data', (d: Buffer) => (exportErr += d.toString()));
  const [[exportCode], [importCode]] = await Promise.all([once(exporter, 'close'), once(importer, 'close')]);
  return { exportCode, importCode, importOut, exportErr };
}

describe('holdfast export / import on the command line', () => {
  let source: string;
  let id: string;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('holdfast-bundle-cli-');
    source = join(dir, 'source');
    const repo = new DirRepository(source);
    await repo.init();
    const writer = await repo.beginSnapshot('backup');
    const record = await writer.sink('db').write('app.pgdump', Readable.from([Buffer.from('x'.repeat(100_000) + 'end')]), { kind: 'pg_dump', label: 'app' });
    await writer.commit(manifest(writer.id, { tags: ['pre-move'], services: { db: serviceRecord({ artifacts: [record] }) } }));
    id = writer.id;
  });

  afterAll(cleanupTemp);

  test('export --json to a file, import it into a fresh repository, again: already there', async () => {
    const file = join(dir, 'stack.hfb');
    const out = await holdfast(['--repo', source, 'export', 'pre-move', '--to', file, '--json']);
    expect(out.code, out.stderr).toBe(0);
    const summary = out.json<{ status: string; snapshot: string; bytes: number; artifacts: number; sha256: string; file: string }>();
    expect(summary).toMatchObject({ status: 'ok', snapshot: id, artifacts: 1, file });
    expect(summary.bytes).toBe((await readFile(file)).length);
    expect(await listDir(dir)).not.toContain('stack.hfb.partial');

    const target = join(dir, 'target');
    await initRepo(target);
    const first = await holdfast(['--repo', target, 'import', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`snapshot ${id} imported and verified: db; 1 artifacts`);
    const again = await holdfast(['--repo', target, 'import', file, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ status: 'already-present', snapshot: id });
    const listed = await holdfast(['--repo', target, 'snapshots', '--json']);
    expect(JSON.stringify(listed.json())).toContain(id);
    const verify = await holdfast(['--repo', target, 'verify', id]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    // A second export to the same file is refused without --force.
    const refused = await holdfast(['--repo', source, 'export', id, '--to', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${file} exists`);
  });

  test('export --to - piped into import -: the summary goes to stderr, the snapshot arrives', async () => {
    const target = join(dir, 'piped');
    const res = await pipeExportImport(source, target, id);
    expect(res.exportCode, res.exportErr).toBe(0);
    expect(res.importCode).toBe(0);
    expect(JSON.parse(res.exportErr)).toMatchObject({ status: 'ok', file: '-', snapshot: id });
    expect(JSON.parse(res.importOut)).toMatchObject({ status: 'ok', snapshot: id });
  });

  test('import of a tampered bundle: exit 1, an integrity error naming the part, nothing listed', async () => {
    const file = join(dir, 'tampered.hfb');
    expect((await holdfast(['--repo', source, 'export', id, '--to', file])).code).toBe(0);
    const data = await readFile(file);
    const at = data.indexOf('artifacts/db/app.pgdump') + 512 + 10;
    data[at] = data[at]! ^ 0xff;
    await writeFile(file, data);
    const target = join(dir, 'tampered-target');
    await initRepo(target);
    const res = await holdfast(['--repo', target, 'import', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^holdfast: bundle part artifacts\/db\/app\.pgdump: sha256 \w+ differs from the manifest's/);
    expect(res.stderr).toContain('hint: the bundle was damaged or altered after export');
    const listed = await holdfast(['--repo', target, 'snapshots', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.stringify(listed.json())).not.toContain(id);
    expect(await listDir(join(target, 'snapshots'))).toEqual([]);
    expect(await listDir(join(target, 'tmp'))).toEqual([]);

    const json = await holdfast(['--repo', target, 'import', file, '--json']);
    expect(json.code).toBe(1);
    expect(json.json()).toMatchObject({ status: 'error', error: { code: 'integrity' } });
  });

  test('import of a file that is not there, export of an unknown snapshot: clear errors', async () => {
    const missing = await holdfast(['--repo', join(dir, 'x'), 'import', join(dir, 'nope.hfb')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is not a file');
    const unknown = await holdfast(['--repo', source, 'export', 'no-such-tag', '--to', join(dir, 'u.hfb')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no snapshot or tag "no-such-tag"');
    expect(await listDir(dir)).not.toContain('u.hfb.partial');
  });
});
