import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { type AnyDoc, type MongoFixture, mongoToolsEnv, seedShop, startMongoFixture } from '../support/mongo-fixture.js';
import { committedSnapshots, flipByte } from '../support/repo-files.js';

interface ErrorDoc {
  snapshot: string | null;
  services: Array<{ status: string; strategy?: string; error?: { code: string; message: string; hint?: string } }>;
}

/** Against FerretDB v1.24 with authentication on (--test-enable-new-auth, SCRAM): see test/servers/mongodb.ts. */
describe('mongodb bad input: clear errors, non-zero exits, no partial snapshot, target untouched', () => {
  const password = 'bad-input-pw-77';
  let m: MongoFixture;
  let work: string;
  let env: Record<string, string>;
  let n = 0;
  const freshRepo = () => join(work, `repo-${++n}`);

  beforeAll(async () => {
    m = await startMongoFixture({ password, oplog: false });
    await seedShop(m.client, 'shop', 400);
    work = await mkdtemp(join(tmpdir(), 'holdfast-mongo-bad-'));
    env = { ...mongoToolsEnv(), HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: password };
  });
  afterAll(async () => {
    await m?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('an unreachable server: exit 1, names the service and the fix, no snapshot', async () => {
    const port = await freePort();
    const r = await holdfast(['backup', '--service', `src=mongodb://root@127.0.0.1:${port}/shop`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`\\[src\\].*cannot reach MongoDB at 127\\.0\\.0\\.1:${port}`));
    expect(r.stderr).toMatch(/hint: .*host and port/);
    expect(r.stdout).toMatch(/no snapshot was saved/);
  });

  test('a wrong password: exit 1, an auth error naming the variable, the password never printed', async () => {
    const repo = freshRepo();
    const r = await holdfast(['backup', '--json', '--service', `src=${m.url('shop')}`], { ...env, HOLDFAST_REPO: repo, HOLDFAST_SRC_PASSWORD: 'wrong-password-123' });
    expect(r.code).toBe(1);
    const doc = r.json<ErrorDoc>();
    expect(doc.snapshot).toBeNull();
    expect(doc.services[0]!.error).toMatchObject({ code: 'auth', message: expect.stringMatching(/refused user root/) });
    expect(doc.services[0]!.error!.hint).toContain('HOLDFAST_SRC_PASSWORD');
    expect(r.stdout + r.stderr).not.toContain('wrong-password-123');
    expect(await committedSnapshots(repo)).toEqual([]);
  });

  test('no credentials for a server that wants them: says to put the user in the URL', async () => {
    const r = await holdfast(['backup', '--json', '--service', `src=mongodb://127.0.0.1:${m.server.port}/shop`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    const error = r.json<ErrorDoc>().services[0]!.error!;
    expect(error.code).toBe('auth');
    expect(error.hint).toMatch(/put the user in the URL .* HOLDFAST_SRC_PASSWORD/);
  });

  test('a database that does not exist: exit 1, lists the ones that do', async () => {
    const r = await holdfast(['backup', '--service', `src=${m.url('nope')}`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[src\].*database "nope" does not exist/);
    expect(r.stderr).toMatch(/hint: it has: shop/);
  });

  describe('without the Database Tools', () => {
    let noTools: Record<string, string>;
    beforeAll(async () => {
      const empty = join(work, 'empty-bin');
      await mkdir(empty, { recursive: true });
      // An empty pin, and a PATH without any mongodump on it.
      const path = (process.env.PATH ?? '').split(delimiter).filter((d) => !existsSync(join(d, 'mongodump')));
      noTools = { ...env, HOLDFAST_MONGO_BINDIR: empty, PATH: path.join(delimiter) };
    });

    test('plan falls back to export and says why; the backup restores', async () => {
      const plan = await holdfast(['plan', '--json', '--service', `src=${m.url('shop')}`], noTools);
      expect(plan.code, plan.stderr).toBe(0);
      const item = plan.json<{ services: Array<{ strategy: string; reason: string }> }>().services[0]!;
      expect(item.strategy).toBe('export');
      expect(item.reason).toMatch(/skipped mongodump: mongodump \(MongoDB Database Tools\) \(not in HOLDFAST_MONGO_BINDIR/);

      const backup = await holdfast(['backup', '--json', '--service', `src=${m.url('shop')}`], noTools);
      expect(backup.code, backup.stderr + backup.stdout).toBe(0);
      const id = backup.json<ErrorDoc>().snapshot!;
      const restore = await holdfast(['restore', id, '--json', '--target', `src=${m.url('shop_no_tools')}`], noTools);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    });

    test('a mongodump snapshot cannot be restored without mongorestore: exit 1, says which tool and where', async () => {
      const backup = await holdfast(['backup', '--json', '--service', `src=${m.url('shop')}`], env);
      const id = backup.json<ErrorDoc>().snapshot!;
      const restore = await holdfast(['restore', id, '--target', `src=${m.url('shop_never')}`], noTools);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toMatch(/\[src\].*mongorestore was not found in HOLDFAST_MONGO_BINDIR/);
      expect(restore.stderr).toMatch(/hint: install the MongoDB Database Tools/);
      expect(await m.client.db('shop_never').listCollections().toArray()).toEqual([]);
    });
  });

  describe('a damaged archive', () => {
    let repo: string;
    let id: string;
    let artifact: string;
    beforeAll(async () => {
      repo = freshRepo();
      const backup = await holdfast(['backup', '--json', '--service', `src=${m.url('shop')}`], { ...env, HOLDFAST_REPO: repo });
      expect(backup.code, backup.stderr).toBe(0);
      id = backup.json<ErrorDoc>().snapshot!;
      artifact = join(repo, 'snapshots', id, 'src', (await readdir(join(repo, 'snapshots', id, 'src'))).find((f) => f.endsWith('.archive'))!);
      await m.client.db('precious').collection<AnyDoc>('keep').insertOne({ _id: 1, v: 'mine' });
    });

    const untouched = async () => {
      expect(await m.client.db('precious').collection<AnyDoc>('keep').find().toArray()).toEqual([{ _id: 1, v: 'mine' }]);
      expect((await m.client.db('precious').listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['keep']);
    };

    test('an archive cut in half, its checksums made to match: refused as damaged, the target keeps its data', async () => {
      // What a dump that died half-way and was stored anyway would look like: the repository checks pass.
      const raw = execFileSync('zstd', ['-q', '-d', '-c', artifact]);
      const cut = raw.subarray(0, Math.floor(raw.length / 2));
      const stored = execFileSync('zstd', ['-q', '-c', '-3'], { input: cut });
      const forged = `${artifact}.forged`;
      await writeFile(forged, stored);
      const manifestPath = join(repo, 'snapshots', id, 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      const record = manifest.services.src.artifacts[0];
      const original = { file: await readFile(artifact), record: { ...record }, manifest: await readFile(manifestPath) };
      Object.assign(record, { sha256: createHash('sha256').update(stored).digest('hex'), storedBytes: (await stat(forged)).size, rawBytes: cut.length });
      await writeFile(artifact, stored);
      await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
      try {
        const restore = await holdfast(['restore', id, '--force', '--target', `src=${m.url('precious')}`], { ...env, HOLDFAST_REPO: repo });
        expect(restore.code).toBe(1);
        expect(restore.stderr).toMatch(/\[src\].*the mongodump archive is damaged: .*truncated/);
        expect(restore.stderr).toMatch(/hint: restore from another snapshot/);
        await untouched();
      } finally {
        await writeFile(artifact, original.file);
        await writeFile(manifestPath, original.manifest);
        await rm(forged, { force: true });
      }
    });

    test('one flipped byte: refused before the target is touched', async () => {
      await flipByte(artifact);
      const restore = await holdfast(['restore', id, '--force', '--target', `src=${m.url('precious')}`], { ...env, HOLDFAST_REPO: repo });
      expect(restore.code).toBe(1);
      expect(restore.stderr).toMatch(/\[src\].*artifact .*\.archive is corrupt/);
      await untouched();
    });
  });
});
