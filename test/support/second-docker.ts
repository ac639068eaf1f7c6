import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const UP = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = existsSync(join(UP, 'scripts', 'install')) ? UP : join(UP, '..');
const run = promisify(execFile);
const CLI = process.env.HOLDFAST_DOCKER_CLI ?? '/usr/bin/docker';

/**
 * A second, separate dockerd standing for another host: its own socket, data
 * root and containerd (scripts/install/docker.sh with HOLDFAST_TEST_DOCKER_ROOT
 * and HOLDFAST_TEST_DOCKER_HOST), and the test images built into it
 * (scripts/images/build.sh takes the daemon from the same two variables, not
 * from DOCKER_HOST). stop() shuts it down and deletes its data root: every
 * container, volume and image on it goes too.
 */
export class SecondDocker {
  readonly root: string;
  readonly host: string;

  constructor(tag: string) {
    this.root = `/var/lib/holdfast-test-docker-${tag}`;
    this.host = `unix:///run/holdfast-test-docker-${tag}.sock`;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, HOLDFAST_TEST_DOCKER_ROOT: this.root, HOLDFAST_TEST_DOCKER_HOST: this.host, DOCKER_HOST: this.host };
  }

  /** Starts the daemon and builds the test images into it (busybox and postgres unless told). */
  async start(images: readonly string[] = ['busybox', 'postgres']): Promise<void> {
    await run('bash', [join(ROOT, 'scripts/images/build.sh'), ...images], { env: this.env(), maxBuffer: 16 << 20 });
  }

  /** The docker CLI against this daemon; stdout trimmed. */
  async docker(args: string[]): Promise<string> {
    try {
      const { stdout } = await run(CLI, ['-H', this.host, ...args], { env: this.env(), maxBuffer: 64 << 20 });
      return stdout.trim();
    } catch (error) {
      throw new Error(`docker -H ${this.host} ${args.join(' ')}: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await run('bash', [join(ROOT, 'scripts/install/docker-stop.sh'), '--purge', this.root], { env: this.env(), maxBuffer: 16 << 20 });
  }
}
