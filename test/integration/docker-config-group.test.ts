import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { containerState, docker, DockerLab, IMAGES } from '../support/docker.js';

interface Manifest {
  services: Record<string, { details: { held: Array<{ container: string; action: string }> } }>;
}

describe('Docker settings in holdfast.yml, and holdfast.group', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}g`;
  let repo: string;
  let dir: string;
  let writer: string;
  let partner: string;
  let bystander: string;

  beforeAll(async () => {
    await lab.init();
    dir = await lab.dir('conf');
    repo = join(dir, 'repo');
    const [data, queue, other] = await Promise.all(['data', 'queue', 'other'].map((v) => lab.volume(v)));
    // The writer of `data` and a partner with a volume of its own share holdfast.group=ingest:
    // holding the writer must hold the partner too. The bystander shares nothing.
    [writer, partner, bystander] = await Promise.all([
      lab.run('writer', ['--init', '--label', 'holdfast.group=ingest', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'while true; do date >> /data/log; sleep 0.1; done'], { project, service: 'writer' }),
      lab.run('partner', ['--init', '--label', 'holdfast.group=ingest', '-v', `${queue}:/queue`, IMAGES.busybox, 'sleep', '600'], { project, service: 'partner' }),
      lab.run('bystander', ['--init', '-v', `${other}:/other`, IMAGES.busybox, 'sleep', '600'], { project, service: 'bystander' }),
    ]);
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('docker: { host, project } in holdfast.yml discovers the stack without --docker, --project or DOCKER_HOST', async () => {
    const host = lab.env().DOCKER_HOST;
    const config = join(dir, 'holdfast.yml');
    await writeFile(config, `repo: ${repo}\ndocker:\n  host: ${host}\n  project: ${project}\n`);
    const res = await holdfast(['--config', config, 'discover', '--json'], { ...lab.env(), DOCKER_HOST: '' });
    expect(res.code, res.stderr).toBe(0);
    const names = res.json<{ services: Array<{ service: string }> }>().services.map((s) => s.service).sort();
    expect(names).toEqual(['bystander', 'partner', 'writer']);
    // --docker=false wins over the file.
    const off = await holdfast(['--config', config, 'discover', '--json', '--docker=false'], { ...lab.env(), DOCKER_HOST: '' });
    expect(off.code, off.stderr).toBe(0);
    expect(off.json<{ services: unknown[] }>().services).toEqual([]);
  });

  test('a docker section with an unknown key is a configuration error (exit 2) that names it', async () => {
    const config = join(dir, 'bad.yml');
    await writeFile(config, 'docker:\n  hots: unix:///nowhere.sock\n');
    const res = await holdfast(['--config', config, 'discover'], lab.env());
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('docker has unknown settings hots');
    expect(res.stderr).toMatch(/hint: known: host, project, discover/);
  });

  test('backing up the writer stops its group partner too, and starts both again; the bystander is not touched', async () => {
    const started = async (c: string) => docker(['inspect', '-f', '{{.State.StartedAt}}', c]);
    const [partnerBefore, bystanderBefore] = await Promise.all([started(partner), started(bystander)]);
    const res = await holdfast(['--repo', repo, 'backup', 'writer', '--project', project, '--json'], lab.env());
    const id = savedSnapshot(res);
    const manifest = JSON.parse(await readFile(join(repo, 'snapshots', id, 'manifest.json'), 'utf8')) as Manifest;
    const held = manifest.services.writer!.details.held.map((h) => `${h.container}:${h.action}`).sort();
    expect(held).toEqual([`${partner}:stop`, `${writer}:stop`].sort());
    for (const c of [writer, partner, bystander]) expect(await containerState(c)).toBe('running');
    expect(await started(partner)).not.toBe(partnerBefore);
    expect(await started(bystander)).toBe(bystanderBefore);
    expect(await lab.held()).toEqual([]);
  });
});
