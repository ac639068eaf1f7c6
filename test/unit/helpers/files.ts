import { readFile, truncate, stat, writeFile } from 'node:fs/promises';

/** Flips one bit of the byte at `at` (default: the middle of the file). */
export async function flipByte(path: string, at?: number): Promise<void> {
  const data = await readFile(path);
  const where = at ?? Math.floor(data.length / 2);
  data[where] = data[where]! ^ 0x01;
  await writeFile(path, data);
}

/** Cuts a file to a fraction of its size. */
export async function truncateTo(path: string, fraction: number): Promise<void> {
  const { size } = await stat(path);
  await truncate(path, Math.floor(size * fraction));
}
