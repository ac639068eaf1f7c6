import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Snapshot directories as they are on disk (committed ones only). */
export async function committedSnapshots(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'snapshots')).catch(() => [] as string[])).sort();
}

/** Everything left in the staging area: should be empty after any run. */
export async function stagingLeftovers(repo: string): Promise<string[]> {
  return readdir(join(repo, 'tmp')).catch(() => [] as string[]);
}

/** Flips one bit in the middle of a file. */
export async function flipByte(path: string): Promise<void> {
  const data = await readFile(path);
  const at = Math.floor(data.length / 2);
  data[at] = data[at]! ^ 0x01;
  await writeFile(path, data);
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
