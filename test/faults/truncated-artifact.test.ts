/**
 * Fault suite: a zstd artifact cut short, with a manifest whose sha256 and
 * size agree with the cut bytes (the checksum was taken of what was there).
 * `verify` and `check --read-data` decompress every artifact, so they catch
 * it before a restore needs it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { DirRepository } from '../../src/repository/dir-repository.js';
import type { Manifest } from '../../src/repository/manifest.js';
import { holdfast } from '../support/cli.js';
import { cleanupTemp, manifest, serviceRecord, tempDir } from '../unit/helpers/temp-repo.js';

afterAll(cleanupTemp);

describe('a truncated zstd artifact whose checksum matches the manifest', () => {
  test('verify and check --read-data fail naming it; a whole one passes', async () => {
    const dir = await tempDir('holdfast-faults-zstd-');
    const root = join(dir, 'repo');
    const repo = new DirRepository(root);
    await repo.init();
    const writer = await repo.beginSnapshot('backup');
    // Half random (so the stream is long), half text.
    const data = Buffer.concat([randomBytes(200_000), Buffer.from('row\n'.repeat(50_000))]);
    const record = await writer.sink('db').write('app.pgdump', Readable.from([data]), { kind: 'pg_dump', label: 'app' });
    const whole = await writer.sink('db').write('globals.sql', Readable.from([Buffer.from('CREATE ROLE app;\n')]), { kind: 'globals' });
    await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: [record, whole] }) } }));
    const id = writer.id;

    const healthy = await holdfast(['--repo', root, 'check', '--read-data'], {}, { cwd: dir });
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);

    // Cut the stream at two thirds and make the manifest agree with what is left.
    const file = join(root, 'snapshots', id, 'db', 'app.pgdump');
    const cut = (await readFile(file)).subarray(0, Math.floor(record.storedBytes * (2 / 3)));
    await writeFile(file, cut);
    const manifestFile = join(root, 'snapshots', id, 'manifest.json');
    const m = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
    Object.assign(m.services.db!.artifacts[0]!, { sha256: createHash('sha256').update(cut).digest('hex'), storedBytes: cut.length });
    await writeFile(manifestFile, JSON.stringify(m));

    let caught = 0;
    const verify = await holdfast(['--repo', root, 'verify', id, '--json'], {}, { cwd: dir });
    expect(verify.code, verify.stdout + verify.stderr).not.toBe(0);
    const artifacts = verify.json<{ status: string; artifacts: Array<{ artifact: string; ok: boolean; error?: string }> }>();
    expect(artifacts.status).toBe('corrupt');
    expect(artifacts.artifacts.find((a) => a.artifact === 'app.pgdump')).toMatchObject({ ok: false, error: expect.stringContaining(`artifact ${id}/db/app.pgdump is corrupt`) });
    expect(artifacts.artifacts.find((a) => a.artifact === 'globals.sql')).toMatchObject({ ok: true });
    caught++;

    const check = await holdfast(['--repo', root, 'check', '--read-data', '--json'], {}, { cwd: dir });
    expect(check.code, check.stdout + check.stderr).toBe(1);
    const problems = check.json<{ problems: Array<{ snapshot: string; artifact?: string; problem: string }> }>().problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ snapshot: id, artifact: 'app.pgdump', problem: expect.stringMatching(/corrupt/) });
    caught++;
    console.log(`truncated zstd artifact: caught by ${caught} of 2 commands (verify, check --read-data)`);
  });
});
