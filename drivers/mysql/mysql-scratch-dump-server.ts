import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import type { Service } from '../../src/core/service.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lastLines } from '../../src/core/process.js';
import { withDeathSignal } from '../../src/core/process-deathsig.js';
import { runToolTree } from '../../src/core/process-tree.js';
import { scratchDataDir } from '../../src/core/scratch-data-dir.js';
import { waitFor } from '../../src/core/wait.js';
import { withConnection, type MyTarget } from './mysql-connection.js';
import { sameSeries } from './mysql-strategies.js';
import { findBinary, findTool } from './mysql-tools.js';

/**
 * A restore test of a `dump` snapshot on a throwaway MariaDB server of the
 * backup's series, under the original names: nothing there depends on a
 * database's name changing (a SQL SECURITY DEFINER view whose definer has
 * rights on its database by name, a view that reads another database, grants
 * on tables and routines), and the accounts and grants of the snapshot are
 * applied as on any other server, so the definitions compare in full.
 * The server has no network (--skip-networking, a socket in a private
 * directory), no binary log and no event scheduler; root gets a random
 * password held in memory only. Cleanup stops it (SIGTERM, then SIGKILL) and
 * removes the directory. Undefined when no server of that series is
 * installed: the test then runs in scratch databases on the source's server.
 */
export async function dumpScratchServer(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.recorded.details.family !== 'mariadb') return undefined;
  const version = String(ctx.recorded.details.serverVersionNumber ?? '');
  const server = await findTool('server', 'mariadb');
  const install = findBinary('mariadb-install-db') ?? findBinary('mysql_install_db');
  if (!server || !install || server.family !== 'mariadb' || !version || !sameSeries(server.version, version)) return undefined;

  const { base, data, owner, release } = await scratchDataDir(ctx, { user: 'mysql', driver: 'mysql', mode: 0o750 });
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    // The directory and its leftover-journal entry go together (scratch-data-dir.ts).
    await release();
  };
  const fail = (what: string, detail: string) =>
    new HoldfastError('tool', `the throwaway server for the restore test ${what}: ${detail}`, { service: ctx.source.name, driver: 'mysql', hint: 'the server log lines say why; HOLDFAST_TMPDIR moves its directory' });
  try {
    const user = owner ? ['--user=mysql'] : [];
    const init = await runToolTree(install, ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', ...user], { stdout: 'ignore', signal: ctx.signal }).done;
    if (init.code !== 0) throw fail('could not be initialized', lastLines(init.stderr, 4));
    const socket = join(base, 'mysqld.sock');
    const log = join(base, 'error.log');
    // The throwaway server dies with holdfast too, as every tool does (process-deathsig.ts); the next command removes its directory.
    const spawned = withDeathSignal(
      server.path,
      ['--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--pid-file=${join(base, 'mysqld.pid')}`, `--log-error=${log}`, `--tmpdir=${base}`, '--skip-networking', '--skip-name-resolve', '--event-scheduler=OFF', '--skip-log-bin', '--innodb-buffer-pool-size=64M', ...user],
    );
    child = spawn(spawned.command, spawned.args, { stdio: 'ignore' });
    const exited = new Promise<never>((_, reject) => child!.once('exit', async (code) => reject(fail(`exited (${code})`, lastLines(await readFile(log, 'utf8').catch(() => ''), 4).replace(/\n/g, ' | ')))));
    exited.catch(() => undefined);
    const root: MyTarget = { service: ctx.source.name, host: 'localhost', port: 0, user: 'root', socket, passwordFrom: [] };
    await Promise.race([exited, waitFor('the throwaway server of the restore test', () => withConnection(root, undefined, async () => true), { timeoutMs: 120_000, intervalMs: 100, signal: ctx.signal })]);
    const password = randomBytes(18).toString('base64url');
    await withConnection(root, undefined, (c) => c.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ?", [password]));
    const target: Service = {
      name: ctx.source.name,
      engine: 'mysql',
      endpoint: { scheme: 'mysql', host: 'localhost', user: 'root', path: '', params: { socket }, password },
      options: {},
      secretEnv: [],
      origin: 'flag',
    };
    return { target, options: {}, describe: `a throwaway MariaDB ${server.version} server (${socket})`, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
