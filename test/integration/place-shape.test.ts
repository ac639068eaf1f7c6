/**
 * One shape for the place of a service's work (issue #14): the offers of
 * every engine (PostgreSQL, MariaDB, a MongoDB-wire server, Qdrant, OpenSearch,
 * a Docker volume) carry `place { kind, where, reason }`, plan --json and
 * the plan table give it once per service, and the backup's manifest
 * records the same in details.place, which show and show --json print;
 * a restore test and a restore report where their tools ran in that shape
 * too, and the offer the volume fallback makes up for an engine whose own
 * method cannot be planned carries one.
 * Real servers on this host (the Qdrant fake: no real Qdrant here), reached
 * by URL; the container places are covered by the engines' container tests.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { startOpenSearch, type OpenSearchServer } from '../servers/opensearch.js';
import { startFakeQdrant, type FakeQdrant } from '../servers/qdrant-fake.js';
import { holdfast } from '../support/cli.js';
import { DockerLab, IMAGES } from '../support/docker.js';
import { mongoToolsEnv, startMongoFixture, type MongoFixture } from '../support/mongo-fixture.js';
import { mysqlQuery, mysqlUrl } from '../support/mysql-sample.js';
import { seedOpenSearch } from '../support/opensearch-data.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedQdrant } from '../support/qdrant-data.js';

const KEY = 'place-shape-qdrant-key';
const ENGINES = { pg: 'postgres', my: 'mysql', mongo: 'mongodb', vectors: 'qdrant', search: 'opensearch', files: 'volume' } as const;

interface Place {
  kind: string;
  where: string;
  reason: string;
}
interface PlanDoc {
  services: Array<{ service: string; engine: string; strategy: string; place?: Place; offers: Array<{ name: string; place?: Place }> }>;
}

/** The one shape: exactly these three keys, a known kind, words in both phrases. */
function expectShape(p: unknown, label: string): Place {
  expect(p, label).toEqual({ kind: expect.stringMatching(/^(host|container|sidecar)$/), where: expect.stringMatching(/\S/), reason: expect.stringMatching(/\S/) });
  return p as Place;
}

