import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MyTarget } from './mysql-connection.js';
import { spoolDir } from '../../src/core/spool-dir.js';

/**
 * The MySQL / MariaDB tools take the connection, password included, from an
 * option file that holdfast writes with mode 0600 into a private 0700
 * directory and removes afterwards: never argv (`ps` shows it), and not
 * MYSQL_PWD (deprecated, and visible in /proc/<pid>/environ to the same user).
 *
 * `--defaults-file`, not `--defaults-extra-file`: with the latter a
 * ~/.my.cnf of the user running holdfast is read *after* this file, and a
 * password there would silently replace the service's.
 */
export interface DefaultsFiles {
  /** A new option file for one tool run; each run gets its own path (a tool is found by it in /proc). */
  create(label: string, extra?: Record<string, string>): Promise<string>;
  /** Removes the directory and every file in it. */
  dispose(): Promise<void>;
}

export async function defaultsFiles(t: MyTarget): Promise<DefaultsFiles> {
  // In the leftover journal: a password file must not outlive a killed run.
  const spool = await spoolDir('holdfast-mysql-');
  const dir = spool.path;
  let n = 0;
  return {
    async create(label, extra = {}) {
      const path = join(dir, `${String(++n).padStart(2, '0')}-${label.replace(/[^A-Za-z0-9_-]/g, '_')}.cnf`);
      await writeFile(path, optionFileText(t, extra), { mode: 0o600, flag: 'wx' });
      return path;
    },
    dispose: () => spool.remove(),
  };
}

/** The `[client]` group every MySQL / MariaDB tool reads (mariadb-backup too). */
export function optionFileText(t: MyTarget, extra: Record<string, string> = {}): string {
  const lines = ['[client]', `user=${quoteOption(t.user)}`];
  if (t.password !== undefined) lines.push(`password=${quoteOption(t.password)}`);
  if (t.socket) {
    lines.push(`socket=${quoteOption(t.socket)}`, 'protocol=socket');
  } else {
    // protocol=tcp: with host=localhost the tools would otherwise use a socket.
    lines.push(`host=${quoteOption(t.host)}`, `port=${t.port}`, 'protocol=tcp');
  }
  for (const [key, value] of Object.entries(extra)) lines.push(`${key}=${quoteOption(value)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Quotes an option value: inside double quotes the option-file parser
 * (mysys, libmariadb) honours \\ \" \n \r \t and ignores `#`, so any
 * password survives, spaces and quotes included.
 */
export function quoteOption(value: string): string {
  const escaped = value.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
  return `"${escaped}"`;
}
