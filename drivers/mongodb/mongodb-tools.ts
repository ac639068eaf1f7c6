import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { HoldfastError } from '../../src/core/errors.js';
import { assertToolSucceeded, lastLines, runToolText, type ToolExit } from '../../src/core/process.js';
import { spoolDir } from '../../src/core/spool-dir.js';

export type MongoToolName = 'mongodump' | 'mongorestore';

export const MONGO_TOOLS_HINT =
  'install the MongoDB Database Tools (mongodump, mongorestore; https://www.mongodb.com/try/download/database-tools) and put them on PATH, or set HOLDFAST_MONGO_BINDIR to their directory';

/**
 * Where a tool is: HOLDFAST_MONGO_BINDIR when set (a pin: only there, so a
 * wrong pin shows up instead of silently using another copy), else PATH.
 * Undefined when it is not found.
 */
export function mongoToolPath(name: MongoToolName): string | undefined {
  const pinned = process.env.HOLDFAST_MONGO_BINDIR;
  const dirs = pinned ? [pinned] : (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export interface MongoToolVersion {
  path: string;
  /** e.g. `100.9.5` */
  version: string;
}

/** `mongodump --version` parsed, or undefined when the tool is missing or does not run. */
export async function mongoToolVersion(name: MongoToolName): Promise<MongoToolVersion | undefined> {
  const path = mongoToolPath(name);
  if (!path) return undefined;
  try {
    const out = await runToolText(path, ['--version']);
    const m = new RegExp(`${name} version: (\\S+)`).exec(out);
    return m ? { path, version: m[1]! } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` with the arguments that hand the password to a Database Tool
 * without argv: `--config FILE`, a YAML file (mode 0600, in a private 0700
 * temporary directory, removed afterwards) holding only `password:`. The
 * tools read `password`, `uri` and `sslPEMKeyPassword` from it (100.3+).
 */
export async function withToolCredentials<T>(password: string | undefined, work: (args: string[]) => Promise<T>): Promise<T> {
  const config = await toolConfigFile(password);
  try {
    return await work(config.args);
  } finally {
    await config.remove();
  }
}

/** The --config arguments for `password` (none without one), and how to remove the file; see withToolCredentials. */
export async function toolConfigFile(password: string | undefined): Promise<{ args: string[]; remove(): Promise<void> }> {
  if (password === undefined) return { args: [], remove: async () => undefined };
  // In the leftover journal: a password file must not outlive a killed run.
  const spool = await spoolDir('holdfast-mongo-');
  try {
    await chmod(spool.path, 0o700);
    const file = join(spool.path, 'tool.yaml');
    // A JSON string is a valid YAML double-quoted scalar: every character survives.
    await writeFile(file, `password: ${JSON.stringify(password)}\n`, { mode: 0o600 });
    return { args: ['--config', file], remove: () => spool.remove() };
  } catch (error) {
    await spool.remove();
    throw error;
  }
}

/**
 * Judges how mongodump / mongorestore exited, naming credential, connection
 * and archive failures as such (their hints differ from a tool failure's).
 */
export function checkMongoToolExit(name: MongoToolName, exit: ToolExit, t: { service: string; passwordFrom: string[] }): void {
  const tail = lastLines(exit.stderr, 4);
  const fail = (code: 'auth' | 'connect' | 'integrity' | 'no-space', message: string, hint: string): never => {
    throw new HoldfastError(code, message, { service: t.service, driver: 'mongodb', hint });
  };
  if (exit.code !== 0) {
    if (/AuthenticationFailed|Authentication failed|requires authentication|Unauthorized/i.test(exit.stderr)) {
      fail('auth', `${name} was refused by the server: ${tail}`, `check the user in the URL and the password in ${t.passwordFrom.join(' or ')}`);
    }
    if (/connection refused|no reachable servers|server selection error|i\/o timeout|no such host/i.test(exit.stderr)) {
      fail('connect', `${name} cannot reach the server: ${tail}`, 'check the host and port, and that the server runs');
    }
    if (/not appear to be a mongodump archive|corruption found in archive|unexpected EOF|archive.*(truncated|prematurely)/i.test(exit.stderr)) {
      fail('integrity', `${name}: the archive is damaged: ${tail}`, 'restore from another snapshot');
    }
    if (/No space left on device|OutOfDiskSpace/i.test(exit.stderr)) {
      fail('no-space', `${name}: ${tail}`, 'free space on the server');
    }
  }
  // mongorestore exits 0 when documents failed to insert (duplicate keys, ...): that is not a restore.
  const failedDocs = /(\d+) document\(s\) failed to restore/.exec(exit.stderr);
  if (exit.code === 0 && failedDocs && Number(failedDocs[1]) > 0) {
    throw new HoldfastError('tool', `${name}: ${failedDocs[1]} documents failed to restore: ${tail}`, { service: t.service, driver: 'mongodb' });
  }
  try {
    assertToolSucceeded(name, exit);
  } catch (error) {
    throw (error as HoldfastError).forService(t.service, 'mongodb');
  }
}
