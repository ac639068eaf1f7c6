import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectDocker } from '../../src/docker/docker-client.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';

// `holdfast image build` against the private test dockerd: a helper / sidecar image FROM scratch of
// this machine's static busybox, through the Engine API's build endpoint (no registry, no network).
describe.runIf(process.getuid?.() === 0)('holdfast image build', () => {
  const lab = new DockerLab();
  let tag: string;

  beforeAll(async () => {
    await lab.init();
    process.env.HOLDFAST_STATE_DIR = lab.stateDir;
    tag = `holdfast-test/${lab.prefix}-helper:1`;
  }, 120_000);

  afterAll(async () => {
    await lab.cleanup();
    await docker(['rmi', '-f', tag]).catch(() => undefined);
  });

  test('builds the image from /bin/busybox; a sidecar of that image tunnels to a container with no network', async () => {
    const built = await holdfast(['image', 'build', '--tag', tag, '--json'], lab.env());
    expect(built.code, built.stderr + built.stdout).toBe(0);
    expect(built.json()).toMatchObject({ status: 'ok', image: tag, busybox: expect.stringMatching(/^BusyBox v/) });
    expect(await docker(['image', 'inspect', '-f', '{{ index .Config.Labels "holdfast.image" }}', tag])).toBe('helper');
    const web = await lab.run('web', ['--entrypoint', 'sh', IMAGES.busybox, '-c', 'mkdir -p /www && echo inside > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www']);
    const sidecar = new LazySidecar(connectDocker(), { id: await docker(['inspect', '-f', '{{.Id}}', web]), name: web }, { service: 'web', image: tag });
    try {
      const tunnel = await sidecar.reach('127.0.0.1', 8080);
      expect(await (await fetch(`http://${tunnel.host}:${tunnel.port}/index.html`)).text()).toBe('inside\n');
    } finally {
      await sidecar.close();
    }
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('a busybox that is not static is refused with the fix, not a stack trace', async () => {
    const res = await holdfast(['image', 'build', '--tag', tag, '--busybox', process.execPath], lab.env());
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${process.execPath} is linked dynamically, so it cannot run in an image with no libc`);
    expect(res.stderr).toContain('hint: install a static busybox (Debian/Ubuntu: apt-get install busybox-static)');
    expect(res.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
});
