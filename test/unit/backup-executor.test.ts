import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { runBackup, type BackupOptions } from '../../src/core/backup-executor.js';
import type { BackupContext, Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { PlanItem } from '../../src/core/planner.js';
import { isBroken } from '../../src/repository/repository.js';
import { bytes, delay, endless, fakeDriver, planned, service } from './helpers/fake-driver.js';
import { cleanupTemp, listDir, silentProgress, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

function options(extra: Partial<BackupOptions> = {}): BackupOptions {
  return {
    tags: [],
    parallel: 2,
    timeoutMs: () => 0,
    fingerprint: 'counts',
    signal: new AbortController().signal,
    progress: silentProgress(),
    ...extra,
  };
}

/** A driver whose backup of each service is given by name. */
function driverFor(backups: Record<string, (ctx: BackupContext) => Promise<void>>): Driver {
  return fakeDriver({
    backup: async (ctx) => {
      const run = backups[ctx.service.name];
      if (!run) throw new Error(`no fake backup for ${ctx.service.name}`);
      await run(ctx);
      return { details: { version: '1.0' }, fingerprint: { scope: 'counts', items: { [`${ctx.service.name}.t`]: { count: 3 } } } };
    },
  });
}

const writesDump = (content: string) => async (ctx: BackupContext) => {
  await ctx.artifacts.write('dump.zst', bytes(content), { kind: 'dump', label: ctx.service.name });
};

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('runBackup', () => {
  test('all services ok: the snapshot is committed and listed, artifacts match the stored files', async () => {
    const { repo, root } = await tempRepo();
    const driver = driverFor({ a: writesDump('rows of a\n'.repeat(1000)), b: writesDump('rows of b\n') });
    const outcome = await runBackup(repo, [planned(service('a'), driver), planned(service('b'), driver)], options({ tags: ['nightly'] }));

    expect(outcome.status).toBe('ok');
    expect(outcome.snapshotId).toBeDefined();
    const listed = await repo.list();
    expect(listed.map((m) => m.id)).toEqual([outcome.snapshotId]);
    const manifest = await repo.load(outcome.snapshotId!);
    expect(manifest.status).toBe('ok');
    expect(manifest.tags).toEqual(['nightly']);
    expect(Object.keys(manifest.services).sort()).toEqual(['a', 'b']);
    for (const name of ['a', 'b']) {
      const record = manifest.services[name]!;
      expect(record.status).toBe('ok');
      expect(record.strategy).toBe('dump');
      expect(record.fingerprint?.items[`${name}.t`]?.count).toBe(3);
      expect(record.artifacts).toHaveLength(1);
      const artifact = record.artifacts[0]!;
      const stored = await readFile(join(root, 'snapshots', outcome.snapshotId!, name, artifact.name));
      expect(artifact.sha256).toBe(sha256(stored));
      expect(artifact.storedBytes).toBe(stored.length);
      expect(artifact.label).toBe(name);
    }
    expect(manifest.services.a!.artifacts[0]!.rawBytes).toBe(10_000);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
  });

  test('one of two services fails: partial, the failure is recorded and its files are gone', async () => {
    const { repo, root } = await tempRepo();
    const driver = driverFor({
      good: writesDump('good data\n'),
      bad: async (ctx) => {
        await ctx.artifacts.write('first.zst', bytes('half of it\n'), { kind: 'dump' });
        throw new HoldfastError('tool', 'dumptool exited with status 1: relation does not exist');
      },
    });
    const outcome = await runBackup(repo, [planned(service('good'), driver), planned(service('bad'), driver)], options());

    expect(outcome.status).toBe('partial');
    const manifest = await repo.load(outcome.snapshotId!);
    expect(manifest.status).toBe('partial');
    expect(manifest.services.good!.status).toBe('ok');
    const bad = manifest.services.bad!;
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatchObject({ code: 'tool', message: expect.stringContaining('relation does not exist') });
    expect(bad.artifacts).toEqual([]);
    const snapshotDir = join(root, 'snapshots', outcome.snapshotId!);
    expect(await listDir(join(snapshotDir, 'bad'))).toEqual([]);
    expect(await listDir(snapshotDir)).toEqual(['good', 'manifest.json']);
  });

  test('a service whose artifact source breaks mid-stream fails and leaves no file', async () => {
    const { repo, root } = await tempRepo();
    const driver = driverFor({
      good: writesDump('good data\n'),
      broken: async (ctx) => {
        const source = endless();
        setTimeout(() => source.destroy(new Error('server closed the connection unexpectedly')), 50);
        await ctx.artifacts.write('dump.zst', source, { kind: 'dump' });
      },
    });
    const outcome = await runBackup(repo, [planned(service('good'), driver), planned(service('broken'), driver)], options());
    expect(outcome.status).toBe('partial');
    expect(outcome.services.broken!.error?.message).toContain('server closed the connection');
    expect(await listDir(join(root, 'snapshots', outcome.snapshotId!))).toEqual(['good', 'manifest.json']);
  });

  test('every service fails: nothing is listed and the staging area is empty', async () => {
    const { repo, root } = await tempRepo();
    const failing = async (ctx: BackupContext) => {
      await ctx.artifacts.write('dump.zst', bytes('partial'), { kind: 'dump' });
      throw new Error('boom');
    };
    const driver = driverFor({ a: failing, b: failing });
    const outcome = await runBackup(repo, [planned(service('a'), driver), planned(service('b'), driver)], options());
    expect(outcome.status).toBe('failed');
    expect(outcome.snapshotId).toBeUndefined();
    expect(outcome.manifest).toBeUndefined();
    expect(outcome.services.a!.error?.message).toBe('boom');
    expect(await repo.list()).toEqual([]);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
    expect(await listDir(join(root, 'snapshots'))).toEqual([]);
  });

  test('a service the planner could not plan is recorded as failed with the planner error', async () => {
    const { repo } = await tempRepo();
    const driver = driverFor({ ok: writesDump('x') });
    const unplannable: PlanItem = {
      service: service('down'),
      reason: 'cannot reach the server',
      offers: [],
      error: new HoldfastError('connect', 'cannot reach the server: ECONNREFUSED', { service: 'down', hint: 'check the host' }),
    };
    const outcome = await runBackup(repo, [planned(service('ok'), driver), unplannable], options());
    expect(outcome.status).toBe('partial');
    expect(outcome.services.down).toMatchObject({ status: 'failed', error: { code: 'connect', hint: 'check the host' } });
  });

  for (const parallel of [1, 2]) {
    test(`parallel: ${parallel} runs at most ${parallel} backups at once`, async () => {
      const { repo } = await tempRepo();
      let running = 0;
      let most = 0;
      const slow = async (ctx: BackupContext) => {
        running++;
        most = Math.max(most, running);
        try {
          await delay(150);
          await ctx.artifacts.write('dump.zst', bytes(ctx.service.name), { kind: 'dump' });
        } finally {
          running--;
        }
      };
      const driver = driverFor({ a: slow, b: slow, c: slow });
      const outcome = await runBackup(repo, ['a', 'b', 'c'].map((n) => planned(service(n), driver)), options({ parallel }));
      expect(outcome.status).toBe('ok');
      expect(most).toBe(parallel);
    });
  }

  test('a service over its timeout fails with code timeout; the other one is saved', async () => {
    const { repo, root } = await tempRepo();
    const driver = driverFor({
      quick: writesDump('quick\n'),
      stuck: async (ctx) => {
        await ctx.artifacts.write('dump.zst', endless(), { kind: 'dump' });
      },
    });
    const started = Date.now();
    const outcome = await runBackup(repo, [planned(service('quick'), driver), planned(service('stuck'), driver)], options({
      timeoutMs: (s) => (s.name === 'stuck' ? 300 : 0),
    }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(outcome.status).toBe('partial');
    expect(outcome.services.quick!.status).toBe('ok');
    expect(outcome.services.stuck).toMatchObject({ status: 'failed', error: { code: 'timeout' } });
    expect(await listDir(join(root, 'snapshots', outcome.snapshotId!))).toEqual(['manifest.json', 'quick']);
  });

  test('interrupted while running: throws interrupted, nothing is listed, the lock is released', async () => {
    const { repo, root } = await tempRepo();
    const controller = new AbortController();
    const driver = driverFor({
      a: async (ctx) => {
        await ctx.artifacts.write('dump.zst', endless(), { kind: 'dump' });
      },
      b: writesDump('b\n'),
    });
    setTimeout(() => controller.abort(), 200);
    await expect(runBackup(repo, [planned(service('a'), driver), planned(service('b'), driver)], options({ signal: controller.signal }))).rejects.toMatchObject({
      code: 'interrupted',
    });
    expect(await repo.list()).toEqual([]);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
    expect(await listDir(root)).not.toContain('lock');
  });

  test('interrupted: services that have not started yet are not started with a live signal', async () => {
    const { repo } = await tempRepo();
    const controller = new AbortController();
    const second: { called: boolean; signalAborted?: boolean } = { called: false };
    const driver = driverFor({
      first: async (ctx) => {
        setTimeout(() => controller.abort(), 100);
        await ctx.artifacts.write('dump.zst', endless(), { kind: 'dump' });
      },
      second: async (ctx) => {
        second.called = true;
        second.signalAborted = ctx.signal.aborted;
        await ctx.artifacts.write('dump.zst', bytes('second\n'), { kind: 'dump' });
      },
    });
    await expect(runBackup(repo, [planned(service('first'), driver), planned(service('second'), driver)], options({ parallel: 1, signal: controller.signal }))).rejects.toMatchObject({
      code: 'interrupted',
    });
    // After Ctrl-C the remaining services must not run a whole backup that is thrown away.
    expect(second.called && !second.signalAborted, 'the second service was started after the abort, with a signal that is not aborted').toBe(false);
  });

  test('a signal aborted before the run: throws interrupted and no driver runs with a live signal', async () => {
    const { repo } = await tempRepo();
    const controller = new AbortController();
    controller.abort();
    const seen: boolean[] = [];
    const driver = driverFor({
      a: async (ctx) => {
        seen.push(ctx.signal.aborted);
        await ctx.artifacts.write('dump.zst', bytes('a\n'), { kind: 'dump' });
      },
    });
    await expect(runBackup(repo, [planned(service('a'), driver)], options({ signal: controller.signal }))).rejects.toMatchObject({ code: 'interrupted' });
    expect(await repo.list()).toEqual([]);
    expect(seen.filter((aborted) => !aborted), 'a driver ran with a live signal although the run was already interrupted').toEqual([]);
  });

  test('a driver that stores no artifact fails', async () => {
    const { repo } = await tempRepo();
    const driver = driverFor({ empty: async () => undefined, full: writesDump('x\n') });
    const outcome = await runBackup(repo, [planned(service('empty'), driver), planned(service('full'), driver)], options());
    expect(outcome.status).toBe('partial');
    expect(outcome.services.empty).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('no artifact') } });
  });

  test('an artifact discarded by the driver is neither recorded nor stored', async () => {
    const { repo, root } = await tempRepo();
    const driver = driverFor({
      db: async (ctx) => {
        await ctx.artifacts.write('attempt-1.zst', bytes('first try'), { kind: 'dump' });
        await ctx.artifacts.discard('attempt-1.zst');
        await ctx.artifacts.write('attempt-2.zst', bytes('second try'), { kind: 'dump' });
      },
    });
    const outcome = await runBackup(repo, [planned(service('db'), driver)], options());
    expect(outcome.services.db!.artifacts.map((a) => a.name)).toEqual(['attempt-2.zst']);
    expect(await listDir(join(root, 'snapshots', outcome.snapshotId!, 'db'))).toEqual(['attempt-2.zst']);
  });

  test('the manifest holds no secret: password options and URL passwords are left out', async () => {
    const { repo, root } = await tempRepo();
    const driver = driverFor({ db: writesDump('x\n') });
    const svc = service('db', {
      endpoint: { scheme: 'fake', host: '127.0.0.1', port: 7, user: 'app', path: 'app', params: {}, password: 'Hunter2Secret' },
      options: { databases: ['app'], password: 'OptionSecret', api_token: 'TokenSecret', password_file: '/run/secrets/db' },
    });
    const outcome = await runBackup(repo, [planned(svc, driver)], options());
    const text = await readFile(join(root, 'snapshots', outcome.snapshotId!, 'manifest.json'), 'utf8');
    expect(text).not.toContain('Hunter2Secret');
    expect(text).not.toContain('OptionSecret');
    expect(text).not.toContain('TokenSecret');
    const record = (await repo.load(outcome.snapshotId!)).services.db!;
    expect(record.endpoint).toBe('fake://app@127.0.0.1:7/app');
    expect(record.options).toEqual({ databases: ['app'], password_file: '/run/secrets/db' });
  });

  test('an unsafe artifact name chosen by a driver is refused', async () => {
    const { repo } = await tempRepo();
    const driver = driverFor({ db: async (ctx) => void (await ctx.artifacts.write('../escape', bytes('x'), { kind: 'dump' })) });
    const outcome = await runBackup(repo, [planned(service('db'), driver)], options());
    expect(outcome.status).toBe('failed');
    expect(outcome.services.db!.error?.message).toContain('unsafe artifact name');
    const entries = await repo.list();
    expect(entries.filter((e) => !isBroken(e))).toEqual([]);
  });
});
