/**
 * holdfast against the raw MariaDB tools, on the same data, in one run.
 *
 *   npm run build && node dist/bench/mysql-bench.js [--rows 2000000] [--tables 4] [--rounds 3]
 *
 * Backup: `holdfast backup` (fingerprint counts, none, and full once) vs
 * `mariadb-dump --single-transaction | zstd -T0 -3`. Restore: `holdfast
 * restore` into a new database vs `mariadb < dump` of the uncompressed dump.
 * Runs are interleaved and the median kept. Prints ratios (holdfast / raw:
 * below 1 is faster), sizes and holdfast's peak RSS; writes
 * bench/out/mysql-*.json.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optionFileText } from '../drivers/mysql/mysql-defaults-file.js';
import { mariadbBinary, startMariadb } from '../test/servers/mariadb.js';
import { mysqlQuery, mysqlUrl } from '../test/support/mysql-sample.js';
import { createSysbenchDataset, databaseBytes } from './mysql-dataset.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const totalRows = Number(arg('rows', '2000000'));
const tables = Number(arg('tables', '4'));
const rounds = Number(arg('rounds', '3'));
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const secs = (t: Timed) => Math.round(t.seconds * 100) / 100;
const log = (text: string) => process.stderr.write(`[mysql bench] ${text}\n`);

const server = await startMariadb({ extraArgs: ['--innodb-buffer-pool-size=1G', '--innodb-log-file-size=512M', '--max-allowed-packet=256M'], timeoutMs: 120_000 });
const work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-bench-'));
try {
  const file = (name: string) => join(work, name);
  const cnf = file('client.cnf');
  await writeFile(cnf, optionFileText({ service: 'db', host: '127.0.0.1', port: server.port, user: 'root', password: server.rootPassword, passwordFrom: [] }), { mode: 0o600 });
  const dump = mariadbBinary('mariadb-dump');
  const client = mariadbBinary('mariadb');
  const bash = (script: string) => timed('bash', ['-c', `set -euo pipefail; ${script}`]);
  const repo = file('repo');
  const hfEnv = { HOLDFAST_DB_PASSWORD: server.rootPassword, HOLDFAST_DB_TARGET_PASSWORD: server.rootPassword };
  const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet'], hfEnv);
  const ids: Record<string, string> = {};
  const holdfastBackup = (fingerprint: string) => async () => {
    const t = await hf(['backup', '--init', '--json', '--fingerprint', fingerprint, '--service', `db=${mysqlUrl(server, 'bench')}`]);
    ids[fingerprint] = (JSON.parse(t.stdout) as { snapshot: string }).snapshot;
    return t;
  };

  log(`generating ${totalRows} sysbench rows in ${tables} tables`);
  const started = Date.now();
  await createSysbenchDataset(server, 'bench', tables, Math.ceil(totalRows / tables));
  const dbBytes = await databaseBytes(server, 'bench');
  log(`database is ${MiB(dbBytes)} MiB (${Math.round((Date.now() - started) / 1000)} s to build); warming the cache`);
  await bash(`'${dump}' --defaults-file='${cnf}' --single-transaction bench > /dev/null`);

  log(`backups: ${rounds} interleaved rounds, median kept`);
  const backup = await interleaved(rounds, {
    dumpZstd: () => bash(`'${dump}' --defaults-file='${cnf}' --single-transaction bench | zstd -q -T0 -3 -f -o '${file('raw.sql.zst')}'`),
    holdfastCounts: holdfastBackup('counts'),
    holdfastNone: holdfastBackup('none'),
  });
  log('backup: holdfast --fingerprint full, once');
  const holdfastFull = await holdfastBackup('full')();
  const manifest = JSON.parse((await hf(['show', ids.counts!, '--json'])).stdout) as { services: { db: { artifacts: Array<{ storedBytes: number; rawBytes: number }> } } };
  const stored = manifest.services.db.artifacts.reduce((n, a) => n + a.storedBytes, 0);
  const raw = manifest.services.db.artifacts.reduce((n, a) => n + a.rawBytes, 0);

  log('restores: mariadb < dump and holdfast restore, interleaved');
  await bash(`zstd -q -d -f '${file('raw.sql.zst')}' -o '${file('raw.sql')}'`);
  let n = 0;
  const restore = await interleaved(Math.min(rounds, 2), {
    mariadbLoad: async () => {
      const db = `r_raw_${++n}`;
      await mysqlQuery(server, `CREATE DATABASE ${db}`);
      const t = await bash(`'${client}' --defaults-file='${cnf}' ${db} < '${file('raw.sql')}'`);
      await mysqlQuery(server, `DROP DATABASE ${db}`);
      return t;
    },
    holdfastRestore: async () => {
      const db = `r_hf_${++n}`;
      const t = await hf(['restore', ids.counts!, '--target', `db=${mysqlUrl(server, db)}`]);
      await mysqlQuery(server, `DROP DATABASE ${db}`);
      return t;
    },
  });
  log('restore: a --fingerprint full snapshot, once');
  const holdfastRestoreFull = await hf(['restore', ids.full!, '--target', `db=${mysqlUrl(server, 'r_hf_full')}`]);

  const summary = {
    server: server.version,
    rows: totalRows,
    tables,
    databaseMiB: MiB(dbBytes),
    dumpMiB: MiB(raw),
    rounds,
    seconds: {
      ...Object.fromEntries(Object.entries(backup).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
      holdfastFull: secs(holdfastFull),
      ...Object.fromEntries(Object.entries(restore).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
      holdfastRestoreFull: secs(holdfastRestoreFull),
    },
    storedMiB: { holdfast: MiB(stored), dumpZstd: MiB((await stat(file('raw.sql.zst'))).size) },
    holdfastPeakRssMiB: {
      backup: Math.max(backup.holdfastCounts.peakRssMiB, backup.holdfastNone.peakRssMiB, holdfastFull.peakRssMiB),
      restore: Math.max(restore.holdfastRestore.peakRssMiB, holdfastRestoreFull.peakRssMiB),
    },
    ratios: {
      'backup / mariadb-dump|zstd': ratio(backup.holdfastCounts.seconds, backup.dumpZstd.seconds),
      'backup --fingerprint none / mariadb-dump|zstd': ratio(backup.holdfastNone.seconds, backup.dumpZstd.seconds),
      'backup --fingerprint full / mariadb-dump|zstd': ratio(holdfastFull.seconds, backup.dumpZstd.seconds),
      'restore / mariadb < dump': ratio(restore.holdfastRestore.seconds, restore.mariadbLoad.seconds),
      'restore of a --fingerprint full snapshot / mariadb < dump': ratio(holdfastRestoreFull.seconds, restore.mariadbLoad.seconds),
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  const out = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `mysql-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(summary, null, 2));
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
