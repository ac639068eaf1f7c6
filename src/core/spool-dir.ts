import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftoverJournal } from './leftover-journal.js';

/** A private spool directory and how to remove it. */
export interface SpoolDir {
  path: string;
  /** Removes it and crosses it out of the leftover journal. Idempotent. */
  remove(): Promise<void>;
}

/**
 * A private directory in HOLDFAST_TMPDIR (default: the system's), written to
 * the leftover journal before it exists: a run killed while it spools (a
 * dump for `pg_restore -j`, a captured oplog) leaves nothing that the next
 * command does not remove. `prefix` starts with "holdfast" (e.g.
 * "holdfast-restore-").
 */
export async function spoolDir(prefix: string, base = process.env.HOLDFAST_TMPDIR ?? tmpdir()): Promise<SpoolDir> {
  for (;;) {
    const path = join(base, `${prefix}${randomBytes(4).toString('hex')}`);
    const entry = await leftoverJournal().add({ kind: 'path', name: path });
    try {
      await mkdir(path, { mode: 0o700 });
    } catch (error) {
      await leftoverJournal().remove(entry);
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    let removed = false;
    return {
      path,
      async remove() {
        if (removed) return;
        await rm(path, { recursive: true, force: true });
        removed = true;
        await leftoverJournal().remove(entry);
      },
    };
  }
}
