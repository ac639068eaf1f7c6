import { randomBytes } from 'node:crypto';
import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScratchContext } from './driver.js';
import { HoldfastError } from './errors.js';
import { leftoverJournal } from './leftover-journal.js';
import { runTool } from './process.js';

export interface SystemUser {
  uid: number;
  gid: number;
}

/** Where a throwaway server of a restore test keeps its data: `<base>/data`, its socket and log in `<base>`. */
export interface ScratchDataDir {
  base: string;
  data: string;
  /** The system user the server runs as when holdfast runs as root (servers refuse root); absent otherwise. */
  owner?: SystemUser;
  /** Removes the directory (stop the server first) and crosses it out of the leftover journal. */
  release(): Promise<void>;
}

/** Pid files a throwaway server writes, relative to `base`: the sweep of a dead run's directory stops what they name (leftover-sweep.ts). */
export const SCRATCH_SERVER_PID_FILES = ['data/postmaster.pid', 'mysqld.pid'];

/**
 * Creates the private directory of a throwaway server under HOLDFAST_TMPDIR
 * (or the system's temp dir), named with the run's scratch prefix. As root it
 * belongs to the engine's system user, and whether that user can reach it is
 * checked now: a parent it cannot traverse would otherwise fail only when the
 * server starts, after the whole restore.
 */
export async function scratchDataDir(ctx: ScratchContext, server: { user: string; driver: string; mode: number }): Promise<ScratchDataDir> {
  const owner = await systemUser(server.user, server.driver);
  // In the leftover journal before it exists: a run killed while its throwaway server runs leaves the next command to stop it and remove this.
  const base = join(process.env.HOLDFAST_TMPDIR ?? tmpdir(), `${ctx.prefix}${randomBytes(4).toString('hex')}`);
  const entry = await leftoverJournal().add({ kind: 'path', name: base, data: { pidFiles: SCRATCH_SERVER_PID_FILES.join(',') } });
  const release = async () => {
    await rm(base, { recursive: true, force: true });
    await leftoverJournal().remove(entry);
  };
  const data = join(base, 'data');
  try {
    await mkdir(base, { mode: 0o700 });
    await mkdir(data, { mode: server.mode });
    if (owner) {
      await chown(base, owner.uid, owner.gid);
      await chown(data, owner.uid, owner.gid);
      const reach = await runTool('runuser', ['-u', server.user, '--', 'test', '-w', data], { stdout: 'ignore' }).done;
      if (reach.code !== 0) {
        throw new HoldfastError('config', `the ${server.user} system user cannot reach ${data}, where the throwaway server must run`, {
          service: ctx.source.name,
          driver: server.driver,
          hint: 'set HOLDFAST_TMPDIR to a directory whose parents every user may traverse (e.g. /var/tmp)',
        });
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { base, data, ...(owner ? { owner } : {}), release };
}

/** As root: the uid and gid of the engine's system user, which must exist; otherwise undefined. */
async function systemUser(name: string, driver: string): Promise<SystemUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const f = passwd.split('\n').find((l) => l.startsWith(`${name}:`))?.split(':');
  if (!f?.[2] || !f[3]) {
    throw new HoldfastError('tool', `a throwaway server cannot run as root, and there is no ${name} system user to run it as`, {
      driver,
      hint: `create a ${name} system user, or run holdfast as a non-root user`,
    });
  }
  return { uid: Number(f[2]), gid: Number(f[3]) };
}
