import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { HoldfastError } from '../../src/core/errors.js';
import { assertToolSucceeded, lastLines, runTool, type ToolExit } from '../../src/core/process.js';

export type Family = 'mariadb' | 'mysql';

export const FAMILY_TITLE: Record<Family, string> = { mariadb: 'MariaDB', mysql: 'MySQL' };

/** What a tool does; each family has its own binaries, in order of preference. */
export type ToolRole = 'dump' | 'client' | 'backup' | 'stream' | 'server';

const CANDIDATES: Record<ToolRole, Record<Family, string[]>> = {
  dump: { mariadb: ['mariadb-dump', 'mysqldump'], mysql: ['mysqldump'] },
  client: { mariadb: ['mariadb', 'mysql'], mysql: ['mysql'] },
  backup: { mariadb: ['mariadb-backup', 'mariabackup'], mysql: ['xtrabackup'] },
  stream: { mariadb: ['mbstream'], mysql: ['xbstream'] },
  // A throwaway server on a restored physical copy (restore tests).
  server: { mariadb: ['mariadbd', 'mysqld'], mysql: ['mysqld'] },
};

export const TOOLS_HINT: Record<Family, string> = {
  mariadb: 'install the MariaDB client tools (Debian/Ubuntu: apt-get install mariadb-client; mariadb-backup for physical backups), or set HOLDFAST_MYSQL_BINDIR to a directory holding them',
  mysql: 'install the MySQL client tools of the server\'s version (mysql-client; Percona XtraBackup for physical backups), or set HOLDFAST_MYSQL_BINDIR to a directory holding them',
};

/**
 * Where a tool lives: only in HOLDFAST_MYSQL_BINDIR when it is set (a pin is
 * a pin: no silent fall back to another family's tool on PATH), else the
 * first directory of PATH that has it.
 */
export function findBinary(name: string): string | undefined {
  const pinned = process.env.HOLDFAST_MYSQL_BINDIR;
  const dirs = pinned ? [pinned] : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/sbin'];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export interface ToolInfo {
  path: string;
  name: string;
  family: Family;
  /** The server version the tool belongs to, e.g. `10.11.19` or `8.0.36`. */
  version: string;
  /** It is the image's tool, run inside the service's container (mysql-tool-place.ts); `path` is its name there. */
  inContainer?: boolean;
}

const cache = new Map<string, Promise<ToolInfo | undefined>>();

/** `<tool> --version` parsed (the backup tools print it on stderr); undefined when it does not run. */
export function toolInfo(path: string): Promise<ToolInfo | undefined> {
  let found = cache.get(path);
  if (!found) {
    found = (async () => {
      const run = runTool(path, ['--version'], {});
      let out = '';
      run.stdout?.setEncoding('utf8');
      run.stdout?.on('data', (c: string) => (out += c));
      const exit = await run.done;
      if (exit.code !== 0) return undefined;
      return parseToolVersion(path, `${out}\n${exit.stderr}`);
    })().catch(() => undefined);
    cache.set(path, found);
  }
  return found;
}

/**
 * MariaDB: `mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, ...` (11.x: `mariadb-dump from 11.4.2-MariaDB, client 10.19 ...`),
 * `mariadb-backup based on MariaDB server 10.11.19-MariaDB ...`.
 * MySQL: `mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)`,
 * `xtrabackup version 8.0.35-30 based on MySQL server 8.0.35 ...`.
 */
export function parseToolVersion(path: string, text: string): ToolInfo | undefined {
  const name = path.split('/').pop() ?? path;
  const family: Family = /mariadb/i.test(text) ? 'mariadb' : 'mysql';
  const m = /Distrib\s+(\d+\.\d+\.\d+)/.exec(text) ?? /\bfrom\s+(\d+\.\d+\.\d+)/.exec(text) ?? /server\s+(\d+\.\d+\.\d+)/i.exec(text) ?? /Ver\s+(\d+\.\d+\.\d+)/.exec(text);
  if (!m) return undefined;
  return { path, name, family, version: m[1]! };
}

