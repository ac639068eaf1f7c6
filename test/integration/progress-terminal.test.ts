import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { onTerminal, terminalFrames } from '../support/terminal.js';

const MiB = 1024 * 1024;

/** `12 MiB` / `1.5 GiB` back to bytes, for comparing what the lines say. */
function bytesOf(text: string): number {
  const [, value, unit] = /([\d.]+) (B|KiB|MiB|GiB)/.exec(text)!;
  return Number(value) * { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB }[unit as 'B']!;
}

describe('progress on a terminal tells the truth: raw bytes against the known size, stored beside them', () => {
  let pg: PgCluster;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE app');
    // ~60 MB of rows: enough for the dump and the restore to take a few refreshes of the line.
    await pg.query("CREATE TABLE events AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 700000) g", 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-progress-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: pg.password };
    expect((await holdfast(['init'], env)).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup, then restore: per-service lines count raw bytes of the total with a percentage, and end on the true size', async () => {
    const backup = await onTerminal(['backup', '--service', `db=${pg.url('app')}`], env);
    expect(backup.code, backup.output).toBe(0);
    const frames = terminalFrames(backup.output);
    // While it runs: raw bytes of the database's size, percentage, rate.
    const running = frames.filter((l) => /^db: dump app {2}[\d.]+ \w+ of ~[\d.]+ \w+ \(\d+%\) at /.test(l));
    expect(running.length, backup.output).toBeGreaterThan(0);
    expect(running.some((l) => bytesOf(l.split('  ')[1]!) > 0), backup.output).toBe(true);
    // When it ends: the raw size and the stored size, the same the result table reports.
    const done = frames.find((l) => l.startsWith('db: done in '));
    expect(done, backup.output).toMatch(/db: done in [\d.]+m?s {2}([\d.]+ \w+) .*stored ([\d.]+ \w+)/);
    const [, raw, stored] = /db: done in \S+ {2}([\d.]+ \w+) .*stored ([\d.]+ \w+)/.exec(done!)!;
    expect(bytesOf(raw!)).toBeGreaterThan(40 * MiB);
    expect(bytesOf(stored!)).toBeGreaterThan(0);
    expect(bytesOf(stored!)).toBeLessThan(bytesOf(raw!));
    const table = frames.find((l) => /^db\s+postgres\s+pg_dump/.test(l));
    expect(table, backup.output).toContain(raw!);

    await pg.query('DROP DATABASE app');
    const restore = await onTerminal(['restore', 'latest', '--target', `db=${pg.url('app')}`], env);
    expect(restore.code, restore.output).toBe(0);
    const restoring = terminalFrames(restore.output).filter((l) => /^db: restore app {2}[\d.]+ \w+ of [\d.]+ \w+ \(\d+%\)/.test(l));
    expect(restoring.length, restore.output).toBeGreaterThan(0);
    // Restore progress counts the bytes read from the artifacts: not "0 B" for the whole run.
    expect(restoring.some((l) => bytesOf(l.split('  ')[1]!) > 0), restore.output).toBe(true);
    const restored = terminalFrames(restore.output).find((l) => l.startsWith('db: done in '));
    // globals.sql is not read (restored onto its own server): the done line still shows the data's size.
    expect(restored, restore.output).toContain(`  ${raw!} at `);
  }, 180_000);

  test('verify --restore-test: the checksum lines come as soon as they are known, before the restore test runs', async () => {
    const verify = await onTerminal(['verify', 'latest', '--restore-test'], env);
    expect(verify.code, verify.output).toBe(0);
    const frames = terminalFrames(verify.output);
    const checksums = frames.findIndex((l) => /artifacts verified( in .+)?$/.test(l));
    const restoring = frames.findIndex((l) => /^db: (scratch target|restore )/.test(l));
    expect(checksums, verify.output).toBeGreaterThanOrEqual(0);
    expect(restoring, verify.output).toBeGreaterThan(checksums);
    expect(frames.findIndex((l) => /restore test passed/.test(l))).toBeGreaterThan(restoring);
  }, 120_000);
});
