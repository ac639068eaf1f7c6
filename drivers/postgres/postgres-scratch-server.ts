import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fingerprint, ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { assertToolSucceeded, runTool } from '../../src/core/process.js';
import { parseEndpoint } from '../../src/core/service.js';
import { pgTarget, withClient, type PgTarget } from './postgres-connection.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';

/** The socket name of the throwaway server; it listens on no TCP port at all. */
const SCRATCH_PORT = 5432;

/**
 * A restore test of a `pg_basebackup` snapshot: the copy is restored into a
 * private temporary directory `holdfast_scratch_<run>_*` (the ordinary
 * physical restore, pg_verifybackup included), then a throwaway server of the
 * copy's major version starts on it, reachable only through a Unix socket in
 * that directory (listen_addresses empty, socket mode 0700, `trust` for local
 * connections in the copy's own pg_hba.conf: the source's credentials play
 * no part), and the databases the backup fingerprinted are fingerprinted.
 * Cleanup stops the server and removes the directory. As root, the server
 * runs as the `postgres` system user, as PostgreSQL requires.
 */
export async function basebackupScratchTarget(ctx: ScratchContext): Promise<ScratchTarget> {
  const owner = serverUser();
  const base = await mkdtemp(join(process.env.HOLDFAST_TMPDIR ?? tmpdir(), ctx.prefix));
  const data = join(base, 'data');
  try {
    await mkdir(data, { mode: 0o700 });
    if (owner) {
      await chown(base, owner.uid, owner.gid);
      await chown(data, owner.uid, owner.gid);
      // Checked before the restore: a parent the server's user cannot traverse would fail the start only at the end.
      const reach = await runTool('runuser', ['-u', 'postgres', '--', 'test', '-w', data], { stdout: 'ignore' }).done;
      if (reach.code !== 0) {
        throw new HoldfastError('config', `the postgres system user cannot reach ${data}, where the throwaway server must run`, {
          service: ctx.source.name,
          driver: 'postgres',
          hint: 'set HOLDFAST_TMPDIR to a directory whose parents every user may traverse (e.g. /var/tmp)',
        });
      }
    }
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
  const user = pgTarget(ctx.source).user;
  return {
    target: { name: ctx.source.name, engine: 'postgres', endpoint: parseEndpoint(`file:${data}`, false, ctx.source.name), options: {}, origin: 'flag' },
    options: {},
    describe: `a throwaway server on ${data}`,
    async fingerprint(_result, signal): Promise<Fingerprint> {
      const recorded = ctx.recorded.fingerprint!;
      await startServer(base, data, owner, ctx.source.name, signal);
      const t: PgTarget = { service: ctx.source.name, host: base, port: SCRATCH_PORT, user, passwordFrom: [] };
      const databases = await withClient(t, 'postgres', async (c) => (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datallowconn AND NOT datistemplate')).rows.map((r) => r.d));
      const keys = Object.keys(recorded.items);
      const items: Fingerprint['items'] = {};
      for (const db of databases.filter((d) => keys.some((k) => k.startsWith(`${d}.`)))) await withClient(t, db, (c) => fingerprintDatabase(c, db, recorded.scope, items));
      return { scope: recorded.scope, items };
    },
    async cleanup() {
      // Also after an interrupted start: whatever left a postmaster.pid is stopped.
      const pgCtl = existsSync(join(data, 'postmaster.pid')) ? serverBinary((await readFile(join(data, 'PG_VERSION'), 'utf8').catch(() => '')).trim(), 'pg_ctl') : undefined;
      if (pgCtl) {
        const stop = serverCommand(owner, pgCtl, ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
        await runTool(stop.command, stop.args, { stdout: 'ignore' }).done.catch(() => undefined);
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** Configures the copy for a private, socket-only start, and starts it. */
async function startServer(base: string, data: string, owner: { uid: number; gid: number } | undefined, service: string, signal: AbortSignal): Promise<void> {
  const major = (await readFile(join(data, 'PG_VERSION'), 'utf8').catch(() => '')).trim();
  const pgCtl = serverBinary(major, 'pg_ctl');
  if (!pgCtl) {
    throw new HoldfastError('tool', `no PostgreSQL ${major || '(unknown)'} server binaries to start the restored copy`, {
      service,
      driver: 'postgres',
      hint: `install postgresql-${major} (Debian/Ubuntu) or point HOLDFAST_PG_BINDIR at its bin directory`,
    });
  }
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const conf = join(data, 'postgresql.conf');
  // A copy of a Debian cluster has its configuration in /etc, not in the data directory.
  if (!existsSync(conf)) await writeFile(conf, '');
  await appendFile(
    join(data, 'postgresql.auto.conf'),
    `\n# holdfast restore test: private and throwaway\nlisten_addresses = ''\nport = ${SCRATCH_PORT}\nunix_socket_directories = ${quote(base)}\nunix_socket_permissions = 0700\narchive_mode = off\nhba_file = ${quote(join(data, 'pg_hba.conf'))}\nident_file = ${quote(join(data, 'pg_ident.conf'))}\n`,
  );
  await writeFile(join(data, 'pg_hba.conf'), 'local all all trust\n');
  await writeFile(join(data, 'pg_ident.conf'), '');
  if (owner) for (const f of ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf']) await chown(join(data, f), owner.uid, owner.gid);
  const start = serverCommand(owner, pgCtl, ['-D', data, '-l', join(base, 'server.log'), '-w', '-t', '120', 'start']);
  const exit = await runTool(start.command, start.args, { stdout: 'ignore', signal }).done;
  if (exit.code !== 0) {
    const log = (await readFile(join(base, 'server.log'), 'utf8').catch(() => '')).split('\n').slice(-6).join('\n');
    try {
      assertToolSucceeded('pg_ctl start', { ...exit, stderr: `${exit.stderr}\n${log}`.trim() }, 'the restored copy did not start; the server log lines above say why');
    } catch (error) {
      throw (error as HoldfastError).forService(service, 'postgres');
    }
  }
}

function serverCommand(owner: { uid: number; gid: number } | undefined, pgCtl: string, args: string[]): { command: string; args: string[] } {
  return owner ? { command: 'runuser', args: ['-u', 'postgres', '--', pgCtl, ...args] } : { command: pgCtl, args };
}

/** pg_ctl of exactly this major: HOLDFAST_PG_BINDIR, or /usr/lib/postgresql/<major>/bin. */
function serverBinary(major: string, name: string): string | undefined {
  for (const dir of [process.env.HOLDFAST_PG_BINDIR, `/usr/lib/postgresql/${major}/bin`]) {
    if (dir && existsSync(join(dir, name)) && existsSync(join(dir, 'postgres'))) return join(dir, name);
  }
  return undefined;
}

/** As root: the `postgres` system user the server must run as. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new HoldfastError('tool', 'a throwaway PostgreSQL server cannot run as root, and there is no postgres system user to run it as', {
      driver: 'postgres',
      hint: 'create a postgres system user, or run holdfast as a non-root user',
    });
  }
}
