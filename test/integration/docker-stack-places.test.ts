import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { connectDocker } from '../../src/docker/docker-client.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { ensureMariadbImage, mariadbContainer, mariadbSql } from '../support/mariadb-container.js';
import { ensureMongoImages, MONGO_IMAGES, waitForMongoContainer, withContainerClient } from '../support/mongo-container.js';
import { compileFakeQdrant, ensureQdrantImage, qdrantContainer } from '../support/qdrant-container.js';
import { seedQdrant } from '../support/qdrant-data.js';
import { mariadbView, mongoView, postgresView, qdrantView } from '../support/independent-checks.js';
import { SecondDocker } from '../support/second-docker.js';
import { openSearchAvailable } from '../servers/opensearch.js';
import { ensureOpenSearchImage, isolatedOpenSearch } from '../support/opensearch-container.js';
import { articlesCount, seedOpenSearch } from '../support/opensearch-data.js';

// Issue #14's stack: PostgreSQL, MariaDB, a MongoDB-wire server (FerretDB), Qdrant (the fake:
// no real Qdrant here) and a REAL OpenSearch node (the host's runner, 256 MB heap: the image's
// JAVA_TOOL_OPTIONS) in one compose-labelled project on the private test dockerd, every one with
// `--network none` (its own loopback only, NO published port), plus an app writing to a volume.
// holdfast must back up each with its engine's own method in the place it names, stop no database,
// pass the restore test of every service, and restore the stack onto a second dockerd.
const PG = 'stack-pg-secret';
const MY = 'stack-my-secret';
const MONGO = 'stack-mongo-secret';
/** The app's own login (PostgreSQL role and MariaDB user shop_app): a restore must carry its password. */
const APP = 'stack-app-secret';
/** What the app's schemas carry besides rows (each engine's checks after the restore compare them). */
const SCHEMA_PG = [
  'CREATE ROLE shop_app LOGIN',
  'CREATE INDEX items_name ON items (name)',
  'CREATE VIEW item_names AS SELECT name FROM items',
  "CREATE FUNCTION item_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM items'",
  'CREATE TABLE audit (id serial PRIMARY KEY, note text)',
  "INSERT INTO audit (note) VALUES ('opened'), ('stocked')",
  'ALTER TABLE audit OWNER TO shop_app',
  'GRANT SELECT ON items TO shop_app',
  "COMMENT ON TABLE items IS 'what the shop sells'",
  "COMMENT ON DATABASE postgres IS 'the shop'",
  "ALTER DATABASE postgres SET work_mem = '8MB'",
].join('; ');
const SCHEMA_MARIA = [
  'CREATE INDEX orders_what ON orders (what)',
  'CREATE VIEW order_names AS SELECT what FROM orders',
  'CREATE PROCEDURE order_count() SELECT COUNT(*) FROM orders',
  'CREATE TRIGGER orders_upper BEFORE INSERT ON orders FOR EACH ROW SET NEW.what = UPPER(NEW.what)',
  'CREATE EVENT tidy ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM orders WHERE id < 0',
  "CREATE USER shop_app@'%'",
  "GRANT SELECT, INSERT ON shop.* TO shop_app@'%'",
  "GRANT EXECUTE ON PROCEDURE shop.order_count TO shop_app@'%'",
].join('; ');
/** The five engines' services (the sixth, `app`, is a volume copied with the app held). */
const ENGINES = ['db', 'maria', 'mongo', 'vectors', 'search'] as const;

interface PlanDoc {
  services: Array<{ service: string; engine: string; strategy: string; consistency: string; reason: string; place?: unknown }>;
}
interface RunDoc {
  snapshot?: string;
  services: Array<{ service: string; status: string; strategy?: string; fingerprint?: { equal: boolean; compared: number }; restoreTest?: { verdict: string }; error?: { message: string } }>;
}