/** The first tool of `role` found for `family`, whichever family it turns out to be. */
export async function findTool(role: ToolRole, family: Family): Promise<ToolInfo | undefined> {
  for (const name of CANDIDATES[role][family]) {
    const path = findBinary(name);
    if (path) return (await toolInfo(path)) ?? { path, name, family, version: 'unknown' };
  }
  return undefined;
}

/** The candidates' names, for messages. */
export function toolNames(role: ToolRole, family: Family): string {
  return CANDIDATES[role][family].join(' or ');
}

export interface ToolCheck {
  tool?: ToolInfo;
  /** Why it cannot be used, when it cannot. */
  problem?: string;
}

/**
 * A tool of the server's own family, or why not: MySQL 8's mysqldump fails
 * against MariaDB (COLUMN_STATISTICS), and MariaDB's recent dumps start with
 * a sandbox line MySQL clients reject. A tool of the other family is refused.
 */
export async function checkTool(role: ToolRole, family: Family): Promise<ToolCheck> {
  const tool = await findTool(role, family);
  if (!tool) return { problem: `${toolNames(role, family)} not found${process.env.HOLDFAST_MYSQL_BINDIR ? ` in HOLDFAST_MYSQL_BINDIR (${process.env.HOLDFAST_MYSQL_BINDIR})` : ''}` };
  if (tool.family !== family) {
    return {
      tool,
      problem: `${tool.path} is ${FAMILY_TITLE[tool.family]} ${tool.version}'s ${tool.name}, and the server is ${FAMILY_TITLE[family]}: use the tool of the server's own family`,
    };
  }
  return { tool };
}

export async function requireTool(role: ToolRole, family: Family, service: string): Promise<ToolInfo> {
  const { tool, problem } = await checkTool(role, family);
  if (problem || !tool) throw new HoldfastError('tool', problem ?? `${toolNames(role, family)} not found`, { service, driver: 'mysql', hint: TOOLS_HINT[family] });
  return tool;
}

/** Is a local directory readable by this process (a physical backup reads the data directory)? */
export async function readable(path: string): Promise<boolean> {
  return access(path, constants.R_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * Checks how a MySQL / MariaDB tool exited, naming connection, authentication
 * and missing-database failures as such (their hint is about the URL and the
 * password, not the tool).
 */
export function checkMysqlToolExit(name: string, exit: ToolExit, service: string, hint?: string): void {
  if (exit.code === 0) return;
  const tail = lastLines(exit.stderr, 4);
  const base = { service, driver: 'mysql' };
  if (/Access denied for user/i.test(exit.stderr) && !/to database/i.test(exit.stderr)) {
    throw new HoldfastError('auth', `${name} was refused by the server: ${tail}`, { ...base, hint: 'check the user and password of this service' });
  }
  if (/Can't connect to|Unknown (MySQL|MariaDB) server host|Lost connection to server at 'handshake/i.test(exit.stderr)) {
    throw new HoldfastError('connect', `${name} cannot reach the server: ${tail}`, { ...base, hint: 'check the host and port, and that the server runs' });
  }
  if (/Unknown database/i.test(exit.stderr)) {
    throw new HoldfastError('not-found', `${name}: ${tail}`, { ...base, hint: 'check the database name' });
  }
  if (/No space left on device|Disk full|errno: 28/i.test(exit.stderr)) {
    throw new HoldfastError('no-space', `${name}: ${tail}`, { ...base, hint: 'free space on the server or the restore disk' });
  }
  if (/COLUMN_STATISTICS/i.test(exit.stderr)) {
    throw new HoldfastError('tool', `${name} is MySQL's and the server MariaDB: ${tail}`, { ...base, hint: TOOLS_HINT.mariadb });
  }
  try {
    assertToolSucceeded(name, exit, hint);
  } catch (error) {
    throw (error as HoldfastError).forService(service, 'mysql');
  }
}
