import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { readCounter, WRITER } from '../support/stack-writer.js';

interface DiscoverDoc {
  services: Array<{
    service: string;
    engine: string;
    detectedBy: string;
    strategy?: string;
    consistency?: string;
    reason: string;
    volumes: Array<{ type: string; source: string; destination: string }>;
    container?: { name: string; compose?: { project: string; service: string; dependsOn: string[] }; envNames: string[]; readOnlyMounts: Array<{ destination: string }>; skippedMounts: Array<{ destination: string }> };
  }>;
  containers: Array<{ container: string; excluded: boolean; note: string }>;
  notes: string[];
}

describe('a compose-like stack in Docker', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}p`;
  const zoo = `${lab.prefix}z`;
  let port: number;
  let bind: string;
  let repo: string;
  let db: string;
  let db2: string;
  let app: string;

  beforeAll(async () => {
    await lab.init();
    port = await freePort();
    const port2 = await freePort();
    const [pgdata, appdata, clue, files, envvol] = await Promise.all(['pgdata', 'appdata', 'clue', 'files', 'envvol'].map((v) => lab.volume(v)));
    bind = await lab.dir('bind');
    repo = join(await lab.dir('repo'), 'repo');
    await writeFile(join(bind, 'settings.conf'), 'mode=test\n');
    [db, db2] = await Promise.all([lab.postgres('db', port, { volume: pgdata, project, service: 'db' }), lab.postgres('db2', port2)]);
    await lab.psql(db, "CREATE TABLE items (id int PRIMARY KEY, name text, at timestamptz DEFAULT now()); INSERT INTO items (id, name) SELECT g, 'item ' || g FROM generate_series(1, 2000) g; CREATE INDEX ON items (name)");
    app = await lab.run('app', ['--init', '-v', `${appdata}:/data`, '-v', `${bind}:/conf`, '-v', `${bind}:/ro:ro`, '--tmpfs', '/run', IMAGES.busybox, 'sh', '-c', WRITER], { project, service: 'app', dependsOn: 'db' });
    // The zoo: one container per detection signal, plus one excluded and one stateless.
    await lab.inVolume(clue, 'echo 15 > /v/PG_VERSION && mkdir /v/base');
    await Promise.all([
      lab.run('envdb', ['-e', 'POSTGRES_USER=someone', '-v', `${envvol}:/var/lib/data`, IMAGES.busybox, 'sleep', '600'], { project: zoo, service: 'envdb' }),
      lab.run('mystery', ['-v', `${clue}:/srv`, IMAGES.busybox, 'sleep', '600'], { project: zoo, service: 'mystery' }),
      lab.run('files', ['--label', 'holdfast.engine=volume', '-v', `${files}:/files`, IMAGES.busybox, 'sleep', '600'], { project: zoo, service: 'files' }),
      lab.run('cache', ['--label', 'holdfast.exclude=true', '-v', `${files}:/cache`, IMAGES.busybox, 'sleep', '600'], { project: zoo, service: 'cache' }),
      lab.run('web', [IMAGES.busybox, 'sleep', '600'], { project: zoo, service: 'web' }),
    ]);
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('discover --project reports the services, engines, volumes, compose labels and skipped mounts', async () => {
    const res = await holdfast(['discover', '--project', project, '--json'], lab.env());
    expect(res.code, res.stderr).toBe(0);
    const doc = res.json<DiscoverDoc>();
    expect(doc.services.map((s) => s.service)).toEqual(['app', 'db']);
    const [appRow, dbRow] = doc.services;
    expect(dbRow).toMatchObject({ engine: 'postgres', strategy: 'pg_dump', consistency: 'transactional' });
    expect(dbRow!.detectedBy).toContain('image holdfast-test/postgres');
    expect(dbRow!.volumes).toEqual([expect.objectContaining({ type: 'volume', source: lab.name('pgdata'), destination: '/var/lib/postgresql/data' })]);
    expect(dbRow!.container!.compose).toMatchObject({ project, service: 'db' });
    expect(dbRow!.container!.envNames).toContain('POSTGRES_PASSWORD');
    expect(appRow).toMatchObject({ engine: 'volume', strategy: 'tar', consistency: 'quiesced' });
    // In the order they are mounted at: /conf, /data.
    expect(appRow!.volumes.map((v) => v.source)).toEqual([bind, lab.name('appdata')]);
    expect(appRow!.container!.compose).toEqual({ project, service: 'app', number: 1, dependsOn: ['db'] });
    expect(appRow!.container!.readOnlyMounts.map((m) => m.destination)).toEqual(['/ro']);
    expect(appRow!.container!.skippedMounts.map((m) => m.destination)).toEqual(['/run']);
    expect(doc.notes.join('\n')).toContain('tmpfs /run is memory only: skipped');
    expect(doc.notes.join('\n')).toContain(`read-only bind ${bind} at /ro is not state`);
    // Names of environment variables only: the password itself is nowhere.
    expect(res.stdout + res.stderr).not.toContain('lab-secret');

    const text = await holdfast(['discover', '--project', project], lab.env());
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^SERVICE\s+CONTAINER\s+ENGINE\s+VOLUMES\s+STRATEGY/);
    expect(text.stdout).toMatch(new RegExp(`\\ndb\\s+${db} \\(${project}/db\\)\\s+postgres\\s+${lab.name('pgdata')}:/var/lib/postgresql/data\\s+pg_dump \\(transactional\\)`));
  });

  test('engines come from the label, the image, the environment and the volume contents, in that order', async () => {
    const res = await holdfast(['discover', '--project', zoo, '--json'], lab.env());
    expect(res.code, res.stderr).toBe(0);
    const doc = res.json<DiscoverDoc>();
    const by = Object.fromEntries(doc.services.map((s) => [s.service, s]));
    expect(Object.keys(by).sort()).toEqual(['envdb', 'files', 'mystery']);
    expect(by.envdb).toMatchObject({ engine: 'postgres', detectedBy: 'POSTGRES_* environment' });
    expect(by.mystery).toMatchObject({ engine: 'postgres', detectedBy: 'PG_VERSION in the volume' });
    expect(by.files).toMatchObject({ engine: 'volume', detectedBy: 'configured engine', strategy: 'tar' });
    // No psql in a busybox image: the plan falls back to a stopped-writer tar and says why.
    expect(by.mystery).toMatchObject({ strategy: 'tar', consistency: 'quiesced' });
    expect(by.mystery!.reason).toContain("PostgreSQL's own methods cannot run");
    expect(by.mystery!.reason).toContain('skipped pg_dump');
    const others = Object.fromEntries(doc.containers.map((c) => [c.container, c]));
    expect(others[lab.name('cache')]).toMatchObject({ excluded: true, note: 'excluded by the label holdfast.exclude=true' });
    expect(others[lab.name('web')]!.note).toContain('stateless');
    // Without --docker nothing is discovered.
    const plain = await holdfast(['discover', '--json'], lab.env());
    expect(plain.json<{ services: unknown[] }>().services).toEqual([]);
  });

  test('backup of the stack, restore into a fresh container and fresh volumes: equal fingerprints, the app state at its quiesce point', async () => {
    const backup = await holdfast(['--repo', repo, 'backup', '--project', project, '--fingerprint', 'full', '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; status: string; services: Array<{ service: string; strategy: string; consistency: string; status: string; notes?: string[] }> }>();
    expect(doc.status).toBe('ok');
    const by = Object.fromEntries(doc.services.map((s) => [s.service, s]));
    expect(by.db).toMatchObject({ strategy: 'pg_dump', consistency: 'transactional', status: 'ok' });
    expect(by.app).toMatchObject({ strategy: 'tar', consistency: 'quiesced', status: 'ok' });
    expect(by.app!.notes!.join('\n')).toMatch(new RegExp(`${app} was stopped for \\d+ ms`));
    expect(await lab.held()).toEqual([]);
    expect(await docker(['ps', '-aq', '--filter', 'label=holdfast.helper=true', '--filter', `volume=${lab.name('appdata')}`])).toBe('');

    const manifest = JSON.parse(await readFile(join(repo, 'snapshots', doc.snapshot, 'manifest.json'), 'utf8')) as { services: Record<string, { details: Record<string, unknown>; endpoint: string }> };
    expect(manifest.services.db!.details.toolsRanIn).toBe(`container ${db}`);
    expect(manifest.services.db!.endpoint).toBe(`container:${db}`);
    const appDetails = manifest.services.app!.details as { held: Array<{ container: string; action: string; heldMs: number }>; holdMs: number; container: { image: string; envNames: string[] } };
    expect(appDetails.held).toEqual([expect.objectContaining({ container: app, action: 'stop' })]);
    expect(appDetails.holdMs).toBeGreaterThan(0);
    expect(appDetails.container.image).toBe(IMAGES.busybox);

    const copyDir = join(await lab.dir('bind-copy'), 'conf');
    const restore = await holdfast(
      ['--repo', repo, 'restore', doc.snapshot, '--json', '--target', `db=container:${db2}`, '--target', `app=volume:${lab.name('appdata')}=${lab.name('appcopy')},${bind}=${copyDir}`],
      lab.env(),
    );
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const restored = restore.json<{ services: Array<{ service: string; status: string; fingerprint: { equal: boolean; compared: number } }> }>().services;
    for (const s of restored) expect(s, s.service).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    expect(await lab.psql(db2, "SELECT count(*), max(name) FROM items WHERE name LIKE 'item %'")).toBe('2000\titem 999');

    // The writer's state when it was stopped: counter, last log line and its own "stop" record agree.
    const state = (await lab.inVolume(lab.name('appcopy'), 'cat /v/counter; tail -n 1 /v/log; tail -n 1 /v/events; wc -l < /v/log')).split('\n');
    const n = Number(state[0]);
    expect(n).toBeGreaterThan(0);
    expect(state.slice(1, 3)).toEqual([`line ${n}`, `stop ${n}`]);
    expect(Number(state[3])).toBe(n);
    expect(await readFile(join(copyDir, 'settings.conf'), 'utf8')).toBe('mode=test\n');
    // And the app went on counting after it was started again.
    expect(await readCounter(app, n + 1)).toBeGreaterThan(n);
    expect(await lab.held()).toEqual([]);
  });
});