describe.runIf(openSearchAvailable() && process.getuid?.() === 0)('a stack with no published port: every engine by its own method, in its own place', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}s`;
  const hostB = new SecondDocker(`stk${process.pid}`);
  const names: Record<string, string> = {};
  const started: Record<string, string> = {};
  const sidecars: LazySidecar[] = [];
  let repo: string;
  let snapshot: string;
  let outputs = '';
  let search: Awaited<ReturnType<typeof isolatedOpenSearch>> | undefined;

  const run = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await holdfast(['--repo', repo, ...args], lab.env({ HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox, ...extra }));
    outputs += r.stdout + r.stderr;
    return r;
  };
  // The test's own way in: a sidecar of its own in the container's namespace (nothing is published).
  const urlOf = async (container: string, port: number, dockerHost?: string) => {
    const api = connectDocker(dockerHost);
    const id = (await api.inspectContainer(container))!.id;
    const sidecar = new LazySidecar(api, { id, name: container }, { service: 'test', image: IMAGES.busybox });
    sidecars.push(sidecar);
    const t = await sidecar.reach('127.0.0.1', port);
    return `http://${t.host}:${t.port}`;
  };
  const qdrantUrl = (container: string, dockerHost?: string) => urlOf(container, 6333, dockerHost);

  beforeAll(async () => {
    await lab.init();
    process.env.HOLDFAST_STATE_DIR = lab.stateDir; // the test's own seeding sidecars carry the lab's state tag
    ensureMariadbImage();
    ensureMongoImages();
    ensureQdrantImage();
    ensureOpenSearchImage();
    repo = join(await lab.dir('repo'), 'repo');
    const code = await compileFakeQdrant(await lab.dir('fake'));
    const [pgdata, mydata, mongodata, vecdata, appdata, snaps] = await Promise.all(['pgdata', 'mydata', 'mongodata', 'vecdata', 'appdata', 'snaps'].map((v) => lab.volume(v)));
    const compose = (service: string) => ({ project, service });
    // OpenSearch starts first and slowest (a JVM): the others come up while it does.
    const opensearch = isolatedOpenSearch(lab, 'search', snaps, { project });
    [names.db, names.maria, names.mongo, names.vectors, names.app] = await Promise.all([
      lab.run('db', ['-e', `POSTGRES_PASSWORD=${PG}`, '-v', `${pgdata}:/var/lib/postgresql/data`, IMAGES.postgres], compose('db')),
      mariadbContainer(lab, 'maria', { env: ['-e', `MARIADB_ROOT_PASSWORD=${MY}`], volume: mydata, ...compose('maria') }),
      lab.run('mongo', ['-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${MONGO}`, '-v', `${mongodata}:/data/db`, MONGO_IMAGES.ferretdb], compose('mongo')),
      qdrantContainer(lab, 'vectors', code, { project, volume: vecdata }),
      lab.run('app', ['--init', '-v', `${appdata}:/data`, IMAGES.busybox, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "$i" > /data/counter; sleep 0.2; done'], compose('app')),
    ]);
    await waitForMongoContainer(names.mongo!);
    await waitFor('postgres in the stack', async () => ((await docker(['exec', names.db!, 'pg_isready', '-q']).then(() => true, () => false)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    await docker(['exec', '-e', `PGPASSWORD=${PG}`, names.db!, 'psql', '-X', '-q', '-U', 'postgres', '-c', "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g"]);
    // Beyond rows, what a schema carries (an owner, a grant, an index, a view, a function, a comment):
    // the independent checks after the restore compare them as the engine's own tools print them.
    await docker(['exec', '-e', `PGPASSWORD=${PG}`, names.db!, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-c', SCHEMA_PG]);
    await docker(['exec', '-i', names.db!, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres'], `ALTER ROLE shop_app PASSWORD '${APP}'`); // on stdin, not in argv
    await mariadbSql(names.maria!, 'CREATE DATABASE shop');
    await mariadbSql(names.maria!, "CREATE TABLE orders (id INT PRIMARY KEY, what VARCHAR(40)); INSERT INTO orders SELECT seq, CONCAT('order ', seq) FROM seq_1_to_700", 'shop');
    await mariadbSql(names.maria!, SCHEMA_MARIA, 'shop');
    await docker(['exec', '-i', names.maria!, 'mariadb', '--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock'], `SET PASSWORD FOR shop_app@'%' = PASSWORD('${APP}')`);
    await withContainerClient(names.mongo!, { user: 'root', password: MONGO }, async (c) => {
      await c.db('ledger').collection('entries').insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, amount: i * 3 })));
      await c.db('ledger').collection('entries').createIndex({ amount: 1 }, { name: 'by_amount' });
      await c.db('ledger').createCollection('recent', { capped: true, size: 1 << 20, max: 100 });
      await c.db('ledger').collection('recent').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i, note: `event ${i}` })));
    });
    const vectors = await seedQdrant(await qdrantUrl(names.vectors!));
    await vectors.createPayloadIndex('docs', { field_name: 'title', field_schema: 'keyword', wait: true });
    await vectors.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'docs', alias_name: 'docs_live' } }] });
    search = await opensearch;
    names.search = search.container;
    await seedOpenSearch(search.url);
    await search.close();
    // The test's own seeding sidecars go before holdfast runs: lab.helpers() must then show none of holdfast's.
    for (const s of sidecars.splice(0)) await s.close();
    for (const [k, n] of Object.entries(names)) started[k] = await docker(['inspect', '-f', '{{.State.StartedAt}}', n]);
  }, 300_000);

  afterAll(async () => {
    for (const s of sidecars) await s.close();
    await search?.close();
    await hostB.stop().catch(() => undefined);
    await lab.cleanup();
  }, 120_000);

  test('plan picks every engine its own method, in the place it names; no database is stopped for it', async () => {
    const plan = await run(['plan', '--docker', '--project', project, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const by = Object.fromEntries(plan.json<PlanDoc>().services.map((s) => [s.service, s]));
    expect(by.db).toMatchObject({ engine: 'postgres', strategy: 'pg_dump', consistency: 'transactional' });
    expect(by.maria).toMatchObject({ engine: 'mysql', strategy: 'dump', consistency: 'transactional' });
    expect(by.mongo).toMatchObject({ engine: 'mongodb', strategy: 'mongodump' });
    expect(by.vectors).toMatchObject({ engine: 'qdrant', strategy: 'snapshot' });
    expect(by.search).toMatchObject({ engine: 'opensearch', strategy: 'snapshot' });
    // Where each one's work runs, named in its plan line (the reason, or its place).
    for (const s of ['db', 'maria', 'mongo']) expect(JSON.stringify(by[s]), s).toContain(`inside container ${names[s]}`);
    expect(JSON.stringify(by.vectors)).toContain(`in a sidecar joined to container ${names.vectors}`);
    expect(by.search!.place).toEqual({ kind: 'sidecar', where: `in a sidecar joined to container ${names.search}`, reason: 'port 9200 is not published' });
    for (const s of ENGINES) expect(by[s]!.strategy, s).not.toMatch(/^tar/);
    // discover and plan print one short line per service (issue #14 point 6): a header and six rows, each saying its place once.
    for (const cmd of [['plan', '--docker', '--project', project], ['discover', '--project', project]]) {
      const text = await run(cmd);
      expect(text.code, text.stderr).toBe(0);
      // The table ends at the first blank line (plan then lists what a restore in place needs); discover's notes follow it
      // (read-only binds; helpers that other runs on this shared daemon left).
      const rows = text.stdout.trimEnd().split('\n\n')[0]!.split('\n').filter((r) => !r.startsWith('note: '));
      expect(rows, text.stdout).toHaveLength(7);
      for (const s of ENGINES) {
        const row = rows.filter((r) => r.startsWith(`${s} `));
        expect(row, `${cmd[0]} ${s}`).toHaveLength(1);
        // Its place said once (discover's CONTAINER column names the container too, without the word).
        expect(row[0]!.split(`container ${names[s]!}`).length - 1, `${cmd[0]} ${s}: ${row[0]}`).toBe(1);
      }
    }
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('backup --verify: every service ok and its restore test passed, nothing stopped, held or left behind; show names each place', async () => {
    const backup = await run(['backup', '--docker', '--project', project, '--verify', '--json']);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<RunDoc>();
    snapshot = doc.snapshot!;
    for (const s of doc.services) expect(s, JSON.stringify(s)).toMatchObject({ status: 'ok' });
    // No database was stopped (the app's volume is copied with the app held, as its plan says).
    for (const k of ENGINES) expect(await docker(['inspect', '-f', '{{.State.StartedAt}}', names[k]!]), `${k} was restarted`).toBe(started[k]);
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);

    const verify = await run(['verify', snapshot, '--restore-test', '--json']);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const show = await run(['show', snapshot]);
    expect(show.code, show.stderr).toBe(0);
    for (const s of ENGINES) expect(show.stdout, s).toMatch(new RegExp(`^${s}: [\\s\\S]*?\\n  place: .*${names[s]}`, 'm'));
    // The manifest records each service's place: the exec into its own container, or a sidecar for an HTTP API.
    // (MySQL and MongoDB record a phrase, "inside container X[: its image has mongodump V]"; the others { kind, where, reason }.)
    const places = Object.fromEntries(Object.entries((await run(['show', snapshot, '--json'])).json<{ services: Record<string, { details: { place?: string | { kind: string; where: string } } }> }>().services).map(([k, v]) => [k, v.details.place]));
    const where = (p: unknown) => (typeof p === 'string' ? p : (p as { where?: string } | undefined)?.where);
    for (const s of ['db', 'maria', 'mongo'] as const) expect(where(places[s]), s).toMatch(new RegExp(`^inside container ${names[s]}(:|$)`));
    for (const s of ['vectors', 'search'] as const) expect(places[s], s).toMatchObject({ kind: 'sidecar', where: `in a sidecar joined to container ${names[s]}` });
    for (const secret of [PG, MY, MONGO, APP]) expect(outputs).not.toContain(secret);
  }, 600_000);

  test("restore --recreate onto a second dockerd: every container rebuilt from its image, equal fingerprints, equal as each engine's own tools read it", async () => {
    await hostB.start(['busybox', 'postgres', 'mariadb', 'ferretdb', 'qdrant-hostbin', 'opensearch-hostbin']);
    const envB = { DOCKER_HOST: hostB.host, POSTGRES_PASSWORD: PG, MARIADB_ROOT_PASSWORD: MY, MONGO_INITDB_ROOT_USERNAME: 'root', MONGO_INITDB_ROOT_PASSWORD: MONGO };
    const restore = await run(['restore', snapshot, '--recreate', '--force', '--json'], envB);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const doc = restore.json<RunDoc>();
    for (const s of doc.services) expect(s, JSON.stringify(s)).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    expect(doc.services.map((s) => s.service).sort()).toEqual(['app', ...ENGINES].sort());
    expect(await hostB.docker(['exec', '-e', `PGPASSWORD=${PG}`, names.db!, 'psql', '-X', '-A', '-t', '-U', 'postgres', '-c', 'SELECT count(*) FROM items'])).toBe('500');
    expect(await hostB.docker(['exec', names.maria!, 'mariadb', '--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock', '-N', '-B', '-e', 'SELECT COUNT(*) FROM shop.orders'])).toBe('700');
    // Checked apart from holdfast's fingerprints (test/support/independent-checks.ts): each engine's own
    // tools and API read the source (nothing has written to its databases since the seed) and the
    // recreated target, and the two views must be equal; soft, so that every engine that differs is shown.
    const view = async (dockerHost?: string) => {
      const at = (k: 'db' | 'maria' | 'mongo') => ({ container: names[k]!, ...(dockerHost ? { dockerHost } : {}) });
      const qdrant = await qdrantUrl(names.vectors!, dockerHost);
      return Promise.all([postgresView(at('db'), PG), mariadbView(at('maria')), mongoView(at('mongo'), { user: 'root', password: MONGO }), qdrantView(qdrant)]);
    };
    const [source, target] = await Promise.all([view(), view(hostB.host)]);
    for (const [i, engine] of ['postgres', 'mariadb', 'mongodb', 'qdrant'].entries()) expect.soft(target![i], `${engine}: the recreated target as its own tools read it`).toEqual(source![i]);
    expect(await articlesCount(await urlOf(names.search!, 9200, hostB.host))).toBe(150);
    for (const secret of [PG, MY, MONGO, APP]) expect(outputs).not.toContain(secret);
  }, 900_000);
});
