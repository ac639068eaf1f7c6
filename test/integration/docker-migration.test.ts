import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { SecondDocker } from '../support/second-docker.js';

interface RestoreDoc {
  status: string;
  services: Array<{ service: string; status: string; location: string; fingerprint?: { equal: boolean; compared: number }; notes: string[]; error?: { message: string } }>;
}

// Files of several owners and modes, a symlink and a hard link: what must survive the move.
const TREE = [
  'mkdir -p /v/public /v/private /v/shared',
  'echo hello > /v/public/index.html && chown 33:33 /v/public /v/public/index.html && chmod 0644 /v/public/index.html',
  'echo secret > /v/private/key && chown 1000:1001 /v/private /v/private/key && chmod 0600 /v/private/key && chmod 0700 /v/private',
  'chmod 1777 /v/shared && echo run > /v/shared/tool && chown 0:50 /v/shared/tool && chmod 4755 /v/shared/tool',
  'ln -s ../public/index.html /v/shared/link && ln /v/public/index.html /v/public/hard',
].join(' && ');
const LISTING = "cd /v && find . | sort | while read f; do stat -c '%n %u:%g %a %F %h' \"$f\"; done";

describe('migration: backup on one Docker host, export, import, restore on another', () => {
  const lab = new DockerLab();
  const hostB = new SecondDocker(`mig${process.pid}`);
  const project = `${lab.prefix}m`;
  let repoA: string;
  let repoB: string;
  let bundle: string;
  let db: string;
  let files: string;
  let pgdata: string;

  beforeAll(async () => {
    await lab.init();
    await hostB.start();
    const dir = await lab.dir('migration');
    repoA = join(dir, 'repo-a');
    repoB = join(dir, 'repo-b');
    bundle = join(dir, 'stack.hfb');
    pgdata = await lab.volume('pgdata');
    files = await lab.volume('files');
    db = await lab.postgres('db', await freePort(), { volume: pgdata, project, service: 'db' });
    await lab.psql(db, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int); INSERT INTO orders SELECT g, 'item ' || g, g % 7 FROM generate_series(1, 5000) g; CREATE ROLE shop LOGIN; ALTER TABLE orders OWNER TO shop");
    await lab.inVolume(files, TREE);
    await lab.run('web', ['--init', '-v', `${files}:/srv/www`, IMAGES.busybox, 'sleep', '600'], { project, service: 'web' });
  });

  afterAll(async () => {
    // Host B goes whole (its containers, volumes and images), also when a test failed.
    await hostB.stop().catch((error: unknown) => console.error(`stopping the second dockerd failed: ${(error as Error).message}`));
    await lab.cleanup();
  });

  test('the stack moves with its data, owners and fingerprints; the PostgreSQL container is rebuilt on host B', async () => {
    const backup = await holdfast(['--repo', repoA, 'backup', '--project', project, '--fingerprint', 'full', '--tag', 'move', '--json'], lab.env());
    const snapshot = savedSnapshot(backup);

    const exported = await holdfast(['--repo', repoA, 'export', 'move', '--to', bundle, '--json'], lab.env());
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.json()).toMatchObject({ status: 'ok', snapshot, artifacts: expect.any(Number) });

    // Host B: nothing of the stack there yet.
    const envB = lab.env({ DOCKER_HOST: hostB.host, POSTGRES_PASSWORD: 'b-secret' });
    expect(await hostB.docker(['ps', '-aq'])).toBe('');
    expect(await hostB.docker(['volume', 'ls', '-q'])).toBe('');

    await initRepo(repoB, envB);
    const imported = await holdfast(['--repo', repoB, 'import', bundle, '--json'], envB);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.json()).toMatchObject({ status: 'ok', snapshot, services: expect.arrayContaining(['db', 'web']) });

    // Without --recreate the missing container is named, with the way out.
    const plain = await holdfast(['--repo', repoB, 'restore', snapshot, 'db'], envB);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(`the container ${db} of PostgreSQL is gone`);
    expect(plain.stderr).toContain('--recreate');

    // --recreate without the password the image needs: the container stops, holdfast says why and leaves nothing on B.
    const noPassword = await holdfast(['--repo', repoB, 'restore', snapshot, 'db', '--recreate'], lab.env({ DOCKER_HOST: hostB.host }));
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).toContain(`the container ${db} stopped before PostgreSQL was ready`);
    expect(noPassword.stderr).toContain('superuser password is not specified');
    expect(noPassword.stderr).toContain('holdfast removed the container and its new volumes again');
    expect(noPassword.stderr).toContain('POSTGRES_PASSWORD=... holdfast restore --recreate');
    expect(await hostB.docker(['ps', '-aq'])).toBe('');
    expect(await hostB.docker(['volume', 'ls', '-q'])).toBe('');

    const restore = await holdfast(['--repo', repoB, 'restore', snapshot, '--recreate', '--json'], envB);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const doc = restore.json<RestoreDoc>();
    const by = Object.fromEntries(doc.services.map((s) => [s.service, s]));
    for (const s of doc.services) expect(s, JSON.stringify(s)).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    expect(by.db!.notes.join('\n')).toContain(`started container ${db} from ${IMAGES.postgres} on ${hostB.host}, without network, on fresh volumes ${pgdata}`);
    expect(by.db!.notes.join('\n')).toMatch(/left out: .*PGPORT/);
    expect(by.db!.fingerprint!.compared).toBeGreaterThan(0);

    // PostgreSQL on B: the rows, their owner role (from the globals), in a container from the same image on a fresh volume.
    const psqlB = (sql: string) => hostB.docker(['exec', '-e', 'PGPASSWORD=b-secret', db, 'psql', '-X', '-A', '-t', '-F', '\t', '-U', 'postgres', '-d', 'postgres', '-c', sql]);
    expect(await psqlB('SELECT count(*), sum(qty) FROM orders')).toBe(await lab.psql(db, 'SELECT count(*), sum(qty) FROM orders'));
    expect(await psqlB("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'")).toBe('shop');
    expect(await hostB.docker(['inspect', '-f', '{{.Config.Image}} {{.State.Status}} {{.HostConfig.NetworkMode}} {{index .Config.Labels "holdfast.restored-from"}}', db])).toBe(`${IMAGES.postgres} running none ${snapshot}`);
    expect(await hostB.docker(['inspect', '-f', '{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}', db])).toBe(`${pgdata}:/var/lib/postgresql/data`);

    // The files volume on B: same tree, owners, modes, links.
    const inB = (volume: string, script: string) => hostB.docker(['run', '--rm', '--pull', 'never', '--network', 'none', '-v', `${volume}:/v`, '--entrypoint', 'sh', IMAGES.busybox, '-c', script]);
    const listingA = await lab.inVolume(files, LISTING);
    expect(listingA).toContain('./private/key 1000:1001 600');
    expect(await inB(files, LISTING)).toBe(listingA);
    expect(await inB(files, 'cat /v/private/key; readlink /v/shared/link')).toBe('secret\n../public/index.html');
    expect(await hostB.docker(['volume', 'inspect', '-f', '{{index .Labels "holdfast.restored-from"}}', files])).toBe(files);

    // Nothing on host A changed or was left held.
    expect(await lab.held()).toEqual([]);
    expect(await docker(['inspect', '-f', '{{.State.Status}}', db])).toBe('running');

    // A second restore onto B finds the rebuilt container and its data: refused without --force, nothing touched.
    const again = await holdfast(['--repo', repoB, 'restore', snapshot, 'db', '--recreate'], envB);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not empty');
  });
});
