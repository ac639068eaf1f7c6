/**
 * Fault suite: repositories and bundles with crafted manifests (artifact paths
 * out of the snapshot, impossible sizes, another snapshot's id), each refused
 * by verify, restore, check and import with an integrity error naming the
 * snapshot, and nothing outside the repository read or written.
 */
import { createHash } from 'node:crypto';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ANNOTATIONS_ENTRY, BUNDLE_FORMAT, BUNDLE_KIND, HEADER_ENTRY, MANIFEST_ENTRY } from '../../src/repository/bundle-format.js';
import { tarEnd, tarHeader } from '../../src/repository/bundle-tar.js';
import { DirRepository } from '../../src/repository/dir-repository.js';
import type { Manifest } from '../../src/repository/manifest.js';
import { holdfast, initRepo } from '../support/cli.js';
import { cleanupTemp, listDir, manifest, serviceRecord, tempDir } from '../unit/helpers/temp-repo.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A repository with one good snapshot; its root, id and manifest file. */
async function repoWithSnapshot(dir: string, name: string): Promise<{ root: string; id: string; file: string }> {
  const root = join(dir, name);
  const repo = new DirRepository(root);
  await repo.init();
  const writer = await repo.beginSnapshot('backup');
  const record = await writer.sink('db').write('app.pgdump', Readable.from([Buffer.from('good data '.repeat(1000))]), { kind: 'pg_dump', label: 'app' });
  await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: [record] }) } }));
  return { root, id: writer.id, file: join(root, 'snapshots', writer.id, 'manifest.json') };
}

async function rewrite(file: string, change: (m: Manifest) => void): Promise<void> {
  const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
  change(m);
  await writeFile(file, JSON.stringify(m));
}

/** A bundle of `m` carrying `artifact` as the bytes of its only artifact (db/<name>). */
function bundleOf(m: Manifest, artifact: Buffer): Buffer {
  const manifestBytes = Buffer.from(JSON.stringify(m));
  const annotations = Buffer.from('{}\n');
  const header = Buffer.from(
    JSON.stringify({ kind: BUNDLE_KIND, format: BUNDLE_FORMAT, snapshot: m.id, manifestSha256: sha(manifestBytes), annotationsSha256: sha(annotations), artifacts: 1, storedBytes: artifact.length, createdAt: m.createdAt, holdfastVersion: 'test' }),
  );
  const entry = (path: string, data: Buffer) => [tarHeader(path, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)];
  const name = m.services.db!.artifacts[0]!.name;
  return Buffer.concat([...entry(HEADER_ENTRY, header), ...entry(MANIFEST_ENTRY, manifestBytes), ...entry(ANNOTATIONS_ENTRY, annotations), ...entry(`artifacts/db/${name}`, artifact), tarEnd()]);
}

