import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectDocker } from '../../src/docker/docker-client.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { removeLeftoverHelpers } from '../../src/docker/docker-helper.js';
import { LazySidecar, SidecarPlace } from '../../src/place/sidecar-place.js';
import { runText } from '../../src/place/place.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';

// A real dockerd (the private test daemon) and a container with NO network but its own
// loopback (`--network none`): busybox httpd listens on its 127.0.0.1:8080, which nothing
// on the host can reach. A sidecar joined to its namespace tunnels to it.
const SERVE = 'mkdir -p /www && echo "hello from inside" > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www';

describe.runIf(process.getuid?.() === 0)('a sidecar tunnel to a container with no published port', () => {
  const lab = new DockerLab();
  let api: DockerApi;
  let target: { id: string; name: string };

  beforeAll(async () => {
    await lab.init();
    process.env.HOLDFAST_STATE_DIR = lab.stateDir;
    api = connectDocker();
    const name = await lab.run('web', ['--entrypoint', 'sh', IMAGES.busybox, '-c', SERVE]);
    target = { id: await docker(['inspect', '-f', '{{.Id}}', name]), name };
  }, 120_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('HTTP requests reach the container localhost, in parallel, and close() removes the sidecar', async () => {
    const sidecar = new LazySidecar(api, target, { service: 'web', image: IMAGES.busybox });
    try {
      const tunnel = await sidecar.reach('127.0.0.1', 8080);
      const bodies = await Promise.all([1, 2, 3, 4, 5].map(() => fetch(`http://${tunnel.host}:${tunnel.port}/index.html`).then((r) => r.text())));
      expect(bodies).toEqual(Array(5).fill('hello from inside\n'));
      expect(await lab.helpers()).toHaveLength(1);
    } finally {
      await sidecar.close();
    }
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  }, 60_000);

  test('a port nobody listens on fails the connection and keeps the reason', async () => {
    const sidecar = new LazySidecar(api, target, { service: 'web', image: IMAGES.busybox });
    try {
      const tunnel = (await sidecar.reach('127.0.0.1', 9)) as Awaited<ReturnType<LazySidecar['reach']>> & { lastError(): string | undefined };
      await expect(fetch(`http://${tunnel.host}:${tunnel.port}/`)).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 300));
      expect(tunnel.lastError()).toMatch(/refused|can't connect/i);
    } finally {
      await sidecar.close();
    }
  }, 60_000);

  test('the sidecar place runs its image tools in the namespace of the container', async () => {
    const place = new SidecarPlace(api, target, { service: 'web', image: IMAGES.busybox });
    try {
      const out = await runText(place, ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/index.html']);
      expect(out).toMatchObject({ exitCode: 0, stdout: 'hello from inside\n' });
      expect(place.where).toBe(`in a sidecar joined to container ${target.name}`);
    } finally {
      await place.close();
    }
  }, 60_000);

  test('an image missing from the daemon gives a hint, not a stack trace', async () => {
    const sidecar = new LazySidecar(api, target, { service: 'web', image: 'holdfast-test/no-such-image:1' });
    await expect(sidecar.reach('127.0.0.1', 8080)).rejects.toMatchObject({
      message: expect.stringContaining('the sidecar image holdfast-test/no-such-image:1 is not on the Docker daemon'),
      hint: expect.stringContaining('HOLDFAST_SIDECAR_IMAGE'),
    });
    await sidecar.close();
  });

  test('a sidecar whose run was killed with -9 is removed by the next cleanup', async () => {
    const script = `
      const { connectDocker } = await import(${JSON.stringify(new URL('../../dist/src/docker/docker-client.js', import.meta.url).pathname)});
      const { startSidecar } = await import(${JSON.stringify(new URL('../../dist/src/place/sidecar.js', import.meta.url).pathname)});
      await startSidecar(connectDocker(), ${JSON.stringify(target)}, { service: 'web', image: ${JSON.stringify(IMAGES.busybox)} });
      console.log('started');
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
      child.once('exit', (code) => reject(new Error(`the child exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await lab.helpers()).toHaveLength(1);
    const removed = await removeLeftoverHelpers(api);
    expect(removed).toHaveLength(1);
    expect(await lab.helpers()).toEqual([]);
  }, 60_000);
});
