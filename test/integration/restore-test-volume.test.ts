import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, graftArtifacts, verdicts, type VerifyDocument } from '../support/restore-test-support.js';

describe('restore test: docker volume (tar)', () => {
  const lab = new DockerLab();
  let repo: string;
  let source: string;
  let svc: string;

  /** Every path with its type, owner, mode and content hash, and the lab's volumes: what "untouched" means. */
  const listing = () => lab.inVolume(source, 'cd /v && find . | sort | while read f; do stat -c "%n %F %u:%g %a %s" "$f"; [ -f "$f" ] && md5sum "$f"; done; true');
  // This lab's volumes only: other test files share the daemon.
  const volumes = async () => (await docker(['volume', 'ls', '-q', '--filter', `name=${lab.prefix}`])).split('\n').filter(Boolean).sort();
  const scratchVolumes = async () => (await docker(['volume', 'ls', '-q', '--filter', 'label=holdfast.scratch', '--filter', `label=holdfast.service=${svc}`])).split('\n').filter(Boolean);

  async function backup(): Promise<string> {
    const result = await holdfast(['--repo', repo, 'backup', '--json', '--service', `${svc}=volume:${source}`], lab.env());
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    await lab.init();
    svc = lab.prefix;
    repo = join(await lab.dir('repo'), 'repo');
    source = await lab.volume('source');
    await lab.inVolume(source, 'mkdir -p /v/docs /v/data && echo original > /v/docs/readme && ln -s ../docs/readme /v/docs/link && head -c 300000 /dev/urandom > /v/data/blob && chown -R 1234:2345 /v/data && chmod 640 /v/data/blob');
  });
  afterAll(async () => {
    // A safety net only: the tests assert that holdfast removed its scratch volumes itself.
    for (const v of svc ? await scratchVolumes().catch(() => []) : []) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
    await lab.cleanup();
  });

  test('a good snapshot passes in a scratch volume; the source volume and the container using it are untouched', async () => {
    const user = await lab.run('user', ['--init', '-v', `${source}:/data`, IMAGES.busybox, 'sleep', '600']);
    const startedAt = await docker(['inspect', '-f', '{{.State.StartedAt}}', user]);
    const id = await backup();
    const before = { files: await listing(), volumes: await volumes() };
    const startedAfterBackup = await docker(['inspect', '-f', '{{.State.StartedAt}}', user]);
    const result = await holdfast(['--repo', repo, 'verify', id, '--restore-test', '--json'], lab.env());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const doc = result.json<VerifyDocument>();
    expect(doc.restoreTest.passed).toBe(true);
    expect(verdicts(result)[svc]!.verdict).toBe('ok');
    expect(doc.restoreTest.services[0]!.scratch).toMatch(/^volume:holdfast_scratch_[0-9a-f]{6}_0_/);
    expect({ files: await listing(), volumes: await volumes() }).toEqual(before);
    expect(await scratchVolumes()).toEqual([]);
    // The backup stopped the writer (tar quiesces); the restore test did not touch it again.
    expect(startedAfterBackup).not.toBe(startedAt);
    expect(await docker(['inspect', '-f', '{{.State.StartedAt}}', user])).toBe(startedAfterBackup);
    expect(await lab.held()).toEqual([]);
    await docker(['rm', '-f', user]);
  });

  test('a scratch volume of a restore test that died is reported by discover and removed by the next one', async () => {
    const id = await backup();
    // What a holdfast killed with -9 leaves: a labelled scratch volume whose pid is gone.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const left = `holdfast_scratch_dead00_0_${lab.prefix}`;
    await docker(['volume', 'create', '--label', 'holdfast.scratch=dead00', '--label', `holdfast.service=${svc}`, '--label', `holdfast.pid=${dead}`, '--label', `holdfast.hostname=${hostname()}`, left]);
    const discover = await holdfast(['discover', '--docker', '--json'], lab.env());
    expect(discover.json<{ notes: string[] }>().notes).toContain(`leftover scratch volume ${left} of a restore test that died; the next restore test removes it, or: docker volume rm ${left}`);
    const result = await holdfast(['--repo', repo, 'verify', id, '--restore-test', '--json'], lab.env());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(await scratchVolumes()).toEqual([]);
  });

  test('a deleted artifact fails the checksum phase with the service named', async () => {
    const id = await backup();
    const [name] = await artifactNames(repo, id, svc);
    await deleteArtifact(repo, id, svc, name!);
    expectMissingArtifact(await holdfast(['--repo', repo, 'verify', id, '--restore-test', '--json'], lab.env()), svc, name!);
    expect(await scratchVolumes()).toEqual([]);
  });

  test('an archive that holds other files than the recorded fingerprint is a mismatch; the scratch volume is removed', async () => {
    const good = await backup();
    await lab.inVolume(source, 'rm /v/docs/link && echo extra > /v/docs/extra');
    const other = await backup();
    await graftArtifacts(repo, good, other, svc, await artifactNames(repo, good, svc));
    const before = { files: await listing(), volumes: await volumes() };
    const result = await holdfast(['--repo', repo, 'verify', good, '--restore-test', '--json'], lab.env());
    expect(result.code).toBe(1);
    expect(verdicts(result)[svc]!.verdict).toBe('mismatch');
    expect({ files: await listing(), volumes: await volumes() }).toEqual(before);
    expect(await scratchVolumes()).toEqual([]);
  });
});
