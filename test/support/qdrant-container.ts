import { execFileSync } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../src/core/wait.js';
import { docker, ensureDocker, type DockerLab } from './docker.js';

/** Built by scripts/images/build.sh qdrant-hostbin: the FAKE Qdrant on the host's node (and /usr), mounted read-only. */
export const QDRANT_IMAGE = 'holdfast-test/qdrant:hostbin';

const UP = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = existsSync(join(UP, 'scripts', 'images')) ? UP : join(UP, '..');

export function ensureQdrantImage(): void {
  ensureDocker();
  execFileSync('flock', ['/tmp/holdfast-test-images.lock', 'bash', join(ROOT, 'scripts/images/build.sh'), 'qdrant-hostbin'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Compiles the fake and what it imports into `dir` (plain JavaScript, same layout) with tsc; about half a second. */
export async function compileFakeQdrant(dir: string): Promise<string> {
  execFileSync('npx', ['tsc', '--ignoreConfig', '--outDir', dir, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--skipLibCheck', '--types', 'node', '--rootDir', ROOT, join(ROOT, 'test/servers/qdrant-fake-main.ts')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  // The fake runs as uid 1000; a lab directory is private (mkdtemp).
  await chmod(dir, 0o755);
  return dir;
}

/**
 * A fake Qdrant in a container of the lab with NO network but its own
 * loopback (`--network none`, or another container's namespace with
 * `network: 'container:NAME'`): nothing on the host can reach it; holdfast
 * goes through a sidecar. `env` as Qdrant reads it (QDRANT__SERVICE__API_KEY, ...).
 */
export async function qdrantContainer(lab: DockerLab, short: string, code: string, options: { env?: string[]; labels?: string[]; project?: string; network?: string; volume?: string } = {}): Promise<string> {
  const env = (options.env ?? []).flatMap((e) => ['-e', e]);
  const labels = (options.labels ?? []).flatMap((l) => ['--label', l]);
  const volume = options.volume ? ['-v', `${options.volume}:/qdrant/storage`] : [];
  const name = await lab.run(short, ['-v', '/usr:/usr:ro', '-v', `${code}:/opt/qdrant-fake:ro`, ...volume, ...env, ...labels, QDRANT_IMAGE], {
    ...(options.project ? { project: options.project, service: short } : {}),
    ...(options.network ? { network: options.network } : {}),
  });
  await waitFor(`the fake Qdrant in ${name}`, async () => ((await docker(['logs', name]).catch(() => '')).includes('HOLDFAST_QDRANT_READY') ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
  return name;
}
