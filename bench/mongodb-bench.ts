/**
 * holdfast against the raw MongoDB Database Tools, on the same data, in one run.
 *
 *   bash scripts/install/mongodb.sh && npm run build
 *   node dist/bench/mongodb-bench.js [--docs 500000] [--rounds 3]
 *
 * The server is FerretDB v1.24 (SQLite), the MongoDB-wire server the tests
 * use (no mongod is obtainable here): absolute times are FerretDB's, which
 * reads ~10k documents/s; the ratios say what holdfast adds. A database URL,
 * so both sides run `mongodump --db bench` (no --oplog).
 * Backup: `holdfast backup` vs `mongodump --archive | zstd -T0 -3`; the
 * `export` strategy (driver, no tools) once. Restore: `holdfast restore` vs
 * `zstd -d | mongorestore --archive --noIndexRestore` into a new database
 * (FerretDB refuses mongorestore's index specs; holdfast creates the indexes
 * itself, which the raw side skips). Interleaved rounds, medians, holdfast's
 * peak RSS; writes bench/out/mongodb-*.json.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { mongoBinDir, mongoToolPath, startMongo } from '../test/servers/mongodb.js';
import { createDataset } from './mongodb-dataset.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const documents = Number(arg('docs', '500000'));
const rounds = Number(arg('rounds', '3'));
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const secs = (t: Timed) => Math.round(t.seconds * 100) / 100;
const log = (text: string) => process.stderr.write(`[mongodb ${documents}] ${text}\n`);

// No oplog: every insert would add an entry that FerretDB scans on each oplog query.
const server = await startMongo({ oplog: false });
const client = new MongoClient(server.url);
const work = await mkdtemp(join(tmpdir(), 'holdfast-bench-mongo-'));
try {
  await client.connect();
  log('generating the dataset');
  await createDataset(client, 'bench', documents, log);
  const stats = await client.db('bench').command({ dbStats: 1 });
  log(`database: ${documents} documents, dataSize ${MiB(Number(stats.dataSize))} MiB; warming up`);
  const dump = mongoToolPath('mongodump');
  const restoreTool = mongoToolPath('mongorestore');
  const file = (name: string) => join(work, name);
  const bash = (script: string) => timed('bash', ['-c', `set -euo pipefail; ${script}`]);
  const uri = server.url;
  await bash(`'${dump}' --uri '${uri}' --db bench --archive >/dev/null 2>&1`);

  const repo = file('repo');
  const hfEnv = { HOLDFAST_MONGO_BINDIR: mongoBinDir() };
  const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet'], hfEnv);
  const source = `mongodb://127.0.0.1:${server.port}/bench`;
  const ids: Record<string, string> = {};
  const holdfastBackup = (key: string, extra: string[]) => async () => {
    const t = await hf(['backup', '--init', '--json', ...extra, '--service', `db=${source}`]);
    ids[key] = (JSON.parse(t.stdout) as { snapshot: string }).snapshot;
    return t;
  };

  log(`backups: ${rounds} interleaved rounds, median kept`);
  const backup = await interleaved(rounds, {
    mongodumpZstd: () => bash(`'${dump}' --uri '${uri}' --db bench --archive 2>/dev/null | zstd -q -T0 -3 -f -o '${file('raw.archive.zst')}'`),
    holdfastCounts: holdfastBackup('counts', ['--fingerprint', 'counts']),
    holdfastNone: holdfastBackup('none', ['--fingerprint', 'none']),
  });
  log('backups: holdfast --fingerprint full and the export strategy, once each');
  const holdfastFull = await holdfastBackup('full', ['--fingerprint', 'full'])();
  const holdfastExport = await holdfastBackup('export', ['--fingerprint', 'counts', '--strategy', 'db=export'])();
  const storedOf = async (id: string) => {
    const manifest = JSON.parse((await hf(['show', id, '--json'])).stdout) as { services: { db: { artifacts: Array<{ storedBytes: number; rawBytes: number }> } } };
    return manifest.services.db.artifacts.reduce((n, a) => ({ stored: n.stored + a.storedBytes, raw: n.raw + a.rawBytes }), { stored: 0, raw: 0 });
  };

  log('restores: mongorestore and holdfast restore, interleaved');
  let n = 0;
  const drop = (db: string) => client.db(db).dropDatabase();
  const restore = await interleaved(Math.min(rounds, 2), {
    mongorestore: async () => {
      const db = `r_raw_${++n}`;
      const t = await bash(`zstd -q -d -c '${file('raw.archive.zst')}' | '${restoreTool}' --uri '${uri}' --archive --noIndexRestore --nsFrom 'bench.$c$' --nsTo '${db}.$c$' 2>/dev/null`);
      await drop(db);
      return t;
    },
    holdfastRestore: async () => {
      const db = `r_hf_${++n}`;
      const t = await hf(['restore', ids.counts!, '--target', `db=mongodb://127.0.0.1:${server.port}/${db}`]);
      await drop(db);
      return t;
    },
  });
  log('restores: a --fingerprint full snapshot and an export snapshot, once each');
  const holdfastRestoreFull = await hf(['restore', ids.full!, '--target', `db=mongodb://127.0.0.1:${server.port}/r_full`]);
  await drop('r_full');
  const holdfastRestoreExport = await hf(['restore', ids.export!, '--target', `db=mongodb://127.0.0.1:${server.port}/r_export`]);
  await drop('r_export');

  const summary = {
    server: server.kind,
    documents,
    dataMiB: MiB(Number(stats.dataSize)),
    rounds,
    seconds: {
      ...Object.fromEntries(Object.entries(backup).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
      holdfastFull: secs(holdfastFull),
      holdfastExport: secs(holdfastExport),
      ...Object.fromEntries(Object.entries(restore).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
      holdfastRestoreFull: secs(holdfastRestoreFull),
      holdfastRestoreExport: secs(holdfastRestoreExport),
    },
    storedMiB: {
      holdfastMongodump: MiB((await storedOf(ids.counts!)).stored),
      holdfastExport: MiB((await storedOf(ids.export!)).stored),
      mongodumpZstd: MiB((await stat(file('raw.archive.zst'))).size),
      archiveRaw: MiB((await storedOf(ids.counts!)).raw),
    },
    holdfastPeakRssMiB: {
      backup: Math.max(backup.holdfastCounts.peakRssMiB, backup.holdfastNone.peakRssMiB, holdfastFull.peakRssMiB),
      backupExport: holdfastExport.peakRssMiB,
      restore: Math.max(restore.holdfastRestore.peakRssMiB, holdfastRestoreFull.peakRssMiB),
      restoreExport: holdfastRestoreExport.peakRssMiB,
    },
    ratios: {
      'backup / mongodump|zstd': ratio(backup.holdfastCounts.seconds, backup.mongodumpZstd.seconds),
      'backup --fingerprint none / mongodump|zstd': ratio(backup.holdfastNone.seconds, backup.mongodumpZstd.seconds),
      'backup --fingerprint full / mongodump|zstd': ratio(holdfastFull.seconds, backup.mongodumpZstd.seconds),
      'backup export strategy / mongodump|zstd': ratio(holdfastExport.seconds, backup.mongodumpZstd.seconds),
      'restore / zstd -d|mongorestore': ratio(restore.holdfastRestore.seconds, restore.mongorestore.seconds),
      'restore of a --fingerprint full snapshot / zstd -d|mongorestore': ratio(holdfastRestoreFull.seconds, restore.mongorestore.seconds),
      'restore of an export snapshot / zstd -d|mongorestore': ratio(holdfastRestoreExport.seconds, restore.mongorestore.seconds),
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  const out = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `mongodb-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(summary, null, 2));
} finally {
  await client.close().catch(() => undefined);
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
