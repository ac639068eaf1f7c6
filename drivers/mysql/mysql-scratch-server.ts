import { spawn, type ChildProcess } from 'node:child_process';
import { withDeathSignal } from '../../src/core/process-deathsig.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fingerprint, ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { scratchDataDir } from '../../src/core/scratch-data-dir.js';
import { parseEndpoint } from '../../src/core/service.js';
import { waitFor } from '../../src/core/wait.js';
import { rows, withConnection, type MyTarget } from './mysql-connection.js';
import { readDefinitions } from './mysql-definitions.js';
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
  const { base, data, owner, release } = await scratchDataDir(ctx, { user: 'mysql', driver: 'mysql', mode: 0o750 });
  let server: ChildProcess | undefined;
  const cleanup = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await release();
  };
  return {
    target: { name: ctx.source.name, engine: 'mysql', endpoint: parseEndpoint(`file:${data}`, false, ctx.source.name), options: {}, origin: 'flag' },
    options: {},
    describe: `a throwaway server on ${data}`,
    // Started with --skip-grant-tables, the server lists no events (information_schema.EVENTS is empty).
    unseen: [...new Set(Object.keys(ctx.recorded.fingerprint?.definitions ?? {}).filter((k) => /\.event\./.test(k)).map((k) => k.slice(0, k.indexOf('.event.') + '.event'.length)))],
    async fingerprint(_result, signal): Promise<Fingerprint> {
      const family = (ctx.recorded.details.family as Family | undefined) ?? 'mariadb';
      const version = String(ctx.recorded.details.serverVersionNumber ?? '');
      const tool = await requireTool('server', family, ctx.source.name);
      if (version && !sameSeries(tool.version, version)) {
        throw new HoldfastError('tool', `${tool.path} is ${tool.version} and the copy comes from ${version}: a server of the same series must open it`, { service: ctx.source.name, driver: 'mysql', hint: TOOLS_HINT[family] });
      }
      const socket = join(base, 'mysqld.sock');
      const log = join(base, 'error.log');
      const { command, args } = withDeathSignal(
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
      );
      // Dies with holdfast (as root, mysqld's switch to the mysql user clears the flag).
      server = spawn(command, args, { stdio: 'ignore' });
      const t: MyTarget = { service: ctx.source.name, host: 'localhost', port: 0, user: 'root', socket, passwordFrom: [] };
      const exited = new Promise<never>((_, reject) =>
        server!.once('exit', async (code) => reject(new HoldfastError('tool', `the throwaway server on the restored copy exited (${code}): ${(await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-4).join(' | ')}`, { service: ctx.source.name, driver: 'mysql', hint: 'the restored copy did not start; the server log lines say why' }))),
      );
      exited.catch(() => undefined);
      await Promise.race([exited, waitFor('the throwaway server on the restored copy', () => withConnection(t, undefined, async () => true), { timeoutMs: 120_000, intervalMs: 250, signal })]);
      const recorded = ctx.recorded.fingerprint!;
      // The databases the backup described: by rows, or by definitions alone (a database without tables).
      const keys = [...Object.keys(recorded.items), ...Object.keys(recorded.definitions ?? {})];
      return withConnection(t, undefined, async (c) => {
        const databases = (await rows<{ n: string }>(c, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA')).map((r) => r.n);
        const items: Fingerprint['items'] = {};
        // Definitions too when the backup recorded them (issue #11).
        const definitions: NonNullable<Fingerprint['definitions']> | undefined = recorded.definitions ? {} : undefined;
        for (const db of databases.filter((d) => keys.some((k) => k === d || k.startsWith(`${d}.`)))) {
          await fingerprintDatabase(c, db, recorded.scope, items);
          if (definitions) await readDefinitions(c, db, { scope: recorded.scope }, definitions);
        }
        return { scope: recorded.scope, items, ...(definitions ? { definitions } : {}) };
      });
    },
    cleanup,
  };
}

