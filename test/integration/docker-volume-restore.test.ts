import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { tarOf, type TarEntry } from '../support/tar-build.js';

interface Manifest {
  services: Record<string, { artifacts: Array<{ name: string; sha256: string; storedBytes: number; rawBytes: number }> }>;
}

describe('volume restores: targets, --force, archives that try to escape', () => {
  const lab = new DockerLab();
  let repo: string;
  let snapshot: string;
  let source: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    source = await lab.volume('source');
    await lab.inVolume(source, 'mkdir -p /v/docs && echo original > /v/docs/readme && ln -s ../docs/readme /v/docs/link-up');
    const res = await holdfast(['--repo', repo, 'backup', '--service', `v=volume:${source}`, '--json'], lab.env());
    snapshot = savedSnapshot(res);
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('into a new volume; a non-empty one is refused without --force and replaced with it', async () => {
    const target = lab.name('target');
    const first = await holdfast(['--repo', repo, 'restore', snapshot, '--target', `v=volume:${target}`, '--json'], lab.env());
    expect(first.code, first.stderr).toBe(0);
    expect(first.json<{ services: Array<{ location: string; fingerprint: { equal: boolean } }> }>().services[0]).toMatchObject({ location: `volume:${target}`, fingerprint: { equal: true } });
    expect(await lab.inVolume(target, 'cat /v/docs/link-up')).toBe('original');
    expect(await docker(['volume', 'inspect', '-f', '{{ index .Labels "holdfast.restored-from" }}', target])).toBe(source);

    await lab.inVolume(target, 'echo stray > /v/stray');
    const refused = await holdfast(['--repo', repo, 'restore', snapshot, '--target', `v=volume:${target}`], lab.env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`volume ${target} is not empty`);
    expect(refused.stderr).toContain('--force');
    expect(await lab.inVolume(target, 'cat /v/stray')).toBe('stray');

    const forced = await holdfast(['--repo', repo, 'restore', snapshot, '--target', `v=volume:${target}`, '--force'], lab.env());
    expect(forced.code, forced.stderr).toBe(0);
    expect(await lab.inVolume(target, 'ls -A /v')).toBe('docs');
  });

  test('in place: the containers that use the volume are stopped for the restore and started again', async () => {
    const user = await lab.run('user', ['--init', '-v', `${source}:/data`, IMAGES.busybox, 'sleep', '600']);
    await lab.inVolume(source, 'echo damaged > /v/docs/readme && echo new > /v/extra');
    const startedBefore = await docker(['inspect', '-f', '{{.State.StartedAt}}', user]);
    const refused = await holdfast(['--repo', repo, 'restore', snapshot], lab.env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`volume ${source} is not empty`);
    const res = await holdfast(['--repo', repo, 'restore', snapshot, '--force', '--json'], lab.env());
    expect(res.code, res.stderr).toBe(0);
    const out = res.json<{ services: Array<{ location: string; fingerprint: { equal: boolean } }> }>().services[0]!;
    expect(out).toMatchObject({ location: `volume:${source}`, fingerprint: { equal: true } });
    expect(await docker(['exec', user, 'cat', '/data/docs/readme'])).toBe('original');
    expect(await docker(['exec', user, 'ls', '-A', '/data'])).toBe('docs');
    // It was stopped meanwhile (its start time moved), and runs again.
    expect(await docker(['inspect', '-f', '{{.State.Status}}', user])).toBe('running');
    expect(await docker(['inspect', '-f', '{{.State.StartedAt}}', user])).not.toBe(startedBefore);
    // The refused attempt left it alone.
    expect(refused.stderr).not.toContain('resumed');
    expect(await lab.held()).toEqual([]);
  });

  test.each<[string, TarEntry[], string]>([
    ['a ".." entry', [{ name: 'ok', type: 'file', data: 'fine' }, { name: '../escaped', type: 'file', data: 'evil' }], '../escaped: a path with ".."'],
    ['an absolute symlink', [{ name: 'etc-link', type: 'symlink', link: '/etc' }, { name: 'etc-link/evil', type: 'file', data: 'evil' }], 'etc-link: a symlink to the absolute path /etc'],
    ['a symlink chain out', [{ name: 'here', type: 'symlink', link: '.' }, { name: 'out', type: 'symlink', link: 'here/..' }], 'out: a symlink to here/.., outside the target'],
    ['an absolute path', [{ name: '/tmp/holdfast-evil', type: 'file', data: 'evil' }], '/tmp/holdfast-evil: an absolute path'],
  ])('an archive with %s is refused before anything is extracted', async (_what, entries, reason) => {
    const manifestPath = join(repo, 'snapshots', snapshot, 'manifest.json');
    const original = await readFile(manifestPath, 'utf8');
    const manifest = JSON.parse(original) as Manifest;
    const artifact = manifest.services.v!.artifacts[0]!;
    const artifactPath = join(repo, 'snapshots', snapshot, 'v', artifact.name);
    const saved = await readFile(artifactPath);
    const raw = tarOf(entries);
    const stored = execFileSync('zstd', ['-q', '-c'], { input: raw });
    try {
      // A snapshot whose checksums are right but whose archive is hostile: only the tar check stops it.
      await writeFile(artifactPath, stored);
      Object.assign(artifact, { sha256: createHash('sha256').update(stored).digest('hex'), storedBytes: stored.length, rawBytes: raw.length });
      await writeFile(manifestPath, JSON.stringify(manifest));
      const target = lab.name(`evil${entries.length}${reason.length}`);
      const res = await holdfast(['--repo', repo, 'restore', snapshot, '--target', `v=volume:${target}`], lab.env());
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('entries that would land outside the target');
      expect(res.stderr).toContain(reason);
      expect(res.stderr).toContain('nothing was extracted');
      // Refused before the target was even created.
      expect(await docker(['volume', 'ls', '-q', '--filter', `name=${target}`])).toBe('');
    } finally {
      await writeFile(artifactPath, saved);
      await writeFile(manifestPath, original);
    }
  });
});
