/**
 * Fault suite, on Docker: volume restores from a repository that is
 * untrusted input. Crafted archives (each one extracted by GNU tar into
 * something the old check refused) are refused with an integrity error and
 * the target never created; device nodes come back only as recorded and
 * with --allow-devices; a host path only the manifest names is not written
 * without --force.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab } from '../support/docker.js';
import { CRAFTED_TARS } from './crafted-tars.js';

interface VolumeRecord {
  artifact: string;
  type: string;
  source: string;
  devices?: string[];
  outsideLinks?: Record<string, string>;
}
interface Manifest {
  services: Record<string, { artifacts: Array<{ name: string; sha256: string; storedBytes: number; rawBytes: number }>; details: { volumes: VolumeRecord[] }; fingerprint?: { items: Record<string, unknown> } }>;
}

/** The tricks GNU tar really falls for (the others are refused as a precaution): each put an escape or a device into a volume. */
const EXPLOITS = ['a hard link to an inner symlink', 'an unknown entry type', 'a GNU dumpdir entry', 'a file named like a directory'];

describe('volume restores from an untrusted repository', () => {
  const lab = new DockerLab();
  let repo: string;
  let snapshot: string;
  const counts = { crafted: 0, refused: 0 };

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    const source = await lab.volume('source');
    await lab.inVolume(source, 'echo original > /v/readme');
    snapshot = savedSnapshot(await holdfast(['--repo', repo, 'backup', '--service', `v=volume:${source}`, '--json'], lab.env()));
  });

  afterAll(async () => {
    console.log(`crafted volume archives: ${counts.refused} of ${counts.crafted} restores refused, no target created`);
    await lab.cleanup();
  });

  /** Runs `body` with the snapshot's manifest (and artifact) changed, then puts both back. */
  async function withCrafted(change: (m: Manifest, artifactPath: string) => Promise<void>, body: () => Promise<void>): Promise<void> {
    const manifestPath = join(repo, 'snapshots', snapshot, 'manifest.json');
    const original = await readFile(manifestPath, 'utf8');
    const manifest = JSON.parse(original) as Manifest;
    const artifactPath = join(repo, 'snapshots', snapshot, 'v', manifest.services.v!.artifacts[0]!.name);
    const saved = await readFile(artifactPath);
    try {
      await change(manifest, artifactPath);
      await writeFile(manifestPath, JSON.stringify(manifest));
      await body();
    } finally {
      await writeFile(artifactPath, saved);
      await writeFile(manifestPath, original);
    }
  }

  test.each(CRAFTED_TARS.filter((c) => EXPLOITS.includes(c.what)).map((c) => [c.what, c] as const))('an archive with %s is refused; the target is never created', async (_what, crafted) => {
    counts.crafted++;
    await withCrafted(
      async (manifest, artifactPath) => {
        // Checksums right, archive hostile: only the tar check stands between it and tar.
        const stored = execFileSync('zstd', ['-q', '-c'], { input: crafted.archive });
        await writeFile(artifactPath, stored);
        Object.assign(manifest.services.v!.artifacts[0]!, { sha256: createHash('sha256').update(stored).digest('hex'), storedBytes: stored.length, rawBytes: crafted.archive.length });
      },
      async () => {
        const target = lab.name(`crafted${counts.crafted}`);
        const res = await holdfast(['--repo', repo, 'restore', snapshot, '--target', `v=volume:${target}`, '--force'], lab.env());
        const created = await docker(['volume', 'ls', '-q', '--filter', `name=${target}`]);
        const listing = created ? await lab.inVolume(target, 'ls -la /v') : '';
        expect(created, `restore exited ${res.code} and the volume holds:\n${listing}\n${res.stdout}`).toBe('');
        expect(res.code).toBe(1);
        expect(res.stderr).toContain('nothing was extracted');
        expect(res.stderr).toMatch(crafted.reason);
        counts.refused++;
      },
    );
  });

  test('device nodes come back only as recorded and with --allow-devices; a recorded outward symlink comes back', async () => {
    const devs = await lab.volume('devs');
    await lab.inVolume(devs, 'echo data > /v/f && mknod /v/null c 1 3 && ln -s /etc/localtime /v/tz');
    const id = savedSnapshot(await holdfast(['--repo', repo, 'backup', '--service', `d=volume:${devs}`, '--json'], lab.env()));
    const manifest = JSON.parse(await readFile(join(repo, 'snapshots', id, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.services.d!.details.volumes[0]).toMatchObject({ devices: ['null'], outsideLinks: { tz: '/etc/localtime' } });

    const refusedTarget = lab.name('devs-refused');
    const refused = await holdfast(['--repo', repo, 'restore', id, '--target', `d=volume:${refusedTarget}`], lab.env());
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain('null: a device node');
    expect(refused.stderr).toContain('--allow-devices');
    expect(await docker(['volume', 'ls', '-q', '--filter', `name=${refusedTarget}`])).toBe('');

    const target = lab.name('devs-allowed');
    const allowed = await holdfast(['--repo', repo, 'restore', id, '--target', `d=volume:${target}`, '--allow-devices', '--json'], lab.env());
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    expect(await lab.inVolume(target, 'stat -c %F:%t,%T /v/null; readlink /v/tz; cat /v/f')).toBe('character special file:1,3\n/etc/localtime\ndata');
  });

  test('in place, a host path that only the manifest names is not created or written without --force', async () => {
    const outside = join(await lab.dir('host'), 'not', 'named');
    await withCrafted(
      async (manifest) => {
        const volume = manifest.services.v!.details.volumes[0]!;
        // The fingerprint goes with the mount it names.
        const items = manifest.services.v!.fingerprint!.items;
        items[outside] = items[volume.source]!;
        delete items[volume.source];
        Object.assign(volume, { type: 'bind', source: outside });
      },
      async () => {
        counts.crafted++;
        const res = await holdfast(['--repo', repo, 'restore', snapshot], lab.env());
        expect(res.code, res.stdout + res.stderr).toBe(1);
        expect(res.stderr).toContain(`into the host path ${outside}, which the current configuration does not name`);
        expect(res.stderr).toContain('--force');
        await expect(stat(join(outside, '..'))).rejects.toThrow(/ENOENT/);
        counts.refused++;

        const forced = await holdfast(['--repo', repo, 'restore', snapshot, '--force', '--json'], lab.env());
        expect(forced.code, forced.stdout + forced.stderr).toBe(0);
        expect(JSON.stringify(forced.json())).toContain(`restoring into the host path ${outside}, named by the snapshot only (--force)`);
        expect(await readdir(outside)).toEqual(['readme']);
      },
    );
  });
});
