import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { waitFor } from '../../src/core/wait.js';
import { connectDocker } from '../../src/docker/docker-client.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { docker, ensureDocker, IMAGES } from './docker.js';

/**
 * MongoDB-wire servers in containers of a DockerLab: FerretDB v1.24 (SQLite)
 * on 127.0.0.1:27017 of the container's own namespace (`--network none`),
 * built by scripts/images/build.sh from the binaries of
 * scripts/install/mongodb.sh. `ferretdb` has the Database Tools in the
 * image, `ferretdbNoTools` does not.
 */
export const MONGO_IMAGES = { ferretdb: 'holdfast-test/ferretdb:1.24', ferretdbNoTools: 'holdfast-test/ferretdb-notools:1.24' } as const;

const UP = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = existsSync(join(UP, 'scripts', 'images')) ? UP : join(UP, '..');

/** Builds the images when their inputs changed (serialized with the other image builds). */
export function ensureMongoImages(): void {
  ensureDocker();
  execFileSync('flock', ['/tmp/holdfast-test-images.lock', 'bash', join(ROOT, 'scripts/images/build.sh'), 'ferretdb', 'ferretdb-notools'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Waits until the server in `container` accepts TCP on its own 127.0.0.1:27017 (busybox nc in the image). */
export async function waitForMongoContainer(container: string): Promise<void> {
  await waitFor(
    `FerretDB in ${container}`,
    async () => ((await docker(['exec', container, 'sh', '-c', 'nc 127.0.0.1 27017 </dev/null']).then(() => true, () => false)) ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/**
 * Runs `work` with a client connected to the server in `container` through a
 * sidecar tunnel (the test's own, busybox image), then removes the sidecar.
 * The test process must have HOLDFAST_STATE_DIR set to the lab's state dir.
 * `dockerHost`: the container's daemon, when not the test daemon.
 */
export async function withContainerClient<T>(container: string, auth: { user: string; password: string } | undefined, work: (c: MongoClient) => Promise<T>, dockerHost?: string): Promise<T> {
  const api = connectDocker(dockerHost);
  const id = (await api.inspectContainer(container))?.id;
  if (!id) throw new Error(`no container ${container} on ${dockerHost ?? 'the test daemon'}`);
  const sidecar = new LazySidecar(api, { id, name: container }, { service: 'test', image: IMAGES.busybox });
  try {
    const tunnel = await sidecar.reach('127.0.0.1', 27017);
    const client = new MongoClient(`mongodb://${tunnel.host}:${tunnel.port}/?directConnection=true`, auth ? { auth: { username: auth.user, password: auth.password }, authSource: 'admin' } : {});
    try {
      await client.connect();
      return await work(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  } finally {
    await sidecar.close();
  }
}
