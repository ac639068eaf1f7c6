/**
 * holdfast's own image (holdfast:local, built registry-free by
 * scripts/images/build.sh) runs `serve` in a container against a PostgreSQL
 * container of the test daemon, through the mounted Docker socket: the
 * scheduled backup lands in a bind-mounted repository that `holdfast
 * snapshots` on the host lists; `docker stop` (SIGTERM) ends it with exit 0
 * and no container left paused.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, initRepo } from '../support/cli.js';
import { docker, DockerLab, ensureHoldfastImage } from '../support/docker.js';
import { freePort } from '../support/free-port.js';

describe('the holdfast image', () => {
  const lab = new DockerLab();
  let image: string;

  beforeAll(async () => {
    await lab.init();
    image = ensureHoldfastImage();
  }, 300_000);
  afterAll(async () => {
    await lab.cleanup();
  });

  test('serve in a container backs up a container on schedule; SIGTERM stops it with exit 0', async () => {
    const db = await lab.postgres('db', await freePort());
    await lab.psql(db, 'CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 500) g');
    const dir = await lab.dir('image');
    const repo = join(dir, 'repo');
    await initRepo(repo, lab.env());
    await writeFile(
      join(dir, 'holdfast.yml'),
      `repo: /var/lib/holdfast/repo\nservices:\n  db: container:${db}\njobs:\n  often: { type: backup, schedule: "*/2 * * * * *" }\nserve:\n  grace: 5s\n  metrics: false\n`,
    );
    const socket = lab.env().DOCKER_HOST!.replace(/^unix:\/\//, '');
    const serve = await lab.run('serve', [
      '-v', `${socket}:/var/run/docker.sock`,
      '-e', 'DOCKER_HOST=unix:///var/run/docker.sock',
      '-v', `${join(dir, 'holdfast.yml')}:/etc/holdfast/holdfast.yml:ro`,
      '-v', `${repo}:/var/lib/holdfast/repo`,
      image, 'serve', '--log-format', 'json',
    ]);
    const listed = await waitFor('a snapshot listed on the host', async () => {
      const state = await docker(['inspect', '-f', '{{.State.Status}}', serve]);
      if (state !== 'running') throw new Error(`the serve container is ${state}: ${await docker(['logs', '--tail', '20', serve]).catch(() => '')}`);
      const r = await holdfast(['--repo', repo, 'snapshots', '--json'], lab.env());
      const snapshots = r.code === 0 ? r.json<{ snapshots: Array<{ id: string; services: Array<{ service: string; status?: string }> }> }>().snapshots : [];
      return snapshots.length > 0 ? snapshots : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(JSON.stringify(listed[0])).toContain('"db"');
    const logs = await docker(['logs', serve]);
    expect(logs).toMatch(/"job":"often".*"msg":"run finished: ok"|"msg":"run finished: ok".*"job":"often"/);

    await docker(['stop', '-t', '30', serve]);
    expect(await docker(['inspect', '-f', '{{.State.ExitCode}}', serve])).toBe('0');
    // The last line of serve's log (stdout) says it stopped. Not `--tail 1`:
    // that merges stderr, where the CLI's "SIGTERM received" line can land
    // after it (docker timestamps the two streams apart; seen in CI, stop 20).
    expect((await docker(['logs', serve])).split('\n').at(-1)).toMatch(/serve stopped/);
    // The stopped serve container is ours; nothing else of the lab may be held.
    expect((await lab.held()).filter((l) => !l.startsWith(`${serve} `))).toEqual([]);
  }, 240_000);
});
