import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HoldfastError } from '../../src/core/errors.js';
import { assertToolSucceeded, lastLines, runToolText, type ToolExit } from '../../src/core/process.js';

/**
 * Finds the host's PostgreSQL client tools. HOLDFAST_PG_BINDIR wins; then the
 * newest /usr/lib/postgresql/<major>/bin (Debian, Ubuntu); then PATH.
 */
export function pgBinDir(): string | undefined {
  const pinned = process.env.HOLDFAST_PG_BINDIR;
  if (pinned) return pinned;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'pg_dump')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

export function pgTool(name: string): string {
  const dir = pgBinDir();
  return dir && existsSync(join(dir, name)) ? join(dir, name) : name;
}

const versions = new Map<string, Promise<ToolVersion | undefined>>();

export interface ToolVersion {
  path: string;
  version: string;
  major: number;
}

/** `pg_dump --version` parsed, or undefined when the tool is missing. */
export function toolVersion(name: string): Promise<ToolVersion | undefined> {
  const path = pgTool(name);
  let cached = versions.get(path);
  if (!cached) {
    cached = runToolText(path, ['--version'])
      .then((out) => {
        const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out);
        if (!m) return undefined;
        return { path, version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) };
      })
      .catch(() => undefined);
    versions.set(path, cached);
  }
  return cached;
}

export const PG_TOOLS_HINT = 'install the PostgreSQL client of the server\'s major version or newer (Debian/Ubuntu: apt-get install postgresql-client-NN), or set HOLDFAST_PG_BINDIR';

/** Throws a 'tool' error unless the tool exists and its major is at least `serverMajor`. */
export async function requireTool(name: string, serverMajor: number, service: string): Promise<ToolVersion> {
  const found = await toolVersion(name);
  if (!found) {
    throw new HoldfastError('tool', `${name} is not installed`, { service, driver: 'postgres', hint: PG_TOOLS_HINT });
  }
  if (found.major < serverMajor) {
    throw new HoldfastError('tool', `${name} ${found.version} is older than the server (major ${serverMajor}) and would refuse it`, {
      service,
      driver: 'postgres',
      hint: PG_TOOLS_HINT,
    });
  }
  return found;
}

/**
 * Checks how a PostgreSQL tool exited, naming connection and authentication
 * failures as such (their hint is about the URL and password, not the tool).
 */
export function checkPgToolExit(name: string, exit: ToolExit, service: string): void {
  if (exit.code === 0) return;
  const tail = lastLines(exit.stderr, 4);
  if (/password authentication failed|no password supplied|authentication failed/i.test(exit.stderr)) {
    throw new HoldfastError('auth', `${name} was refused by the server: ${tail}`, { service, driver: 'postgres', hint: 'check the user and password for this service' });
  }
  if (/could not connect|Connection refused|could not translate host name/i.test(exit.stderr)) {
    throw new HoldfastError('connect', `${name} cannot reach the server: ${tail}`, { service, driver: 'postgres', hint: 'check the host and port, and that the server runs' });
  }
  if (/No space left on device/i.test(exit.stderr)) {
    throw new HoldfastError('no-space', `${name}: ${tail}`, { service, driver: 'postgres', hint: 'free space on the server or the restore disk' });
  }
  try {
    assertToolSucceeded(name, exit);
  } catch (error) {
    throw (error as HoldfastError).forService(service, 'postgres');
  }
}
