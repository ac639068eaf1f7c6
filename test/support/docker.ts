import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../../src/core/wait.js';

// test/support/ when run by vitest, dist/test/support/ when compiled for a bench.
const UP = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = existsSync(join(UP, 'scripts', 'install')) ? UP : join(UP, '..');
const run = promisify(execFile);

/** The images the Docker tests use, built locally by scripts/images/build.sh (no registry). */
export const IMAGES = { busybox: 'holdfast-test/busybox:latest', postgres: 'holdfast-test/postgres:15' } as const;

let ready: string | undefined;

/**
 * Makes Docker available to a test file: scripts/install/docker.sh installs
 * docker.io when absent and starts the private test daemon (idempotent,
 * serialized by its own lock), scripts/images/build.sh builds the images
 * when their inputs changed (serialized here with flock: test files run in
 * parallel). Sets DOCKER_HOST for the test process and returns it.
 */
export function ensureDocker(): string {
  if (ready) return ready;
  if (process.getuid?.() !== 0) throw new Error('the Docker tests start a private dockerd and need root');
  const line = execFileSync('bash', [join(ROOT, 'scripts/install/docker.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const host = /^DOCKER_HOST=(.+)$/m.exec(line)?.[1];
  if (!host) throw new Error(`scripts/install/docker.sh printed no DOCKER_HOST: ${line}`);
  process.env.DOCKER_HOST = host;
  execFileSync('flock', ['/tmp/holdfast-test-images.lock', 'bash', join(ROOT, 'scripts/images/build.sh'), 'busybox', 'postgres'], { stdio: ['ignore', 'inherit', 'inherit'] });
  ready = host;
  return host;
}

/** holdfast's own image (the repository's Dockerfile, built registry-free by scripts/images/build.sh holdfast). */
export const HOLDFAST_IMAGE = 'holdfast:local';

/** Builds holdfast:local into the test daemon when its inputs changed (~25 s cold; a warm check is instant). */
export function ensureHoldfastImage(): string {
  ensureDocker();
  execFileSync('flock', ['/tmp/holdfast-test-images.lock', 'bash', join(ROOT, 'scripts/images/build.sh'), 'holdfast'], { stdio: ['ignore', 'inherit', 'inherit'] });
  return HOLDFAST_IMAGE;
}

const CLI = process.env.HOLDFAST_DOCKER_CLI ?? '/usr/bin/docker';

/** The docker CLI against the test daemon; stdout trimmed. */
export async function docker(args: string[], input?: string): Promise<string> {
  if (input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = execFile(CLI, args, { env: process.env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => (error ? reject(new Error(`docker ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim())));
      child.stdin!.end(input);
    });
  }
  try {
    const { stdout } = await run(CLI, args, { env: process.env, maxBuffer: 64 << 20 });
    return stdout.trim();
  } catch (error) {
    throw new Error(`docker ${args.join(' ')}: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
  }
}

export async function containerState(name: string): Promise<string> {
  return docker(['inspect', '-f', '{{.State.Status}}', name]);
}

/**
 * One test file's containers, volumes and directories, all named with a
 * unique prefix and labelled, and removed by cleanup() (paused ones are
 * unpaused first). A compose-like stack is built with the compose labels.
 */
export class DockerLab {
  readonly prefix = `hft${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  readonly label = `holdfast-test.lab=${this.prefix}`;
  private readonly containers: string[] = [];
  private readonly volumes: string[] = [];
  private readonly dirs: string[] = [];
  /** A state dir of its own, so that journals of other test files are not resumed here. */
  stateDir = '';

  async init(): Promise<this> {
    ensureDocker();
    this.stateDir = await this.dir('state');
    return this;
  }

  name(short: string): string {
    return `${this.prefix}-${short}`;
  }

  /** A labelled volume; `options` are `docker volume create` flags such as `['--opt', 'type=tmpfs']`. */
  async volume(short: string, options: string[] = []): Promise<string> {
    const name = this.name(short);
    this.volumes.push(name);
    await docker(['volume', 'create', '--label', this.label, ...options, name]);
    return name;
  }

  async dir(short: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `${this.prefix}-${short}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** `docker run -d` with the lab label, no pull, no network unless given; returns the container name. */
  async run(short: string, args: string[], options: { project?: string; service?: string; dependsOn?: string; network?: string; labels?: string[] } = {}): Promise<string> {
    const name = this.name(short);
    this.containers.push(name);
    const labels = ['--label', this.label, ...(options.labels ?? []).flatMap((l) => ['--label', l])];
    if (options.project) labels.push('--label', `com.docker.compose.project=${options.project}`, '--label', `com.docker.compose.service=${options.service ?? short}`, '--label', 'com.docker.compose.container-number=1');
    if (options.dependsOn) labels.push('--label', `com.docker.compose.depends_on=${options.dependsOn}:service_started:false`);
    await docker(['run', '-d', '--pull', 'never', '--name', name, '--network', options.network ?? 'none', ...labels, ...args]);
    return name;
  }

  /** A PostgreSQL container on a free loopback port (host network, 127.0.0.1 only), ready to query. */
  async postgres(short: string, port: number, options: { volume?: string; password?: string; project?: string; service?: string; env?: string[]; labels?: string[] } = {}): Promise<string> {
    const env = ['-e', `POSTGRES_PASSWORD=${options.password ?? 'lab-secret'}`, '-e', `PGPORT=${port}`, '-e', 'POSTGRES_LISTEN_ADDRESSES=127.0.0.1', ...(options.env ?? [])];
    const mounts = options.volume ? ['-v', `${options.volume}:/var/lib/postgresql/data`] : [];
    const name = await this.run(short, [...env, ...mounts, IMAGES.postgres], { ...options, network: 'host' });
    await waitFor(`postgres in ${name}`, async () => ((await docker(['exec', name, 'pg_isready', '-q', '-h', '127.0.0.1', '-p', String(port)]).then(() => true, () => false)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    return name;
  }

  /** psql inside a container (trust on its socket), rows as tab-separated text. */
  psql(container: string, sql: string, database = 'postgres', password = 'lab-secret'): Promise<string> {
    return docker(['exec', '-e', `PGPASSWORD=${password}`, container, 'psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', database, '-c', sql]);
  }

  /** A shell command in a throwaway busybox with a volume mounted at /v. */
  inVolume(volume: string, script: string, image: string = IMAGES.busybox): Promise<string> {
    return docker(['run', '--rm', '--pull', 'never', '--network', 'none', '--label', this.label, '-v', `${volume}:/v`, '--entrypoint', 'sh', image, '-c', script]);
  }

  /** Containers of this lab that are paused or not running: tests assert this is empty. */
  async held(): Promise<string[]> {
    const out = await docker(['ps', '-a', '--filter', `label=${this.label}`, '--format', '{{.Names}} {{.State}}']);
    return out
      .split('\n')
      .filter(Boolean)
      .filter((l) => !l.endsWith(' running'));
  }

  /** Helper containers of holdfast runs of this lab (same state dir) that still exist: tests assert this is empty. */
  async helpers(): Promise<string[]> {
    const state = createHash('sha256').update(this.stateDir).digest('hex').slice(0, 12);
    return (await docker(['ps', '-aq', '--filter', `label=holdfast.state=${state}`])).split('\n').filter(Boolean);
  }

  async cleanup(): Promise<void> {
    // Helpers of holdfast runs of this lab (same state dir) that a failed test left, then the lab's own containers.
    const state = createHash('sha256').update(this.stateDir).digest('hex').slice(0, 12);
    const helpers = (await docker(['ps', '-aq', '--filter', `label=holdfast.state=${state}`]).catch(() => '')).split('\n');
    const ids = [...helpers, ...(await docker(['ps', '-aq', '--filter', `label=${this.label}`]).catch(() => '')).split('\n')].filter(Boolean);
    for (const id of ids) {
      await docker(['unpause', id]).catch(() => undefined);
      await docker(['rm', '-f', '-v', id]).catch(() => undefined);
    }
    // Volumes a restore created carry the lab's prefix in their name, not its label.
    const labelled = (await docker(['volume', 'ls', '-q', '--filter', `label=${this.label}`]).catch(() => '')).split('\n');
    const named = (await docker(['volume', 'ls', '-q', '--filter', `name=${this.prefix}`]).catch(() => '')).split('\n');
    const volumes = [...labelled, ...named].filter((v) => v.startsWith(this.prefix) || labelled.includes(v)).filter(Boolean);
    for (const v of new Set([...volumes, ...this.volumes])) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }

  /** The environment holdfast runs with in these tests. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { DOCKER_HOST: ensureDocker(), HOLDFAST_HELPER_IMAGE: IMAGES.postgres, HOLDFAST_STATE_DIR: this.stateDir, HOLDFAST_DOCKER: '', ...extra };
  }
}
