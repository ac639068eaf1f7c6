import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot, type CliResult } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { mongoToolsEnv } from '../support/mongo-fixture.js';
import { ensureMongoImages, MONGO_IMAGES, waitForMongoContainer, withContainerClient } from '../support/mongo-container.js';
import { expectRestoreTestPassed } from '../support/restore-test-support.js';

// MongoDB (FerretDB) inside containers with NO network but their own loopback (`--network none`),
// in a compose-labelled project: nothing on the host can reach 127.0.0.1:27017 of theirs. holdfast
// reaches them through a sidecar tunnel; mongodump/mongorestore run in the container when its image
// has them, else on this host through the tunnel. The credentials are the containers' own
// (MONGO_INITDB_ROOT_*, a _FILE variant); they must never show in output or a manifest.
const PASSWORD = `o'Ne two$"three`;
const FILE_PASSWORD = 'from-a-secret-file-77';

describe.runIf(process.getuid?.() === 0)('MongoDB in its own container, no published port', () => {
  const lab = new DockerLab();
  let project: string;
  let repo: string;
  let db: string;
  let bare: string;
  let secretFile: string;
  let env: Record<string, string>;
  let snapshot = '';
  const outputs: string[] = [];

  const run = async (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => {
    const result = await holdfast(['--repo', repo, ...args], { ...env, ...extra });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  async function mongoContainer(short: string, image: string, credentials: string[], options: { project?: string; service?: string; volume?: boolean } = {}): Promise<string> {
    const mounts = options.volume === false ? [] : ['-v', `${await lab.volume(`${short}data`)}:/data/db`];
    const name = await lab.run(short, [...credentials, ...mounts, image], options.project ? { project: options.project, service: options.service ?? short } : {});
    await waitForMongoContainer(name);
    return name;
  }

  beforeAll(async () => {
    await lab.init();
    ensureMongoImages();
    process.env.HOLDFAST_STATE_DIR = lab.stateDir; // the test's own seeding sidecars carry the lab's state tag
    project = lab.name('shop');
    repo = join(await lab.dir('repo'), 'repo');
    secretFile = join(await lab.dir('secret'), 'mongo_pw');
    await writeFile(secretFile, `${FILE_PASSWORD}\n`, { mode: 0o644 });
    env = lab.env({ ...mongoToolsEnv(), HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox });
    [db, bare] = await Promise.all([
      mongoContainer('db', MONGO_IMAGES.ferretdb, ['-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${PASSWORD}`], { project, service: 'mongo' }),
      mongoContainer('bare', MONGO_IMAGES.ferretdbNoTools, ['-e', 'MONGO_INITDB_ROOT_USERNAME=keeper', '-e', 'MONGO_INITDB_ROOT_PASSWORD_FILE=/run/secrets/mongo_pw', '-v', `${secretFile}:/run/secrets/mongo_pw:ro`], { project, service: 'stock' }),
    ]);
    await withContainerClient(db, { user: 'root', password: PASSWORD }, async (c) => {
      await c.db('shop').collection('orders').insertMany(Array.from({ length: 1500 }, (_, i) => ({ _id: i, sku: `sku-${i % 97}`, qty: i % 7, at: new Date(1_700_000_000_000 + i * 1000) })));
      await c.db('shop').collection('orders').createIndex({ sku: 1, qty: -1 }, { name: 'by_sku' });
      await c.db('crm').collection('people').insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: `p${i}`, name: `person ${i}`, tags: [i % 3, 'x'] })));
    });
    await withContainerClient(bare, { user: 'keeper', password: FILE_PASSWORD }, async (c) => {
      await c.db('inventory').collection('items').insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, name: `item ${i}`, stock: i * 3 })));
    });
    expect(await lab.helpers()).toEqual([]);
  }, 180_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('plan --docker --project picks mongodump in each container, and says where the tools run and why', async () => {
    const plan = await run(['plan', '--docker', '--project', project, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const items = plan.json<{ services: Array<{ service: string; strategy: string; consistency: string; reason: string; place: unknown }> }>().services;
    const mongo = items.find((i) => i.service === 'mongo')!;
    const stock = items.find((i) => i.service === 'stock')!;
    expect(mongo).toMatchObject({ strategy: 'mongodump', consistency: 'engine-snapshot' });
    // The place in the one shape of every engine; the reason (the strategy's summary) does not repeat it.
    expect(mongo.place).toEqual({ kind: 'container', where: `inside container ${db}`, reason: expect.stringMatching(/^its image has mongodump 100\.9\.5/) });
    expect(mongo.reason).not.toContain(`container ${db}`);
    expect(mongo.reason).toContain('a standalone server has no oplog');
    expect(stock).toMatchObject({ strategy: 'mongodump', consistency: 'engine-snapshot' });
    expect(stock.place).toEqual({ kind: 'host', where: `on this host through a sidecar joined to container ${bare}`, reason: expect.stringMatching(new RegExp(`^mongodump not in image ${MONGO_IMAGES.ferretdbNoTools}, so this host's mongodump 100\\.9\\.5\\S* runs$`)) });
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  }, 120_000);

  test('a place pinned in holdfast.yml (place: host) runs this host\'s mongodump through a sidecar, and the plan says who pinned it', async () => {
    const config = join(await lab.dir('pin'), 'holdfast.yml');
    await writeFile(config, `services:\n  pinned:\n    url: container:${db}\n    place: host\n`);
    const plan = await run(['--config', config, 'plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.json<{ services: Array<{ place: unknown }> }>().services[0]!.place).toEqual({ kind: 'host', where: `on this host through a sidecar joined to container ${db}`, reason: expect.stringMatching(/^pinned by place: host, so this host's mongodump 100\.9\.5\S* runs$/) });
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('backup, restore test, and restore into fresh containers with equal fingerprints; no sidecar left, no password anywhere', async () => {
    const backup = await run(['backup', '--docker', '--project', project, '--fingerprint', 'full', '--json']);
    const id = savedSnapshot(backup);
    snapshot = id;
    const services = backup.json<{ services: Array<{ service: string; strategy: string; status: string }> }>().services;
    expect(services.map((s) => [s.service, s.strategy, s.status]).sort()).toEqual([
      ['mongo', 'mongodump', 'ok'],
      ['stock', 'mongodump', 'ok'],
    ]);
    expect(await lab.helpers()).toEqual([]);

    const verify = await run(['verify', id, '--restore-test', '--json']);
    expectRestoreTestPassed(verify, 'mongo');
    expectRestoreTestPassed(verify, 'stock');
    const scratch = verify.json<{ restoreTest: { services: Array<{ service: string; scratch?: string }> } }>().restoreTest.services.find((s) => s.service === 'mongo')?.scratch;
    expect(scratch).toMatch(new RegExp(`^temporary databases holdfast_scratch_\\w+_crm, holdfast_scratch_\\w+_shop in container ${db}$`));
    expect(await lab.helpers()).toEqual([]);
    // The restore test left no scratch database in the source.
    const dbs = await withContainerClient(db, { user: 'root', password: PASSWORD }, async (c) => ((await c.db('admin').command({ listDatabases: 1, nameOnly: true })) as { databases: Array<{ name: string }> }).databases.map((d) => d.name));
    expect(dbs.filter((n) => n.startsWith('holdfast_scratch_'))).toEqual([]);

    // Fresh containers: one with the tools (mongorestore through exec), one without (host mongorestore through the tunnel).
    const [fresh, freshBare] = await Promise.all([
      mongoContainer('fresh', MONGO_IMAGES.ferretdb, ['-e', 'MONGO_INITDB_ROOT_USERNAME=admin2', '-e', 'MONGO_INITDB_ROOT_PASSWORD_FILE=/run/secrets/mongo_pw', '-v', `${secretFile}:/run/secrets/mongo_pw:ro`], { volume: false }),
      mongoContainer('freshbare', MONGO_IMAGES.ferretdbNoTools, ['-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${PASSWORD}`], { volume: false }),
    ]);
    const restore = await run(['restore', id, '--target', `mongo=container:${fresh}`, '--target', `stock=container:${freshBare}`, '--json']);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const restored = restore.json<{ services: Array<{ service: string; status: string; location: string; fingerprint: { equal: boolean; compared: number } }> }>().services;
    const byName = Object.fromEntries(restored.map((s) => [s.service, s]));
    expect(byName.mongo).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    expect(byName.mongo!.fingerprint.compared).toBeGreaterThanOrEqual(2);
    expect(byName.mongo!.location).toContain(`container:${fresh}/shop`);
    expect(byName.stock).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    expect(byName.stock!.location).toContain(`container:${freshBare}/inventory`);
    // Where mongorestore ran, in the one place shape: the image's own in `fresh`, this host's through the tunnel for the bare one.
    const places = restore.json<{ services: Array<{ service: string; place?: { kind: string; where: string; reason: string } }> }>().services;
    expect(places.find((s) => s.service === 'mongo')!.place).toMatchObject({ kind: 'container', where: `inside container ${fresh}` });
    expect(places.find((s) => s.service === 'stock')!.place).toMatchObject({ kind: 'host', where: expect.stringContaining(freshBare) });
    await withContainerClient(fresh, { user: 'admin2', password: FILE_PASSWORD }, async (c) => {
      expect(await c.db('shop').collection('orders').countDocuments()).toBe(1500);
      expect((await c.db('shop').collection('orders').listIndexes().toArray()).map((i) => i.name).sort()).toEqual(['_id_', 'by_sku']);
      expect(await c.db('crm').collection('people').findOne({ _id: 'p7' as never })).toMatchObject({ name: 'person 7', tags: [1, 'x'] });
    });
    await withContainerClient(freshBare, { user: 'root', password: PASSWORD }, async (c) => {
      expect(await c.db('inventory').collection('items').countDocuments()).toBe(300);
    });
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);

    // Never a password: not in any output, not in the manifest.
    const manifests = await Promise.all((await readdir(join(repo, 'snapshots'))).map((s) => readFile(join(repo, 'snapshots', s, 'manifest.json'), 'utf8').catch(() => '')));
    expect(manifests.join('').length).toBeGreaterThan(0);
    for (const text of [...outputs, ...manifests]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(FILE_PASSWORD);
    }
  }, 300_000);

  test('restore in place into the same container, and into the container recreated from the manifest after it was removed', async () => {
    snapshot ||= savedSnapshot(await run(['backup', '--docker', '--project', project, '--fingerprint', 'full', '--json']));
    const count = () => withContainerClient(db, { user: 'root', password: PASSWORD }, (c) => c.db('shop').collection('orders').countDocuments());
    await withContainerClient(db, { user: 'root', password: PASSWORD }, (c) => c.db('shop').collection('orders').deleteMany({ _id: { $lt: 100 } as never }));
    expect(await count()).toBe(1400);
    const refused = await run(['restore', snapshot, 'mongo', '--json']);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain('is not empty');
    const inPlace = await run(['restore', snapshot, 'mongo', '--force', '--json']);
    expect(inPlace.code, inPlace.stderr + inPlace.stdout).toBe(0);
    expect(inPlace.json<{ services: Array<{ status: string; fingerprint: { equal: boolean } }> }>().services[0]).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    expect(await count()).toBe(1500);

    // The container is gone (another Docker host, a lost machine): --recreate starts it from the manifest, on fresh volumes,
    // with the credentials its image needs taken from holdfast's environment (never argv).
    await docker(['rm', '-f', '-v', db]);
    await docker(['volume', 'rm', lab.name('dbdata')]);
    try {
      const recreated = await run(['restore', snapshot, 'mongo', '--recreate', '--json'], { MONGO_INITDB_ROOT_USERNAME: 'root', MONGO_INITDB_ROOT_PASSWORD: PASSWORD });
      expect(recreated.code, recreated.stderr + recreated.stdout).toBe(0);
      const doc = recreated.json<{ services: Array<{ status: string; notes: string[]; fingerprint: { equal: boolean } }> }>().services[0]!;
      expect(doc).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
      expect(doc.notes.join('\n')).toContain(`started container ${db}`);
      expect(await docker(['inspect', '-f', '{{.HostConfig.NetworkMode}}', db])).toBe('none');
      expect(await count()).toBe(1500);
    } finally {
      // The recreated container carries holdfast's and compose's labels, not the lab's.
      await docker(['rm', '-f', '-v', db]).catch(() => undefined);
    }
    expect(await lab.helpers()).toEqual([]);
    for (const text of outputs) expect(text).not.toContain(PASSWORD);
  }, 300_000);

  test('a replica-set member with an oplog: mongodump --oplog through exec, one point in time, restored into a fresh container', async () => {
    // FerretDB advertises a replica set and records an oplog once local.oplog.rs exists (capped): what mongodump --oplog needs.
    const member = await mongoContainer('member', MONGO_IMAGES.ferretdb, ['-e', 'FERRETDB_REPL_SET_NAME=rs0', '-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${PASSWORD}`], { volume: false });
    await withContainerClient(member, { user: 'root', password: PASSWORD }, async (c) => {
      await c.db('local').createCollection('oplog.rs', { capped: true, size: 16 * 1024 * 1024 });
      await c.db('ledger').collection('entries').insertMany(Array.from({ length: 400 }, (_, i) => ({ _id: i, amount: i * 10 })));
    });
    const service = `ledger=container:${member}`;
    const plan = await run(['plan', '--service', service, '--json']);
    const item = plan.json<{ services: Array<{ strategy: string; consistency: string; reason: string; place: { where: string; reason: string } }> }>().services[0]!;
    expect(item).toMatchObject({ strategy: 'mongodump', consistency: 'transactional', place: { kind: 'container', where: `inside container ${member}` } });
    expect(item.place.reason).toMatch(/^its image has mongodump /);
    expect(item.reason).toContain('with --oplog: one point in time');
    const backup = await run(['backup', '--service', service, '--fingerprint', 'full', '--json']);
    const id = savedSnapshot(backup);
    const fresh = await mongoContainer('ledgercopy', MONGO_IMAGES.ferretdb, ['-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${PASSWORD}`], { volume: false });
    const restore = await run(['restore', id, '--target', `ledger=container:${fresh}`, '--json']);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ status: string; fingerprint: { equal: boolean } }> }>().services[0]).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    const show = await run(['show', id, '--json']);
    expect(show.stdout).toMatch(/"oplog": true/);
    expect(show.json<{ services: Record<string, { details: { place: unknown } }> }>().services.ledger!.details.place).toEqual({ kind: 'container', where: `inside container ${member}`, reason: expect.stringMatching(/^its image has mongodump /) });
    expect(await lab.helpers()).toEqual([]);
  }, 300_000);

  test('a container whose server requires credentials it does not hold: a clear error naming the service and the fix', async () => {
    // FerretDB told directly to require SCRAM, with no MONGO_INITDB_ROOT_* the container would show.
    const locked = await mongoContainer('locked', MONGO_IMAGES.ferretdb, ['-e', 'FERRETDB_TEST_ENABLE_NEW_AUTH=true', '-e', 'FERRETDB_SETUP_DATABASE=admin', '-e', 'FERRETDB_SETUP_USERNAME=hidden', '-e', 'FERRETDB_SETUP_PASSWORD=never-shown-9'], { volume: false });
    const pinned = await run(['backup', '--service', `vault=container:${locked}`, '--strategy', 'vault=mongodump', '--json']);
    expect(pinned.code, pinned.stdout + pinned.stderr).toBe(1);
    const failed = pinned.json<{ snapshot: string | null; services: Array<{ service: string; status: string; error: { code: string; message: string; hint: string } }> }>();
    expect(failed.snapshot).toBeNull();
    expect(failed.services[0]).toMatchObject({ service: 'vault', status: 'failed', error: { code: 'auth' } });
    expect(failed.services[0]!.error.message).toContain(`inside container ${locked} refused the command`);
    expect(failed.services[0]!.error.message).toMatch(/requires authentication/);
    expect(failed.services[0]!.error.hint).toContain('MONGO_INITDB_ROOT_USERNAME');
    expect(failed.services[0]!.error.hint).toContain('HOLDFAST_VAULT_PASSWORD');
    expect(pinned.stdout + pinned.stderr).not.toContain('never-shown-9');
    expect(await lab.helpers()).toEqual([]);

    // The same server where the container holds Bitnami's settings for its root user: they are used.
    const bitnami = await mongoContainer('bitnami', MONGO_IMAGES.ferretdb, ['-e', 'FERRETDB_TEST_ENABLE_NEW_AUTH=true', '-e', 'FERRETDB_SETUP_DATABASE=admin', '-e', 'FERRETDB_SETUP_USERNAME=root', '-e', 'FERRETDB_SETUP_PASSWORD=bitnami-pw-5', '-e', 'MONGODB_ROOT_PASSWORD=bitnami-pw-5'], { volume: false });
    const plan = await run(['plan', '--service', `vault=container:${bitnami}`, '--json']);
    expect(plan.json<{ services: Array<{ strategy: string; reason: string }> }>().services[0], plan.stdout).toMatchObject({ strategy: 'mongodump' });
    expect(plan.stdout + plan.stderr).not.toContain('bitnami-pw-5');
  }, 120_000);

  test('a sidecar left by a holdfast killed with -9 is removed by the next command', async () => {
    let leftover: string[] = [];
    for (let attempt = 0; attempt < 5 && leftover.length === 0; attempt++) {
      let pid = 0;
      const running = holdfast(['--repo', repo, 'backup', '--service', `stock=container:${bare}`, '--fingerprint', 'full'], env, { onSpawn: (p) => (pid = p) });
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await lab.helpers()).length === 0) await new Promise((r) => setTimeout(r, 30));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it had finished already: try again
      }
      await running;
      leftover = await lab.helpers();
    }
    expect(leftover.length).toBeGreaterThan(0);
    const next = await run(['plan', '--service', `stock=container:${bare}`, '--json']);
    expect(next.code, next.stderr).toBe(0);
    expect(await lab.helpers()).toEqual([]);
    expect(await docker(['ps', '-aq', '--filter', `id=${leftover[0]}`])).toBe('');
  }, 300_000);
});
