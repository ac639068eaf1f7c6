import { existsSync } from 'node:fs';
import { appendFile, chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fingerprint, ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { scratchDataDir } from '../../src/core/scratch-data-dir.js';
import { assertToolSucceeded, runTool } from '../../src/core/process.js';
import { parseEndpoint } from '../../src/core/service.js';
import { pgTarget, withClient, type PgTarget } from './postgres-connection.js';
import { readDatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions } from './postgres-definitions.js';
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
  const { base, data, owner, release } = await scratchDataDir(ctx, { user: 'postgres', driver: 'postgres', mode: 0o700 });
  // Recorded since the copy can be taken inside a container (its POSTGRES_USER); older snapshots: the URL's user.
  const user = typeof ctx.recorded.details.connectedAs === 'string' ? ctx.recorded.details.connectedAs : pgTarget(ctx.source).user;
  return {
    target: { name: ctx.source.name, engine: 'postgres', endpoint: parseEndpoint(`file:${data}`, false, ctx.source.name), options: {}, origin: 'flag' },
    options: {},
    describe: `a throwaway server on ${data}`,
    async fingerprint(_result, signal): Promise<Fingerprint> {
      const recorded = ctx.recorded.fingerprint!;
      await startServer(base, data, owner, ctx.source.name, signal);
      const t: PgTarget = { service: ctx.source.name, host: base, port: SCRATCH_PORT, user, passwordFrom: [] };
      const databases = await withClient(t, 'postgres', async (c) => (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datallowconn AND NOT datistemplate')).rows.map((r) => r.d));
      // The databases the backup described: by rows, or by definitions alone (a database without tables).
      const keys = [...Object.keys(recorded.items), ...Object.keys(recorded.definitions ?? {})];
      const items: Fingerprint['items'] = {};
      // Definitions too when the backup recorded them (issue #11): roles, and per database its objects and properties.
      const definitions: NonNullable<Fingerprint['definitions']> | undefined = recorded.definitions ? await withClient(t, 'postgres', (c) => roleDefinitions(c)) : undefined;
      for (const db of databases.filter((d) => keys.some((k) => k === d || k.startsWith(`${d}.`)))) {
        await withClient(t, db, async (c) => {
          await fingerprintDatabase(c, db, recorded.scope, items);
          if (definitions) await definitionsOfDatabase(c, db, await readDatabaseProperties(c), definitions);
        });
      }
      return { scope: recorded.scope, items, ...(definitions ? { definitions } : {}) };
    },
    async cleanup() {
      // Also after an interrupted start: whatever left a postmaster.pid is stopped.
      const pgCtl = existsSync(join(data, 'postmaster.pid')) ? serverBinary((await readFile(join(data, 'PG_VERSION'), 'utf8').catch(() => '')).trim(), 'pg_ctl') : undefined;
      if (pgCtl) {
        const stop = serverCommand(owner, pgCtl, ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
        await runTool(stop.command, stop.args, { stdout: 'ignore' }).done.catch(() => undefined);
      }
      await release();
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