describe('the place of every engine, in one shape', () => {
  const lab = new DockerLab();
  let pg: PgCluster;
  let my: MariadbServer;
  let mongo: MongoFixture;
  let qdrant: FakeQdrant;
  let search: OpenSearchServer;
  let repo: string;
  let services: string[];
  let env: Record<string, string>;
  const planned: Record<string, Place> = {};
  let snapshot: string;

  beforeAll(async () => {
    await lab.init();
    const work = await lab.dir('work');
    repo = join(work, 'repo');
    // OpenSearch (a JVM) first: the others start while it does.
    const opensearch = startOpenSearch({ pathRepo: join(work, 'path-repo') });
    [pg, my, mongo, qdrant] = await Promise.all([startPgCluster(), startMariadb(), startMongoFixture({ replSetName: false }), startFakeQdrant({ apiKey: KEY })]);
    const volume = await lab.volume('files');
    await lab.inVolume(volume, 'echo kept > /v/file');
    await mysqlQuery(my, 'CREATE DATABASE shop');
    await mysqlQuery(my, 'CREATE TABLE t (n INT PRIMARY KEY); INSERT INTO t VALUES (1)', 'shop');
    await mongo.client.db('ledger').collection('entries').insertMany([{ _id: 1, amount: 3 }]);
    await seedQdrant(qdrant.url, KEY);
    search = await opensearch;
    await seedOpenSearch(search.url);
    await pg.query('CREATE TABLE t (n int); INSERT INTO t VALUES (1)');
    services = [
      '--service', `pg=${pg.url('postgres')}`,
      '--service', `my=${mysqlUrl(my)}`,
      '--service', `mongo=${mongo.url()}`,
      '--service', `vectors=qdrant://127.0.0.1:${qdrant.port}`,
      '--service', `search=opensearch://127.0.0.1:${search.port}`,
      '--service', `files=volume:${volume}`,
    ];
    env = lab.env({ ...mongoToolsEnv(), HOLDFAST_REPO: repo, HOLDFAST_PG_PASSWORD: pg.password, HOLDFAST_MY_PASSWORD: my.rootPassword, HOLDFAST_VECTORS_PASSWORD: KEY });
  }, 240_000);

  afterAll(async () => {
    await Promise.all([pg?.stop(), my?.stop(), mongo?.stop(), qdrant?.stop(), search?.stop()].map((p) => p?.catch(() => undefined)));
    await lab.cleanup();
  }, 120_000);

  test('plan --json: every offer of every engine carries place { kind, where, reason }, the plan item the chosen one; the table names it once a line', async () => {
    const plan = await holdfast(['plan', '--json', ...services], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    const items = plan.json<PlanDoc>().services;
    expect(Object.fromEntries(items.map((i) => [i.service, i.engine]))).toEqual(ENGINES);
    for (const item of items) {
      const place = expectShape(item.place, item.service);
      planned[item.service] = place;
      for (const offer of item.offers) expectShape(offer.place, `${item.service} ${offer.name}`);
      expect(item.offers.find((o) => o.name === item.strategy)!.place, item.service).toEqual(place);
      // Reached by URL: this host's tools (a volume: this machine's tar, or a helper container's).
      if (item.service !== 'files') expect(place, item.service).toMatchObject({ kind: 'host', where: 'on this host' });
    }
    expect(planned.pg!.reason).toMatch(/^pg_dump \d+\.\d+/);
    expect(planned.my!.reason).toMatch(/^mariadb-dump 10\.11\.\S+ \(\/\S+\)$/);
    expect(planned.mongo!.reason).toMatch(/^mongodump \d+\.\d+\.\d+\S* \(\/\S+\)$/);
    expect(planned.vectors!.reason).toBe('reached by its URL');
    expect(planned.search!.reason).toBe('reached by its URL');

    const table = await holdfast(['plan', ...services], env);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trimEnd().split('\n\n')[0]!.split('\n').slice(1);
    expect(rows).toHaveLength(6);
    for (const [service, place] of Object.entries(planned)) {
      const row = rows.find((r) => r.startsWith(`${service} `))!;
      expect(row, service).toContain(`${place.where}: ${place.reason}; `);
      expect(row.split(place.where).length - 1, row).toBe(1);
    }
  }, 120_000);

  test('backup: every manifest records details.place in that shape, as planned; show prints one place line per service', async () => {
    // Counts, not none: the restore test below compares them.
    const backup = await holdfast(['backup', '--init', '--json', '--fingerprint', 'counts', ...services], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    snapshot = backup.json<{ snapshot: string }>().snapshot;
    const shown = await holdfast(['show', snapshot, '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    const records = shown.json<{ services: Record<string, { details: { place?: unknown } }> }>().services;
    expect(Object.keys(records).sort()).toEqual(Object.keys(ENGINES).sort());
    for (const [service, record] of Object.entries(records)) expect(expectShape(record.details.place, service), service).toEqual(planned[service]);

    const text = await holdfast(['show', snapshot], env);
    for (const [service, place] of Object.entries(planned)) {
      const block = text.stdout.split('\n\n').find((b) => b.startsWith(`${service}: `)) ?? '';
      expect(block.split('\n').filter((l) => l.startsWith('  place: ')), service).toEqual([`  place: ${place.where}: ${place.reason}`]);
    }
  }, 240_000);

  // Where the restore's tools ran: every engine's restore reports it in the same shape (restore test: --json; restore: one line per service).
  test('restore test and restore: every service reports place { kind, where, reason }; restore prints one place line per service', async () => {
    const verify = await holdfast(['verify', snapshot, '--restore-test', '--json'], env);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const tested = verify.json<{ restoreTest: { services: Array<{ service: string; verdict: string; place?: unknown }> } }>().restoreTest.services;
    expect(tested.map((t) => t.service).sort()).toEqual(Object.keys(ENGINES).sort());
    for (const t of tested) {
      const place = expectShape(t.place, `restore test ${t.service}`);
      // A volume is extracted by a helper container; the engines' tools ran on this host, as at backup.
      if (t.service === 'files') expect(place.kind, t.service).toBe('sidecar');
      else expect(place, t.service).toMatchObject({ kind: 'host', where: 'on this host' });
    }

    const targets = [
      '--target', `pg=${pg.url('pg_restored')}`,
      '--target', `my=${mysqlUrl(my, 'shop_restored')}`,
      '--target', `mongo=${mongo.url('ledger_restored')}`,
      '--target', `files=volume:${await lab.volume('files-restored')}`,
    ];
    const restore = await holdfast(['restore', snapshot, ...targets, '--rename-pattern', '(.+)', '--rename-replacement', 'restored_$1'], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const blocks = restore.stdout.split(/\n(?=\S)/);
    for (const service of Object.keys(ENGINES)) {
      const block = blocks.find((b) => b.startsWith(`${service}: restored to `)) ?? '';
      const lines = block.split('\n').filter((l) => l.startsWith('  place: '));
      expect(lines, `${service}: ${restore.stdout}`).toHaveLength(1);
      expect(lines[0], service).toMatch(/^  place: (on this host|in a helper container of \S+): \S/);
    }
  }, 240_000);

  // The offer the volume fallback makes up when an engine's strategies throw (volume-fallback.ts): a place too, the container its error is about.
  test('an engine whose own method cannot even be planned: its made-up offer carries the place its error is about', async () => {
    const odd = await lab.run('odd', ['-v', `${await lab.volume('odd-data')}:/var/lib/mysql`, IMAGES.busybox, 'sleep', '600'], { labels: ['holdfast.engine=mysql'] });
    const plan = await holdfast(['plan', '--json', '--service', `odd=container:${odd}`], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    const item = plan.json<PlanDoc>().services[0]!;
    expect(item).toMatchObject({ engine: 'mysql', strategy: 'tar' });
    const native = item.offers.find((o) => o.name === 'mysql-native');
    expect(expectShape(native?.place, 'mysql-native')).toMatchObject({ kind: 'container', where: `inside container ${odd}`, reason: expect.stringContaining('no credentials') });
    for (const offer of item.offers) expectShape(offer.place, offer.name);
  }, 60_000);
});
