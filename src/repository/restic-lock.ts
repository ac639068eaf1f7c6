import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** A restic lock as restic describes it when it refuses to run. */
export interface ResticLock {
  exclusive: boolean;
  pid: number;
  host: string;
  user: string;
  createdAt: string;
  ageSeconds: number;
  storageId?: string;
  /** By restic's own rule: its process is gone from this host, or it was not refreshed for 30 minutes. */
  stale: boolean;
  staleWhy?: string;
  /** The holder's command line, when it runs on this host. */
  command?: string;
}

/** restic refreshes its locks every 5 minutes and calls one older than 30 stale. */
const STALE_AFTER_S = 30 * 60;

/**
 * Reads restic's "repository is already locked (exclusively) by PID N on
 * HOST by USER (UID .., GID ..)\nlock was created at T (AGE ago)\nstorage ID X".
 */
export function parseResticLock(stderr: string): ResticLock | undefined {
  const head = /already locked (exclusively )?by PID (\d+) on (\S+) by (.+?) \(UID/.exec(stderr);
  if (!head) return undefined;
  const created = /lock was created at (.+?) \((.+?) ago\)/.exec(stderr);
  const storage = /storage ID ([0-9a-f]+)/.exec(stderr);
  const pid = Number(head[2]);
  const host = head[3]!;
  const ageSeconds = created ? goDurationSeconds(created[2]!) : 0;
  const lock: ResticLock = {
    exclusive: !!head[1],
    pid,
    host,
    user: head[4]!,
    createdAt: created?.[1] ?? 'an unknown time',
    ageSeconds,
    stale: false,
    ...(storage ? { storageId: storage[1] } : {}),
  };
  if (ageSeconds > STALE_AFTER_S) {
    lock.stale = true;
    lock.staleWhy = `not refreshed for ${Math.round(ageSeconds / 60)} minutes`;
  } else if (host === hostname()) {
    const command = commandLine(pid);
    if (command === undefined) {
      lock.stale = true;
      lock.staleWhy = 'its process is gone';
    } else lock.command = command;
  }
  return lock;
}

/** The error text for a live lock: who holds it and what to do. */
export function describeResticLock(lock: ResticLock, repository: string): { message: string; hint: string } {
  const what = lock.command ? ` (${lock.command})` : '';
  const message = `the restic repository ${repository} is locked${lock.exclusive ? ' exclusively' : ''} by PID ${lock.pid}${what} on ${lock.host} as ${lock.user}, since ${lock.createdAt}`;
  if (lock.stale) {
    return { message, hint: `that lock is stale (${lock.staleWhy}): remove it with \`restic unlock\` (it removes only stale locks), then run holdfast again` };
  }
  const elsewhere = lock.host === hostname() ? '' : ` If that process is gone from ${lock.host}, \`restic unlock\` removes its lock once it is 30 minutes old.`;
  return {
    message,
    hint: `wait until that ${lock.exclusive ? 'restic command (prune, check, forget...)' : 'restic backup'} ends, then run holdfast again.${elsewhere} Do not use \`restic unlock --remove-all\` while it runs.`,
  };
}

/** Go's time.Duration text: `2.1s`, `1m2.5s`, `3h0m1s`, `150ms`. */
export function goDurationSeconds(text: string): number {
  let seconds = 0;
  for (const [, value, unit] of text.matchAll(/([\d.]+)(h|ms|µs|us|ns|m|s)/g)) {
    const n = Number(value);
    seconds += unit === 'h' ? n * 3600 : unit === 'm' ? n * 60 : unit === 's' ? n : unit === 'ms' ? n / 1000 : 0;
  }
  return seconds;
}

function commandLine(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    // A repository URL in argv may carry credentials: never print them.
    return argv.replace(/:\/\/[^/@\s]*@/g, '://***@').slice(0, 120) || 'unknown command';
  } catch {
    return 'unknown command';
  }
}
