import { appendFile, chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { pgBinDir } from '../../drivers/postgres/postgres-tools.js';
import { assertToolSucceeded, runTool } from '../../src/core/process.js';
import { waitFor } from '../../src/core/wait.js';
import { freePort } from './free-port.js';

/**
 * A throwaway PostgreSQL cluster: initdb in a temp dir, a free port on
 * 127.0.0.1, scram passwords over TCP, removed by stop(). As root it runs as
 * the `postgres` system user (the server refuses root).
 */
export interface PgCluster {
  port: number;
  dir: string;
  password: string;
  /** postgres://postgres@127.0.0.1:PORT/<db> (no password: tests pass it through the environment). */
  url(database?: string): string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database?: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
  /** For physical restores: start another server on an existing data directory. */
  bin(name: string): string;
}

const asRoot = process.getuid?.() === 0;

function pgUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  const run = asRoot ? runTool('runuser', ['-u', 'postgres', '--', command, ...args], { stdout: 'ignore' }) : runTool(command, args, { stdout: 'ignore' });
  assertToolSucceeded(command, await run.done);
}

export async function startPgCluster(options: { password?: string; settings?: Record<string, string> } = {}): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found: run scripts/install/base.sh');
  const tool = (name: string) => join(bin, name);
  const root = await mkdtemp(join(tmpdir(), 'holdfast-pg-'));
  const dir = join(root, 'data');
  const password = options.password ?? 'test-secret-pw';
  const owner = pgUser();
  if (owner) await chown(root, owner.uid, owner.gid);
  await chmod(root, 0o700);
  const pwfile = join(root, 'pw');
  await writeFile(pwfile, password);
  if (owner) await chown(pwfile, owner.uid, owner.gid);
  await asPostgres(tool('initdb'), ['-D', dir, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  await rm(pwfile);
  const port = await freePort();
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${root}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_wal_senders: '4',
    wal_level: 'replica',
    ...options.settings,
  };
  await appendFile(join(dir, 'postgresql.conf'), Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join(''));
  await startServer(tool, dir, root);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const cluster: PgCluster = {
    port,
    dir,
    password,
    url,
    bin: tool,
    async query(sql, database = 'postgres', params = []) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async stop() {
      await asPostgres(tool('pg_ctl'), ['-D', dir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
  await waitFor('PostgreSQL', async () => (await cluster.query('SELECT 1')) && true, { timeoutMs: 30_000 });
  return cluster;
}

/** Starts a server on a data directory (e.g. one restored from pg_basebackup) on a new port; returns a stop function. */
export async function startOnDataDir(dir: string, socketDir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const bin = pgBinDir()!;
  const tool = (name: string) => join(bin, name);
  const port = await freePort();
  const conf = join(dir, 'postgresql.auto.conf');
  const previous = await readFile(conf, 'utf8').catch(() => '');
  await writeFile(conf, `${previous}port = ${port}\nunix_socket_directories = '${socketDir}'\n`);
  await startServer(tool, dir, socketDir);
  return {
    port,
    async stop() {
      await asPostgres(tool('pg_ctl'), ['-D', dir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    },
  };
}

async function startServer(tool: (n: string) => string, dir: string, logDir: string): Promise<void> {
  const log = join(logDir, 'server.log');
  try {
    await asPostgres(tool('pg_ctl'), ['-D', dir, '-l', log, '-w', '-t', '60', 'start']);
  } catch (error) {
    const tail = await readFile(log, 'utf8').catch(() => '');
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${tail.split('\n').slice(-15).join('\n')}`);
  }
}
