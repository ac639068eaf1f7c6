import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { decompressIntoCommand, decompressToFile } from '../../src/repository/command-restore.js';
import { cleanupTemp, tempDir } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

/** Artifacts stored uncompressed (compression 'none', e.g. imported from a restic repository) restore as they are. */
describe("dir repository read paths for compression 'none'", () => {
  test('into a command and into a file, byte for byte', async () => {
    const dir = await tempDir();
    const stored = join(dir, 'plain.dump');
    const data = Buffer.from('x'.repeat(3 << 20) + 'end\n');
    await writeFile(stored, data);
    const out = join(dir, 'copied');
    const exit = await decompressIntoCommand(stored, 'x/y/plain.dump', { command: 'sh', args: ['-c', 'cat > "$0"', out] }, undefined, undefined, 'none');
    expect(exit.code).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
    const file = join(dir, 'extracted');
    await decompressToFile(stored, 'x/y/plain.dump', file, undefined, undefined, 'none');
    expect((await readFile(file)).equals(data)).toBe(true);
  });

  test('a consumer that fails early reports its own exit, not a broken pipe', async () => {
    const dir = await tempDir();
    const stored = join(dir, 'plain.dump');
    await writeFile(stored, Buffer.alloc(8 << 20, 1));
    const exit = await decompressIntoCommand(stored, 'x/y/plain.dump', { command: 'sh', args: ['-c', 'exit 4'] }, undefined, undefined, 'none');
    expect(exit.code).toBe(4);
  });
});
