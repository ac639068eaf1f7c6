import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { mongoToolsEnv } from '../support/mongo-fixture.js';
import { ensureMongoImages, MONGO_IMAGES, waitForMongoContainer, withContainerClient } from '../support/mongo-container.js';

// kill -9 of holdfast while mongodump runs inside the MongoDB container (issue 14): a process that
// docker exec started runs on after the client dies, unless its stdin is attached (measured, see
// src/place/container-pipe-sweep.ts). mongodump goes through the exec's own stream and MongoDB's
// credential wrapper; it must go with holdfast, not run on to the end of the dump for nobody.
describe.runIf(process.getuid?.() === 0)('kill -9 mid-mongodump inside its container', () => {
  const lab = new DockerLab();
  let repo: string;
  let db: string;
  let env: Record<string, string>;
  const PASSWORD = 'kill-mongo-pw';

  const dumps = () => docker(['exec', db, 'sh', '-c', 'for p in /proc/[0-9]*; do if [ "$(cat $p/comm 2>/dev/null)" = mongodump ]; then echo "${p#/proc/}"; fi; done']);

  beforeAll(async () => {
    await lab.init();
    ensureMongoImages();
    process.env.HOLDFAST_STATE_DIR = lab.stateDir;
    repo = join(await lab.dir('repo'), 'repo');
    env = lab.env({ ...mongoToolsEnv(), HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox });
    db = await lab.run('mkill', ['-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${PASSWORD}`, MONGO_IMAGES.ferretdb]);
    await waitForMongoContainer(db);
    // Enough documents that a whole dump takes seconds (FerretDB on SQLite reads slowly).
    await withContainerClient(db, { user: 'root', password: PASSWORD }, async (c) => {
      const blob = 'x'.repeat(2000);
      for (let batch = 0; batch < 8; batch++) {
        await c.db('shop').collection('orders').insertMany(Array.from({ length: 2500 }, (_, i) => ({ _id: batch * 2500 + i, blob, n: i })));
      }
    });
  }, 240_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('mongodump goes with holdfast; the next backup works; no sidecar stays', async () => {
    // A whole dump first: how long mongodump takes here when nobody kills it.
    const started = Date.now();
    const whole = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'none', '--json'], env);
    expect(whole.code, whole.stderr + whole.stdout).toBe(0);
    const wholeMs = Date.now() - started;

    let pid = 0;
    const running = holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'none', '--json'], env, { onSpawn: (p) => (pid = p) });
    let ended = '';
    void running.then((r) => (ended = `the backup ended first (${r.code}): ${r.stdout}${r.stderr}`));
    await waitFor('mongodump running in the container', async () => (ended || (await dumps()) !== '' ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
    expect(ended).toBe('');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await running;
    await waitFor('mongodump gone', async () => ((await dumps()) === '' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 }).catch(() => undefined);
    const goneMs = Date.now() - killedAt;
    expect(await dumps()).toBe('');
    // Gone with holdfast, not at the end of its own dump: well inside the time a whole dump takes.
    expect(wholeMs, 'the data is too small to tell a stopped mongodump from a finished one').toBeGreaterThan(3000);
    expect(goneMs, `mongodump stayed ${goneMs} ms after the kill; a whole backup takes ${wholeMs} ms`).toBeLessThan(Math.min(3000, wholeMs / 2));

    const next = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--fingerprint', 'none', '--json'], env);
    expect(next.code, next.stderr + next.stdout).toBe(0);
    expect(await lab.helpers()).toEqual([]);
  }, 240_000);
});
