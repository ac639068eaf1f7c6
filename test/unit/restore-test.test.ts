import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, test } from 'vitest';
import { runBackup } from '../../src/core/backup-executor.js';
import type { BackupContext, Driver, Fingerprint, RestoreContext, RestoreResult, ScratchContext } from '../../src/core/driver.js';
import { DriverRegistry } from '../../src/core/registry.js';
import { readRestoreTest, restoreTestAnnotation, runRestoreTest, type RestoreTestRequest } from '../../src/core/restore-test.js';
import { scratchObjectName } from '../../src/core/scratch-names.js';
import type { Manifest } from '../../src/repository/manifest.js';
import type { DirRepository } from '../../src/repository/dir-repository.js';
import { bytes, delay, fakeDriver, planned, service } from './helpers/fake-driver.js';
import { cleanupTemp, silentProgress, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

const RECORDED: Fingerprint = { scope: 'full', items: { 'app.accounts': { count: 3, checksum: 'a1' }, 'app.orders': { count: 10, checksum: 'b2' } } };

/**
 * An in-process engine whose "server" is a map of object names to
 * fingerprints: the source holds `app.*`, a scratch target gets its own
 * names, and the test can see both.
 */
interface FakeEngine {
  driver: Driver;
  server: Map<string, Fingerprint>;
  scratchCalls: ScratchContext[];
  restores: RestoreContext[];
  cleanups: string[];
  /** What the scratch copy will hold after the restore (default: what was recorded). */
  restored?: Fingerprint;
  restoreError?: Error;
  cleanupError?: Error;
  /** The restore waits until aborted. */
  hang?: boolean;
}

function engine(withScratch = true): FakeEngine {
  const e: FakeEngine = { server: new Map([['app', RECORDED]]), scratchCalls: [], restores: [], cleanups: [], driver: undefined as unknown as Driver };
  e.driver = fakeDriver({
    backup: async (ctx: BackupContext) => {
      await ctx.artifacts.write('data.zst', bytes(`data of ${ctx.service.name}\n`), { kind: 'dump' });
      return { details: { databases: ['app'] }, fingerprint: RECORDED };
    },
    restore: async (ctx: RestoreContext): Promise<RestoreResult> => {
      e.restores.push(ctx);
      await text(ctx.artifacts.open('data.zst'));
      const rename = ctx.options.rename as Record<string, string>;
      const to = rename.app!;
      e.server.set(to, e.restored ?? RECORDED);
      if (e.hang) await delay(60_000, ctx.signal);
      if (e.restoreError) throw e.restoreError;
      return { location: `fake:${to}`, fingerprint: e.server.get(to)!, details: { fingerprintPrefixes: ['app'] } };
    },
    ...(withScratch
      ? {
          scratchTarget: async (ctx: ScratchContext) => {
            e.scratchCalls.push(ctx);
            return {
              target: ctx.source,
              options: { rename: { app: `${ctx.prefix}app` } },
              describe: `fake:${ctx.prefix}app`,
              cleanup: async () => {
                e.cleanups.push(ctx.prefix);
                if (e.cleanupError) throw e.cleanupError;
                for (const name of [...e.server.keys()]) if (name.startsWith(ctx.prefix)) e.server.delete(name);
              },
            };
          },
        }
      : {}),
  });
  return e;
}

async function backedUp(e: FakeEngine, names = ['db']): Promise<{ repo: DirRepository; root: string; snapshot: Manifest }> {
  const { repo, root } = await tempRepo();
  const outcome = await runBackup(repo, names.map((n) => planned(service(n), e.driver)), {
    tags: [],
    parallel: 1,
    timeoutMs: () => 0,
    fingerprint: 'full',
    signal: new AbortController().signal,
    progress: silentProgress(),
  });
  return { repo, root, snapshot: await repo.load(outcome.snapshotId!) };
}

function request(snapshot: Manifest, extra: Partial<RestoreTestRequest> = {}): RestoreTestRequest {
  return { snapshot, configured: new Map(), damaged: new Map(), options: {}, signal: new AbortController().signal, progress: silentProgress(), ...extra };
}

describe('restore test', () => {
  test('a faithful restore passes; the scratch copy is gone and the source untouched', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e);
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot));
    expect(result).toMatchObject({ service: 'db', engine: 'fake', strategy: 'dump', verdict: 'ok' });
    expect(e.restores[0]!.inPlace).toBe(false);
    expect(e.restores[0]!.force).toBe(false);
    expect(e.scratchCalls[0]!.prefix).toMatch(/^holdfast_scratch_[0-9a-f]{6}_$/);
    expect(e.cleanups).toEqual([e.scratchCalls[0]!.prefix]);
    expect([...e.server.keys()]).toEqual(['app']);
    expect(e.server.get('app')).toBe(RECORDED);
  });

  test('a scratch copy whose fingerprint differs is a mismatch, and is removed too', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e);
    e.restored = { scope: 'full', items: { 'app.accounts': { count: 3, checksum: 'a1' }, 'app.orders': { count: 9, checksum: 'zz' } } };
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot));
    expect(result!.verdict).toBe('mismatch');
    expect(result!.detail).toContain('app.orders: 9 rows after restore, 10 at backup');
    expect(e.cleanups).toHaveLength(1);
    expect([...e.server.keys()]).toEqual(['app']);
  });

  test('a failing restore is a failed verdict with the reason, and the scratch copy is removed', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e);
    e.restoreError = new Error('pg_restore: out of disk');
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot));
    expect(result!.verdict).toBe('failed');
    expect(result!.detail).toContain('out of disk');
    expect(e.cleanups).toHaveLength(1);
    expect([...e.server.keys()]).toEqual(['app']);
  });

  test('a driver without a scratch target fails clearly, never passes silently', async () => {
    const e = engine(false);
    const { repo, snapshot } = await backedUp(e);
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot));
    expect(result!.verdict).toBe('failed');
    expect(result!.detail).toBe('no restore test for fake/dump: the driver offers no scratch target for it');
    expect(e.restores).toHaveLength(0);
  });

  test('a service whose artifacts failed their checksum is not restored', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e);
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot, { damaged: new Map([['db', 'artifact x is corrupt: the file is missing']]) }));
    expect(result).toMatchObject({ verdict: 'failed', detail: 'not restored: artifact x is corrupt: the file is missing' });
    expect(e.scratchCalls).toHaveLength(0);
  });

  test('a snapshot without a recorded fingerprint cannot pass', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e);
    delete snapshot.services.db!.fingerprint;
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot));
    expect(result!.verdict).toBe('failed');
    expect(result!.detail).toContain('--fingerprint none');
    expect(e.cleanups).toHaveLength(1);
  });

  test('an interrupt removes the scratch copy and fails the services not yet tested', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e, ['db', 'db2']);
    e.hang = true;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const results = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot, { signal: controller.signal }));
    expect(results.map((r) => [r.service, r.verdict])).toEqual([
      ['db', 'failed'],
      ['db2', 'failed'],
    ]);
    expect(results[0]!.detail).toBe('interrupted');
    expect(results[1]!.detail).toBe('interrupted before its turn');
    expect(e.cleanups).toHaveLength(1);
    expect([...e.server.keys()]).toEqual(['app']);
  });

  test('a scratch copy that cannot be removed fails the verdict and names it', async () => {
    const e = engine();
    const { repo, snapshot } = await backedUp(e);
    e.cleanupError = new Error('database is being accessed by other users');
    const [result] = await runRestoreTest(repo, new DriverRegistry([e.driver]), request(snapshot));
    expect(result!.verdict).toBe('failed');
    expect(result!.detail).toMatch(/could not be removed: database is being accessed.*holdfast_scratch_/);
  });

  test('the annotation has the agreed shape and reads back', async () => {
    const at = new Date('2026-11-30T14:00:00Z');
    const value = restoreTestAnnotation(
      [
        { service: 'db', engine: 'postgres', strategy: 'pg_dump', verdict: 'ok', detail: '4 objects equal', durationMs: 1, notes: [] },
        { service: 'search', engine: 'opensearch', strategy: 'snapshot', verdict: 'mismatch', detail: 'docs: 9 rows after restore, 10 at backup', durationMs: 1, notes: [] },
      ],
      at,
    );
    expect(value).toEqual({ at: '2026-11-30T14:00:00.000Z', passed: false, services: { db: { verdict: 'ok' }, search: { verdict: 'mismatch', detail: 'docs: 9 rows after restore, 10 at backup' } } });
    expect(readRestoreTest({ 'restore-test': value })).toEqual(value);
    expect(readRestoreTest({})).toBeUndefined();
    expect(restoreTestAnnotation([]).passed).toBe(false);
  });

  test('scratch names fit the engine limit and stay unique and recognisable', () => {
    const prefix = 'holdfast_scratch_abc123_';
    expect(scratchObjectName(prefix, 'app', 0, 63)).toBe('holdfast_scratch_abc123_app');
    const long = scratchObjectName(prefix, 'x'.repeat(80), 3, 53);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(53);
    expect(long.startsWith(`${prefix}3_`)).toBe(true);
    expect(Buffer.byteLength(scratchObjectName(prefix, 'é'.repeat(40), 1, 53))).toBeLessThanOrEqual(53);
  });
});
