import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, test } from 'vitest';
import { runBackup } from '../../src/core/backup-executor.js';
import type { BackupContext, Driver, Fingerprint, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { DriverRegistry } from '../../src/core/registry.js';
import { runRestore, type RestoreRequest } from '../../src/core/restore-executor.js';
import type { Service } from '../../src/core/service.js';
import type { Manifest } from '../../src/repository/manifest.js';
import type { DirRepository } from '../../src/repository/dir-repository.js';
import { bytes, fakeDriver, planned, service } from './helpers/fake-driver.js';
import { flipByte } from './helpers/files.js';
import { cleanupTemp, silentProgress, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

const RECORDED: Fingerprint = { scope: 'counts', items: { 'app.public.accounts': { count: 3 }, 'app.public.orders': { count: 10 } } };

interface Fake {
  driver: Driver;
  restores: RestoreContext[];
  /** What the fake restore read from each artifact. */
  contents: Record<string, string>;
  /** The fingerprint the restore reports. */
  restored: Fingerprint;
}

function fake(): Fake {
  const state: Fake = { restores: [], contents: {}, restored: RECORDED, driver: undefined as unknown as Driver };
  state.driver = fakeDriver({
    backup: async (ctx: BackupContext) => {
      if (ctx.service.name === 'broken') throw new Error('dump failed');
      await ctx.artifacts.write('data.zst', bytes(`data of ${ctx.service.name}\n`), { kind: 'dump' });
      await ctx.artifacts.write('globals.zst', bytes('CREATE ROLE app;\n'), { kind: 'globals' });
      return { details: { version: '1.0' }, fingerprint: RECORDED };
    },
    restore: async (ctx: RestoreContext): Promise<RestoreResult> => {
      state.restores.push(ctx);
      for (const record of ctx.artifacts.records) state.contents[`${ctx.source.name}/${record.name}`] = await text(ctx.artifacts.open(record.name));
      return { location: `fake restore of ${ctx.target.name}`, fingerprint: state.restored, details: {} };
    },
  });
  return state;
}

async function backedUp(names: string[]): Promise<{ repo: DirRepository; root: string; snapshot: Manifest; f: Fake }> {
  const { repo, root } = await tempRepo();
  const f = fake();
  const outcome = await runBackup(repo, names.map((n) => planned(service(n), f.driver)), {
    tags: [],
    parallel: 2,
    timeoutMs: () => 0,
    fingerprint: 'counts',
    signal: new AbortController().signal,
    progress: silentProgress(),
  });
  return { repo, root, snapshot: await repo.load(outcome.snapshotId!), f };
}

function request(snapshot: Manifest, extra: Partial<RestoreRequest> = {}): RestoreRequest {
  return {
    snapshot,
    only: [],
    targets: new Map(),
    configured: new Map(),
    force: false,
    options: {},
    signal: new AbortController().signal,
    progress: silentProgress(),
    ...extra,
  };
}

describe('runRestore', () => {
  test('restores every service that succeeded, with its artifacts readable and fingerprints equal', async () => {
    const { repo, snapshot, f } = await backedUp(['db', 'broken']);
    const outcomes = await runRestore(repo, new DriverRegistry([f.driver]), request(snapshot));
    expect(outcomes.map((o) => [o.service, o.status])).toEqual([['db', 'ok']]);
    expect(outcomes[0]!.fingerprint).toMatchObject({ equal: true, compared: 2 });
    expect(f.contents).toEqual({ 'db/data.zst': 'data of db\n', 'db/globals.zst': 'CREATE ROLE app;\n' });
    const ctx = f.restores[0]!;
    expect(ctx.inPlace).toBe(true);
    expect(ctx.strategy).toBe('dump');
    expect(ctx.recorded.fingerprint).toEqual(RECORDED);
    expect(ctx.target.endpoint).toMatchObject({ scheme: 'fake', host: '127.0.0.1', port: 7, path: 'db' });
  });

  test('a flipped byte in a stored artifact: failed with an integrity error naming it, and the driver is never called', async () => {
    const { repo, root, snapshot, f } = await backedUp(['db']);
    await flipByte(join(root, 'snapshots', snapshot.id, 'db', 'globals.zst'));
    const outcomes = await runRestore(repo, new DriverRegistry([f.driver]), request(snapshot));
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.status).toBe('failed');
    expect(outcomes[0]!.error?.code).toBe('integrity');
    expect(outcomes[0]!.error?.message).toContain(`${snapshot.id}/db/globals.zst`);
    expect(f.restores).toHaveLength(0);
  });

  test('a missing artifact file: failed before the driver is called', async () => {
    const { repo, root, snapshot, f } = await backedUp(['db']);
    await rm(join(root, 'snapshots', snapshot.id, 'db', 'data.zst'));
    const outcomes = await runRestore(repo, new DriverRegistry([f.driver]), request(snapshot));
    expect(outcomes[0]).toMatchObject({ status: 'failed', error: { code: 'integrity', message: expect.stringContaining('missing') } });
    expect(f.restores).toHaveLength(0);
  });

  test('different counts after the restore: status mismatch with the differences', async () => {
    const { repo, snapshot, f } = await backedUp(['db']);
    f.restored = { scope: 'counts', items: { 'app.public.accounts': { count: 3 }, 'app.public.orders': { count: 9 } } };
    const [outcome] = await runRestore(repo, new DriverRegistry([f.driver]), request(snapshot));
    expect(outcome!.status).toBe('mismatch');
    expect(outcome!.fingerprint?.equal).toBe(false);
    expect(outcome!.fingerprint?.differences).toEqual([expect.stringContaining('app.public.orders')]);
  });

  test('a service that failed at backup cannot be restored: not-found', async () => {
    const { repo, snapshot, f } = await backedUp(['db', 'broken']);
    await expect(runRestore(repo, new DriverRegistry([f.driver]), request(snapshot, { only: ['broken'] }))).rejects.toMatchObject({
      code: 'not-found',
      service: 'broken',
      message: expect.stringContaining('failed at backup'),
    });
    expect(f.restores).toHaveLength(0);
  });

  test('an unknown service name: not-found, listing the services of the snapshot', async () => {
    const { repo, snapshot, f } = await backedUp(['db', 'cache']);
    const error = await runRestore(repo, new DriverRegistry([f.driver]), request(snapshot, { only: ['db', 'nosuch'] })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'not-found', message: expect.stringContaining('nosuch') });
    expect((error as { hint: string }).hint).toContain('db');
    expect((error as { hint: string }).hint).toContain('cache');
    // Names are checked before anything is restored.
    expect(f.restores).toHaveLength(0);
  });

  test('a target elsewhere: the driver gets it and inPlace is false', async () => {
    const { repo, snapshot, f } = await backedUp(['db']);
    const target: Service = service('db', { endpoint: { scheme: 'fake', host: 'elsewhere', path: 'copy', params: {} }, secretEnv: ['HOLDFAST_DB_TARGET'] });
    const [outcome] = await runRestore(repo, new DriverRegistry([f.driver]), request(snapshot, { targets: new Map([['db', target]]) }));
    expect(outcome!.status).toBe('ok');
    expect(f.restores[0]!.inPlace).toBe(false);
    expect(f.restores[0]!.target.endpoint?.host).toBe('elsewhere');
    expect(f.restores[0]!.source.endpoint?.host).toBe('127.0.0.1');
  });

  test('a service with no endpoint, not configured and no target: a config error, nothing restored', async () => {
    const { repo, snapshot, f } = await backedUp(['db']);
    const { endpoint: _recorded, ...db } = snapshot.services.db!;
    const withoutEndpoint: Manifest = { ...snapshot, services: { db } };
    const [outcome] = await runRestore(repo, new DriverRegistry([f.driver]), request(withoutEndpoint));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'config', hint: expect.stringContaining('--target db=') } });
    expect(f.restores).toHaveLength(0);
  });
});
