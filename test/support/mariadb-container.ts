/**
 * MariaDB in a container for the Docker tests: holdfast-test/mariadb:10.11
 * (scripts/images/build.sh mariadb: the host's MariaDB through a read-only
 * /usr), with no network but its own loopback (`--network none`), ready to
 * query. Queries run with the mariadb client inside the container.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../src/core/wait.js';
import { docker, ensureDocker, type DockerLab } from './docker.js';

export const MARIADB_IMAGE = 'holdfast-test/mariadb:10.11';

const UP = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = existsSync(join(UP, 'scripts', 'install')) ? UP : join(UP, '..');

/** Builds the image when its inputs changed (a warm run takes well under a second). */
export function ensureMariadbImage(): void {
  ensureDocker();
  execFileSync('flock', ['/tmp/holdfast-test-images.lock', 'bash', join(ROOT, 'scripts/images/build.sh'), 'mariadb'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

export interface MariadbContainerOptions {
  /** `-e NAME=value` pairs: MARIADB_ROOT_PASSWORD and friends. */
  env: string[];
  volume?: string;
  /** More `docker run` arguments (mounts). */
  args?: string[];
  project?: string;
  service?: string;
  /** mariadbd options (default: a 32 MiB buffer pool, enough for the tests). */
  serverArgs?: string[];
}

/** Starts one MariaDB container with no network and waits until it answers on its socket. */
export async function mariadbContainer(lab: DockerLab, short: string, o: MariadbContainerOptions): Promise<string> {
  const mounts = ['-v', '/usr:/usr:ro', ...(o.volume ? ['-v', `${o.volume}:/var/lib/mysql`] : []), ...(o.args ?? [])];
  const name = await lab.run(short, [...o.env, ...mounts, MARIADB_IMAGE, ...(o.serverArgs ?? ['--innodb-buffer-pool-size=32M'])], { ...(o.project ? { project: o.project } : {}), ...(o.service ? { service: o.service } : {}) });
  // The entrypoint's final server listens on 127.0.0.1:3306; its init server does not.
  await waitFor(`mariadb in ${name}`, async () => ((await docker(['exec', name, 'mariadb-admin', '--no-defaults', '--protocol=tcp', '-h127.0.0.1', '-uUNKNOWN', 'ping']).then(() => true, (e: Error) => /Access denied/.test(e.message))) ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  return name;
}

/** SQL as root inside the container (over its socket: root@localhost may use unix_socket), rows tab-separated. */
export function mariadbSql(container: string, sql: string, database = ''): Promise<string> {
  return docker(['exec', container, 'mariadb', '--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock', '-N', '-B', ...(database ? [database] : []), '-e', sql]);
}
