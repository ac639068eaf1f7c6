import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Reading the state dir's journals (leftovers, holds): what is there now, and
 * one record as written, or undefined when it is not one of ours. A missing
 * directory is an empty one; a torn or foreign file is skipped, never fatal.
 */
export async function stateFiles(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(keep).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

export async function readStateRecord<T extends { version?: unknown }>(path: string, valid: (data: T) => boolean): Promise<T | undefined> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as T;
    return data && data.version === 1 && valid(data) ? data : undefined;
  } catch {
    return undefined;
  }
}
