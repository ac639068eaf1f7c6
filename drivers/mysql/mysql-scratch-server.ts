import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fingerprint, ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { runTool } from '../../src/core/process.js';
import { parseEndpoint } from '../../src/core/service.js';
import { waitFor } from '../../src/core/wait.js';
import { rows, withConnection, type MyTarget } from './mysql-connection.js';
import { fingerprintDatabase } from './mysql-fingerprint.js';
import { sameSeries } from './mysql-strategies.js';
import { requireTool, TOOLS_HINT, type Family } from './mysql-tools.js';

/**
 * A restore test of a `physical` snapshot: the copy is restored and prepared
 * in a private temporary directory `holdfast_scratch_<run>_*` (the ordinary
 * physical restore), then a throwaway server of the same series starts on it
 * with no network at all (--skip-networking, a socket in that directory,
 * whose mode keeps other users out) and without the grant tables (the
 * source's credentials play no part), its event scheduler and replication
 * off; the databases the backup fingerprinted are fingerprinted. Cleanup
 * stops the server (SIGTERM, then SIGKILL) and removes the directory. As
 * root, the server runs as the `mysql` system user.
 */
export async function physicalScratchTarget(ctx: ScratchContext): Promise<ScratchTarget> {
  const owner = await systemUser('mysql');
  const base = await mkdtemp(join(process.env.HOLDFAST_TMPDIR ?? tmpdir(), ctx.prefix));
  const data = join(base, 'data');
  let server: ChildProcess | undefined;
  const cleanup = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(base, { recursive: true, force: true });
  };
  try {
    await mkdir(data, { mode: 0o750 });
    if (owner) {
      await chown(base, owner.uid, owner.gid);
      await chown(data, owner.uid, owner.gid);
      const reach = await runTool('runuser', ['-u', 'mysql', '--', 'test', '-w', data], { stdout: 'ignore' }).done;
      if (reach.code !== 0) {
        throw new HoldfastError('config', `the mysql system user cannot reach ${data}, where the throwaway server must run`, {
          service: ctx.source.name,
          driver: 'mysql',
          hint: 'set HOLDFAST_TMPDIR to a directory whose parents every user may traverse (e.g. /var/tmp)',
        });
      }
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    target: { name: ctx.source.name, engine: 'mysql', endpoint: parseEndpoint(`file:${data}`, false, ctx.source.name), options: {}, origin: 'flag' },
    options: {},
    describe: `a throwaway server on ${data}`,
    async fingerprint(_result, signal): Promise<Fingerprint> {
      const family = (ctx.recorded.details.family as Family | undefined) ?? 'mariadb';
      const version = String(ctx.recorded.details.serverVersionNumber ?? '');
      const tool = await requireTool('server', family, ctx.source.name);
      if (version && !sameSeries(tool.version, version)) {
        throw new HoldfastError('tool', `${tool.path} is ${tool.version} and the copy comes from ${version}: a server of the same series must open it`, { service: ctx.source.name, driver: 'mysql', hint: TOOLS_HINT[family] });
      }
      const socket = join(base, 'mysqld.sock');
      const log = join(base, 'error.log');
      server = spawn(
        tool.path,
        [
          '--no-defaults',
          `--datadir=${data}`,
          `--socket=${socket}`,
          `--pid-file=${join(base, 'mysqld.pid')}`,
          `--log-error=${log}`,
          '--skip-networking',
          '--skip-grant-tables',
          '--event-scheduler=OFF',
          '--skip-slave-start',
          '--skip-log-bin',
          '--innodb-buffer-pool-size=64M',
          ...(owner ? ['--user=mysql'] : []),
        ],
        { stdio: 'ignore' },
      );
      const t: MyTarget = { service: ctx.source.name, host: 'localhost', port: 0, user: 'root', socket, passwordFrom: [] };
      const exited = new Promise<never>((_, reject) =>
        server!.once('exit', async (code) => reject(new HoldfastError('tool', `the throwaway server on the restored copy exited (${code}): ${(await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-4).join(' | ')}`, { service: ctx.source.name, driver: 'mysql', hint: 'the restored copy did not start; the server log lines say why' }))),
      );
      exited.catch(() => undefined);
      await Promise.race([exited, waitFor('the throwaway server on the restored copy', () => withConnection(t, undefined, async () => true), { timeoutMs: 120_000, intervalMs: 250, signal })]);
      const recorded = ctx.recorded.fingerprint!;
      const keys = Object.keys(recorded.items);
      return withConnection(t, undefined, async (c) => {
        const databases = (await rows<{ n: string }>(c, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA')).map((r) => r.n);
        const items: Fingerprint['items'] = {};
        for (const db of databases.filter((d) => keys.some((k) => k.startsWith(`${d}.`)))) await fingerprintDatabase(c, db, recorded.scope, items);
        return { scope: recorded.scope, items };
      });
    },
    cleanup,
  };
}

/** As root: the system user a server must run as (it refuses root). */
async function systemUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const f = passwd.split('\n').find((l) => l.startsWith(`${name}:`))?.split(':');
  if (!f?.[2] || !f[3]) {
    throw new HoldfastError('tool', `a throwaway server cannot run as root, and there is no ${name} system user to run it as`, { driver: 'mysql', hint: `create a ${name} system user, or run holdfast as a non-root user` });
  }
  return { uid: Number(f[2]), gid: Number(f[3]) };
}