describe('crafted manifests are refused with an integrity error naming the snapshot', () => {
  let dir: string;
  let outside: string;
  let outsideBytes: Buffer;
  const counts = { cases: 0, refused: 0 };

  beforeAll(async () => {
    dir = await tempDir('holdfast-faults-manifest-');
    // A file outside every repository, which a crafted manifest points at with a matching checksum.
    outside = join(dir, 'outside.bin');
    outsideBytes = Buffer.from('not part of any snapshot\n');
    await writeFile(outside, outsideBytes);
  });

  afterAll(async () => {
    console.log(`crafted manifests: ${counts.refused} of ${counts.cases} commands refused with an integrity error`);
    await cleanupTemp();
  });

  /** verify, restore and check --read-data all refuse the snapshot, naming it; the outside file is untouched. */
  async function expectRefused(root: string, id: string, what: RegExp): Promise<void> {
    const before = await stat(outside);
    for (const args of [['verify', id], ['restore', id, '--force'], ['check', '--read-data']]) {
      counts.cases++;
      const out = await holdfast(['--repo', root, ...args], {}, { cwd: dir });
      expect(out.code, `${args.join(' ')}: ${out.stdout}${out.stderr}`).not.toBe(0);
      expect(out.stdout + out.stderr, args.join(' ')).toContain(`snapshot ${id}`);
      expect(out.stdout + out.stderr, args.join(' ')).toMatch(what);
      counts.refused++;
    }
    expect(await readFile(outside)).toEqual(outsideBytes);
    expect((await stat(outside)).mtimeMs).toBe(before.mtimeMs);
  }

  const escapes: Array<[string, (root: string) => string]> = [
    ['a relative path with ..', () => '../../../../outside.bin'],
    ['an absolute path', () => outside],
    ['a path with a separator', () => 'sub/app.pgdump'],
    ['a name with a NUL byte', () => 'app.pgdump\u0000.txt'],
  ];
  test.each(escapes)('an artifact path that is %s', async (label, path) => {
    const { root, id, file } = await repoWithSnapshot(dir, `repo-${escapes.findIndex(([l]) => l === label)}`);
    await rewrite(file, (m) => {
      const a = m.services.db!.artifacts[0]!;
      Object.assign(a, { name: path(root), compression: 'none', sha256: sha(outsideBytes), storedBytes: outsideBytes.length, rawBytes: outsideBytes.length });
    });
    await expectRefused(root, id, /artifact path .*only a plain file name/);
  });

  test('impossible sizes: listed as broken, never printed as 2.7e+288 TiB, -3 B or NaN B', async () => {
    for (const [n, value] of [[0, 3e300], [1, -3], [2, 'NaN'], [3, 1.5]] as const) {
      const { root, id, file } = await repoWithSnapshot(dir, `sizes-${n}`);
      await rewrite(file, (m) => Object.assign(m.services.db!.artifacts[0]!, n === 1 ? { rawBytes: value } : { storedBytes: value }));
      counts.cases++;
      const listed = await holdfast(['--repo', root, 'snapshots'], {}, { cwd: dir });
      expect(listed.stdout + listed.stderr).not.toMatch(/e\+\d+ TiB|-3 B|NaN B/);
      const json = await holdfast(['--repo', root, 'snapshots', '--json'], {}, { cwd: dir });
      const entries = json.json<{ snapshots: Array<{ id: string; error?: string }> }>().snapshots;
      expect(entries).toHaveLength(1);
      expect(entries[0]!.error, JSON.stringify(entries)).toMatch(new RegExp(`manifest of snapshot ${id} .*impossible size`));
      counts.refused++;
      await expectRefused(root, id, /impossible size/);
    }
  });

  test("a manifest claiming another snapshot's id is listed once, the copy as broken", async () => {
    const { root, id } = await repoWithSnapshot(dir, 'twice');
    const other = `${id.slice(0, -4)}${id.endsWith('ffff') ? '0000' : 'ffff'}`;
    await cp(join(root, 'snapshots', id), join(root, 'snapshots', other), { recursive: true });
    counts.cases++;
    const json = await holdfast(['--repo', root, 'snapshots', '--json'], {}, { cwd: dir });
    const entries = json.json<{ snapshots: Array<{ id: string; error?: string }> }>().snapshots;
    expect(entries.map((e) => e.id).sort()).toEqual([id, other].sort());
    expect(entries.find((e) => e.id === id)?.error).toBeUndefined();
    expect(entries.find((e) => e.id === other)?.error).toContain(`the manifest of snapshot ${other} claims to be snapshot ${id}`);
    counts.refused++;
    await expectRefused(root, other, /claims to be snapshot/);
  });

  test('import applies the same checks: a bundle whose manifest has an impossible size commits nothing', async () => {
    const { root, file } = await repoWithSnapshot(dir, 'bundle-source');
    const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
    const artifact = await readFile(join(root, 'snapshots', m.id, 'db', 'app.pgdump'));
    m.services.db!.artifacts[0]!.rawBytes = -3;
    const bundle = join(dir, 'crafted.hfb');
    await writeFile(bundle, bundleOf(m, artifact));
    const target = join(dir, 'import-target');
    await initRepo(target);
    counts.cases++;
    const out = await holdfast(['--repo', target, 'import', bundle], {}, { cwd: dir });
    expect(out.code, out.stdout + out.stderr).not.toBe(0);
    expect(out.stderr).toContain(`in the bundle of snapshot ${m.id}`);
    expect(out.stderr).toMatch(/impossible size/);
    expect(await listDir(join(target, 'snapshots'))).toEqual([]);
    expect(await listDir(join(target, 'tmp'))).toEqual([]);
    counts.refused++;
  });
});
