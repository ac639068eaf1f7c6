import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { connectDocker } from '../../src/docker/docker-client.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { compileFakeQdrant, ensureQdrantImage, qdrantContainer } from '../support/qdrant-container.js';
import { docsCount, mutateQdrant, seedQdrant } from '../support/qdrant-data.js';
import { QdrantClient as Client } from '@qdrant/js-client-rest';

// The FAKE Qdrant (test/servers/qdrant-fake.ts; no real Qdrant can be obtained here) in containers of
// the private test dockerd with NO network but their own loopback (--network none), as in a compose
// stack with no published port: holdfast reaches the REST API through a sidecar joined to the
// container's network namespace. The api key is the container's own QDRANT__SERVICE__API_KEY.
const KEY = 'qdrant-in-container-key-5f1c';
const PROJECT_PORT = 6400;
const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

interface Doc {
  snapshot?: string;
  status?: string;
  services: Array<{ service: string; status: string; strategy?: string; fingerprint?: { equal: boolean; compared: number }; notes?: string[]; error?: { message: string; hint?: string } }>;
}

describe.runIf(process.getuid?.() === 0)('qdrant inside its container, no published port: through a sidecar', () => {
  const lab = new DockerLab();
  let project: string;
  let source: string;
  let fresh: string;
  let podProject: string;
  let podQdrant: string;
  let keyProject: string;
  let keyed: string;
  let repo: string;
  let env: Record<string, string>;
  let snapshot: string;
  const sidecars: LazySidecar[] = [];

  /** The URL of a tunnel of the test's own to the fake in `container` (a sidecar of the test, closed at the end). */
  async function urlOf(container: string): Promise<string> {
    const id = await docker(['inspect', '-f', '{{.Id}}', container]);
    const port = Number((await docker(['exec', container, 'printenv', 'QDRANT__SERVICE__HTTP_PORT']).catch(() => '')) || 6333);
    const sidecar = new LazySidecar(connectDocker(), { id, name: container }, { service: 'test', image: IMAGES.busybox });
    sidecars.push(sidecar);
    const tunnel = await sidecar.reach('127.0.0.1', port);
    return `http://${tunnel.host}:${tunnel.port}`;
  }
  const clientOf = async (container: string, apiKey?: string): Promise<QdrantClient> => new Client({ url: await urlOf(container), ...(apiKey ? { apiKey } : {}), checkCompatibility: false });

  beforeAll(async () => {
    await lab.init();
    ensureQdrantImage();
    const code = await compileFakeQdrant(await lab.dir('fake'));
    project = lab.name('stack');
    repo = join(await lab.dir('repo'), 'repo');
    env = lab.env({ HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox, HOLDFAST_REPO: repo });
    [source, fresh] = await Promise.all([
      qdrantContainer(lab, 'vectors', code, { project, env: [`QDRANT__SERVICE__API_KEY=${KEY}`, `QDRANT__SERVICE__HTTP_PORT=${PROJECT_PORT}`], volume: await lab.volume('storage') }),
      qdrantContainer(lab, 'fresh', code),
    ]);
    // Pod-style: Qdrant in the network namespace of another container, its place pinned by a label.
    podProject = lab.name('pod');
    const pod = await lab.run('pod', [IMAGES.busybox, 'sleep', '600']);
    podQdrant = await qdrantContainer(lab, 'podq', code, { project: podProject, network: `container:${pod}`, labels: ['holdfast.place=container'] });
    await seedQdrant(await urlOf(podQdrant));
    // The key in a file inside the container that a label names (a compose secret, /run/secrets/...).
    keyProject = lab.name('keyed');
    keyed = await qdrantContainer(lab, 'keyed', code, { project: keyProject, env: [`QDRANT__SERVICE__API_KEY=${KEY}`], labels: ['holdfast.secret-file=/tmp/qdrant-key'] });
    await seedQdrant(await urlOf(keyed), KEY);
    await seedQdrant(await urlOf(source), KEY);
  }, 120_000);

  afterAll(async () => {
    for (const s of sidecars) await s.close();
    await lab.cleanup();
  });

  test('plan --docker --project: the snapshot strategy, in a sidecar because the port is not published; no sidecar left', async () => {
    const plan = await holdfast(['plan', '--project', project, '--json'], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    const item = plan.json<{ services: Array<{ service: string; engine: string; strategy: string; place: { kind: string; where: string; reason: string } }> }>().services[0]!;
    expect(item).toMatchObject({ service: 'vectors', engine: 'qdrant', strategy: 'snapshot', place: { kind: 'sidecar', where: `in a sidecar joined to container ${source}`, reason: `port ${PROJECT_PORT} is not published` } });
    const text = await holdfast(['plan', '--project', project], env);
    // One short line per service: the place and its reason, once.
    const line = text.stdout.split('\n').find((l) => l.startsWith('vectors'))!;
    expect(line).toContain(`in a sidecar joined to container ${source}: port ${PROJECT_PORT} is not published`);
    expect(line.split('not published').length).toBe(2);
    expect(await lab.helpers()).toEqual([]);
  }, 60_000);

  test('backup with a restore test: every collection through the tunnel, the place recorded, the key nowhere', async () => {
    const backup = await holdfast(['backup', '--project', project, '--json', '--verify', '--fingerprint', 'full'], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<Doc>();
    expect(doc.services[0]).toMatchObject({ service: 'vectors', status: 'ok', strategy: 'snapshot' });
    snapshot = doc.snapshot!;
    const show = await holdfast(['show', snapshot, '--json'], env);
    const details = show.json<{ services: { vectors: { details: { place: unknown; collections: Array<{ name: string }> } } } }>().services.vectors.details;
    expect(details.place).toEqual({ kind: 'sidecar', where: `in a sidecar joined to container ${source}`, reason: `port ${PROJECT_PORT} is not published` });
    expect(details.collections.map((c) => c.name).sort()).toEqual(['docs', 'images']);
    const shown = await holdfast(['show', snapshot], env);
    expect(shown.stdout).toContain(`place: in a sidecar joined to container ${source}: port ${PROJECT_PORT} is not published`);
    expect(shown.stdout).toMatch(/restore test: passed/);
    const manifest = await readFile(join(repo, 'snapshots', snapshot, 'manifest.json'), 'utf8');
    for (const text of [backup.stdout, backup.stderr, show.stdout, shown.stdout, manifest]) expect(text).not.toContain(KEY);
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  }, 120_000);

  test('restore into a fresh container (no key, no port published): equal fingerprints', async () => {
    const mutated = await clientOf(source, KEY);
    await mutateQdrant(mutated);
    const restore = await holdfast(['restore', snapshot, '--json', '--target', `vectors=container:${fresh}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<Doc>().services[0]!.fingerprint).toMatchObject({ equal: true });
    expect(await docsCount(await clientOf(fresh))).toBe(120);
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('pinned by the label holdfast.place=container, in a pod-style namespace: the place says so, and the backup runs', async () => {
    const plan = await holdfast(['plan', '--project', podProject, '--json'], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    expect(plan.json<{ services: unknown[] }>().services).toMatchObject([{ service: 'podq', strategy: 'snapshot', place: { kind: 'container', where: `inside container ${podQdrant}`, reason: 'pinned by label holdfast.place=container' } }]);
    const backup = await holdfast(['backup', '--project', podProject, '--json'], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    expect(backup.json<Doc>().services[0]).toMatchObject({ service: 'podq', status: 'ok', strategy: 'snapshot' });
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('the label holdfast.secret-file names the key inside the container: unreadable, a clear error; then the backup uses it', async () => {
    const missing = await holdfast(['plan', '--project', keyProject, '--json'], env);
    expect(missing.code).toBe(1);
    const error = missing.json<{ services: Array<{ error: { message: string; hint: string } }> }>().services[0]!.error;
    expect(error.message).toBe(`the secret named by secret_file /tmp/qdrant-key is not readable inside container ${keyed}`);
    expect(error.hint).toContain('holdfast.secret-file');
    await docker(['exec', keyed, 'sh', '-c', `printf %s ${KEY} > /tmp/qdrant-key`]);
    const backup = await holdfast(['backup', '--project', keyProject, '--json'], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    expect(backup.stdout + backup.stderr).not.toContain(KEY);
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('kill -9 mid-backup leaves a sidecar; the next command removes it and says so', async () => {
    const child = spawn(process.execPath, [BIN, 'backup', '--project', project, '--json'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    await waitFor('a sidecar of the backup', async () => ((await lab.helpers()).length > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const left = await lab.helpers();
    expect(left).toHaveLength(1);
    const next = await holdfast(['backup', '--project', project, '--json'], env);
    expect(next.code, next.stderr + next.stdout).toBe(0);
    const notes = next.json<Doc>().services[0]!.notes ?? [];
    expect(notes.join('\n')).toMatch(new RegExp(`removed the helper container .* left by holdfast pid ${child.pid} \\(that run died\\)`));
    expect(await lab.helpers()).toEqual([]);
  }, 120_000);

  test('a sidecar image missing from the daemon: a hint, not a stack trace, and nothing stored', async () => {
    const missing = 'holdfast-test/no-such-sidecar:1';
    const res = await holdfast(['backup', '--service', `dst=container:${fresh}`], { ...env, HOLDFAST_SIDECAR_IMAGE: missing });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`the sidecar image ${missing} is not on the Docker daemon`);
    expect(res.stderr).toMatch(/hint: .*docker pull holdfast-test\/no-such-sidecar:1/);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(await lab.helpers()).toEqual([]);
  }, 60_000);
});
