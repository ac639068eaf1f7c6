import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { postgresView } from '../support/independent-checks.js';
import { waitFor } from '../../src/core/wait.js';

interface PlanDoc {
  services: Array<{ service: string; strategy?: string; reason: string; place?: { kind: string; where: string; reason: string }; offers: Array<{ name: string; requirements: Array<{ what: string; met: boolean; detail: string; hint?: string }> }> }>;
}

/**
 * A pinned place for PostgreSQL in a container (issue 14), as for the other
 * engines: the label holdfast.place or holdfast.yml place: decides, and
 * plan / show say "pinned by ...". A host pin needs an address this host
 * reaches; a container with no network has none, and the plan says so.
 */
describe('PostgreSQL in a container honours a pinned place', () => {
  const lab = new DockerLab();
  let repo: string;
  let config: string;
  let a: string;
  let b: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    // a: on this host's network (so this host reaches it), labelled holdfast.place=host; b: no network at all.
    a = await lab.postgres('a', await freePort(), { labels: ['holdfast.place=host'], project: `${lab.prefix}p`, service: 'db' });
    b = await lab.run('b', ['-e', 'POSTGRES_PASSWORD=b-secret', IMAGES.postgres]);
    await waitFor(`postgres in ${b}`, async () => ((await docker(['exec', b, 'pg_isready', '-q', '-h', '127.0.0.1']).then(() => true, () => false)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    await lab.psql(a, 'CREATE DATABASE shop');
    await lab.psql(a, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)', 'shop');
    // What a schema carries besides rows, for the check of the restores by pg_dump --schema-only.
    await lab.psql(a, "CREATE ROLE shop_reader; GRANT SELECT ON t TO shop_reader; CREATE VIEW t_low AS SELECT id FROM t WHERE id < 10; CREATE INDEX t_desc ON t (id DESC); COMMENT ON TABLE t IS 'pinned'; ALTER DATABASE shop SET work_mem = '8MB'", 'shop');
    config = join(await lab.dir('config'), 'holdfast.yml');
    await writeFile(
      config,
      [
        'services:',
        `  byhost: { url: "container:${a}", place: host, databases: [shop] }`,
        `  incontainer: { url: "container:${a}", place: container, databases: [shop] }`,
        `  bysidecar: { url: "container:${a}", place: sidecar, databases: [shop] }`,
        `  unpinned: { url: "container:${b}" }`,
        `  nohost: { url: "container:${b}", place: host }`,
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  const env = () => lab.env({ HOLDFAST_SIDECAR_IMAGE: IMAGES.postgres });

  test('plan --json gives each service its place and the reason, pins first', async () => {
    const plan = await holdfast(['--config', config, 'plan', '--json'], env());
    const items = new Map(plan.json<PlanDoc>().services.map((s) => [s.service, s]));
    expect(items.get('byhost')).toMatchObject({ strategy: 'pg_dump', place: { kind: 'host', where: 'on this host', reason: 'pinned by place: host' } });
    expect(items.get('incontainer')).toMatchObject({ strategy: 'pg_dump', place: { kind: 'container', where: `inside container ${a}`, reason: 'pinned by place: container' } });
    expect(items.get('bysidecar')).toMatchObject({ strategy: 'pg_dump', place: { kind: 'sidecar', where: `in a sidecar joined to container ${a}`, reason: 'pinned by place: sidecar' } });
    expect(items.get('unpinned')!.place).toMatchObject({ kind: 'container', where: `inside container ${b}` });
    expect(items.get('unpinned')!.place!.reason).toMatch(/^its image has pg_dump 15\.\d+$/);
    // A host pin with no address this host reaches: not pg_dump, and the plan says why and how to fix it.
    const nohost = items.get('nohost')!;
    expect(nohost.strategy).not.toBe('pg_dump');
    const unmet = nohost.offers.find((o) => o.name === 'pg_dump')!.requirements.find((r) => !r.met)!;
    expect(unmet).toMatchObject({ what: 'the place place: host reaches the server' });
    expect(unmet.detail).toBe(`pinned by place: host, but container ${b} publishes no port for PostgreSQL (5432/tcp), so this host's tools cannot reach it`);
    expect(unmet.hint).toMatch(/^publish the port .*or drop the pin/);
    expect(await lab.helpers()).toEqual([]);
  });

  test('a label pins the place of a discovered container; the plan table says it in its one short line', async () => {
    const json = await holdfast(['plan', '--docker', '--project', `${lab.prefix}p`, '--json'], env());
    expect(json.json<PlanDoc>().services).toMatchObject([{ service: 'db', strategy: 'pg_dump', place: { kind: 'host', where: 'on this host', reason: 'pinned by label holdfast.place=host' } }]);
    const table = await holdfast(['plan', '--docker', '--project', `${lab.prefix}p`], env());
    expect(table.stdout).toContain('on this host: pinned by label holdfast.place=host; strongest available: pg_dump per database');
    const plan = await holdfast(['--config', config, 'plan'], env());
    expect(plan.stdout).toContain(`in a sidecar joined to container ${a}: pinned by place: sidecar; strongest available: pg_dump per database`);
  });

  test('a backup honours the pins (host tools, a sidecar) and show records them; no sidecar left', async () => {
    const backup = await holdfast(['--config', config, '--repo', repo, 'backup', 'byhost', 'bysidecar', '--json'], env());
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const snapshot = backup.json<{ snapshot: string }>().snapshot;
    const show = await holdfast(['--config', config, '--repo', repo, 'show', snapshot], env());
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('\n  place: on this host: pinned by place: host\n');
    expect(show.stdout).toContain(`\n  place: in a sidecar joined to container ${a}: pinned by place: sidecar\n`);
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
    // Restored in place through the same pins: this host's pg_restore, then the sidecar's; equal fingerprints,
    // and equal as pg_dump --schema-only and exact row counts read it (test/support/independent-checks.ts).
    const source = await postgresView({ container: a }, 'lab-secret');
    await lab.psql(a, 'DELETE FROM t WHERE id > 10', 'shop');
    for (const name of ['byhost', 'bysidecar']) {
      const restore = await holdfast(['--config', config, '--repo', repo, 'restore', snapshot, name, '--database', 'shop', '--force', '--json'], env());
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(restore.json<{ services: Array<{ status: string; location?: string; fingerprint?: { equal: boolean } }> }>().services[0]).toMatchObject({ status: 'ok', location: `container:${a}/shop`, fingerprint: { equal: true } });
      expect(await lab.psql(a, 'SELECT count(*) FROM t', 'shop')).toBe('50');
      expect(await postgresView({ container: a }, 'lab-secret'), `restored through ${name}`).toEqual(source);
      await lab.psql(a, 'DELETE FROM t WHERE id > 10', 'shop');
    }
    expect(await lab.helpers()).toEqual([]);
  });
});
