import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { committedSnapshots } from '../support/repo-files.js';
import { seedSample } from '../support/sample-data.js';
import { copySnapshotAt, recordRestoreTest } from '../support/snapshot-at.js';

interface ForgetJson {
  status: string;
  dryRun: boolean;
  policy: string;
  timeZone: string;
  keep: Array<{ id: string; localTime: string; reasons: string[]; protectedAsVerified: boolean }>;
  remove: Array<{ id: string; removed: boolean }>;
  broken: Array<{ id: string; error: string }>;
}

/** Every file under a directory with its size and modification time: "changes nothing" made checkable. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const s = await stat(path);
    out.push(`${path.slice(dir.length)} ${entry.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`);
  }
  return out.sort();
}

/*
 * Snapshots at controlled times: one real backup of a real PostgreSQL, and
 * copies of it committed as if taken in March (test/support/snapshot-at.ts).
 * The CLI runs with TZ=America/New_York, where 23:30 UTC on 10 March and
 * 00:30 UTC on 11 March are the same local day: a UTC bucketing would keep
 * a different set, so the test tells the two apart.
 */
describe('forget: retention on a real repository', () => {
  let db: PgCluster;
  let work: string;
  let repo: string;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};
  const policy = ['--keep-daily', '3', '--keep-tag', 'pre-upgrade'];

  beforeAll(async () => {
    db = await startPgCluster();
    await seedSample(db, 'app', 300);
    work = await mkdtemp(join(tmpdir(), 'holdfast-forget-'));
    repo = join(work, 'repo');
    env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: db.password, HOLDFAST_DB_TARGET_PASSWORD: db.password, TZ: 'America/New_York' };
    const backup = await holdfast(['backup', '--json', '--service', `db=${db.url('app')}`], env);
    expect(backup.code, backup.stderr).toBe(0);
    ids.real = backup.json<{ snapshot: string }>().snapshot;
    ids.march1 = await copySnapshotAt(repo, ids.real, '2026-03-01T15:00:00.000Z', ['pre-upgrade']);
    ids.march5 = await copySnapshotAt(repo, ids.real, '2026-03-05T15:00:00.000Z');
    ids.march9 = await copySnapshotAt(repo, ids.real, '2026-03-09T12:00:00.000Z');
    ids.march10late = await copySnapshotAt(repo, ids.real, '2026-03-10T23:30:00.000Z');
    ids.march11utc = await copySnapshotAt(repo, ids.real, '2026-03-11T00:30:00.000Z');
    ids.broken = await copySnapshotAt(repo, ids.real, '2026-02-01T12:00:00.000Z');
    await truncate(join(repo, 'snapshots', ids.broken, 'manifest.json'), 40);

    // A real restore test of the 5 March snapshot: restore beside the source, compare fingerprints, record the verdict.
    const restore = await holdfast(['restore', ids.march5, '--json', '--target', `db=${db.url('restore_test_scratch')}`], env);
    expect(restore.code, restore.stderr).toBe(0);
    const fingerprint = restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint;
    expect(fingerprint.equal).toBe(true);
    await recordRestoreTest(repo, ids.march5, fingerprint.equal);
    await db.query('DROP DATABASE restore_test_scratch');
  });

  afterAll(async () => {
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('no policy, or only zeros: refused with exit 2, nothing removed', async () => {
    const before = await tree(repo);
    for (const args of [['forget'], ['forget', '--keep-last', '0', '--keep-daily', '0'], ['forget', '--keep-daily', 'seven']]) {
      const r = await holdfast(args, env);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/forget needs a policy|--keep-daily "seven": give a whole number/);
    }
    expect(await tree(repo)).toEqual(before);
  });

  test('--dry-run prints the decision, with local times and reasons, and changes nothing', async () => {
    const before = await tree(repo);
    const dry = await holdfast(['forget', ...policy, '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const doc = dry.json<ForgetJson>();
    expect(doc).toMatchObject({ status: 'ok', dryRun: true, timeZone: 'America/New_York', policy: 'keep 3 daily snapshots and all snapshots with tags [pre-upgrade]' });
    const reasons = Object.fromEntries(doc.keep.map((k) => [k.id, k.reasons]));
    expect(Object.keys(reasons).sort()).toEqual([ids.march1, ids.march5, ids.march9, ids.march11utc, ids.real].sort());
    expect(reasons[ids.real]).toEqual(['daily snapshot']);
    expect(reasons[ids.march11utc]).toEqual(['daily snapshot']); // 10 March, 20:30 in New York
    expect(reasons[ids.march9]).toEqual(['daily snapshot']); // the third day with snapshots
    expect(reasons[ids.march1]).toEqual(['has tags [pre-upgrade]']);
    expect(reasons[ids.march5]!.join()).toMatch(/newest snapshot that passed a restore test/);
    expect(doc.keep.find((k) => k.id === ids.march11utc)!.localTime).toBe('2026-03-10 20:30:00');
    expect(doc.remove).toEqual([expect.objectContaining({ id: ids.march10late, removed: false })]);
    expect(doc.broken).toEqual([expect.objectContaining({ id: ids.broken })]);
    expect(dry.stderr).toContain(`snapshot ${ids.broken} is broken and was left in place`);

    const text = await holdfast(['forget', ...policy, '--dry-run'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/keep 5 snapshots:/);
    expect(text.stdout).toMatch(new RegExp(`${ids.march1}\\s+2026-03-01 10:00:00\\s+ok\\s+pre-upgrade\\s+has tags \\[pre-upgrade\\]`));
    expect(text.stdout).toMatch(new RegExp(`would remove 1 snapshots:\\s+ID.*\\n${ids.march10late}`));
    expect(text.stdout).toMatch(new RegExp(`1 broken snapshots, never removed by a policy:[\\s\\S]*${ids.broken}`));
    expect(text.stdout).toContain('nothing was changed');
    // The same policy bucketed in UTC would keep the late 10 March snapshot instead: the zone matters.
    const utc = await holdfast(['forget', ...policy, '--dry-run', '--json'], { ...env, TZ: 'UTC' });
    expect(utc.json<ForgetJson>().remove.map((r) => r.id)).toEqual([ids.march9]);

    expect(await tree(repo)).toEqual(before);
  });

  test('forget removes what the policy does not keep, keeps the restore-tested and the broken snapshots; the kept ones still restore', async () => {
    const run = await holdfast(['forget', ...policy, '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const doc = run.json<ForgetJson>();
    expect(doc.dryRun).toBe(false);
    expect(doc.remove).toEqual([expect.objectContaining({ id: ids.march10late, removed: true })]);
    expect(doc.keep.find((k) => k.id === ids.march5)!.protectedAsVerified).toBe(true);
    expect(await committedSnapshots(repo)).toEqual([ids.broken, ids.march1, ids.march5, ids.march9, ids.march11utc, ids.real].sort());
    expect(await readdir(join(repo, 'tmp'))).toEqual([]);
    await expect(stat(join(repo, 'lock'))).rejects.toThrow();

    const restore = await holdfast(['restore', ids.march9, '--json', '--target', `db=${db.url('after_forget')}`], env);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);

    // Asked to, it lets the policy remove the restore-tested snapshot too.
    const allowed = await holdfast(['forget', ...policy, '--allow-forget-verified', '--json'], env);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.json<ForgetJson>().remove.map((r) => r.id)).toEqual([ids.march5]);
    expect(await committedSnapshots(repo)).not.toContain(ids.march5);
    expect(await committedSnapshots(repo)).toContain(ids.broken);
  });

  test('a backup holding the repository makes forget fail clearly, or wait with --retry-lock', async () => {
    // Hold a table lock so that the backup's dump waits inside its snapshot, holding the repository lock.
    const blocker = new pg.Client({ host: '127.0.0.1', port: db.port, user: 'postgres', password: db.password, database: 'app' });
    await blocker.connect();
    let released = false;
    try {
      await blocker.query('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      const backup = holdfast(['backup', '--json', '--service', `db=${db.url('app')}`], env);
      await waitFor('the backup to take the repository lock', async () => ((await stat(join(repo, 'lock')).catch(() => undefined)) ? true : undefined), { timeoutMs: 60_000 });
      const before = await committedSnapshots(repo);

      const refused = await holdfast(['forget', '--keep-last', '1'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/the repository is locked by backup \(pid \d+ on .*, since .*\)/);
      expect(refused.stderr).toMatch(/hint: wait for that backup to finish and run this again.*--retry-lock/);
      expect(await committedSnapshots(repo)).toEqual(before);

      let waitingSaid = false;
      const waiting = holdfast(['forget', '--keep-last', '1', '--retry-lock', '120'], env, { onStderr: (text) => (waitingSaid ||= /waiting up to 120s for the repository lock held by backup \(pid \d+/.test(text)) });
      await waitFor('forget to wait for the lock', async () => (waitingSaid ? true : undefined), { timeoutMs: 60_000 });
      await blocker.query('COMMIT');
      released = true;
      const [backed, forgot] = await Promise.all([backup, waiting]);
      const newest = savedSnapshot(backed);
      expect(forgot.code, forgot.stderr).toBe(0);
      // It waited for the backup, then saw its snapshot: that is the one "last" keeps.
      expect(forgot.stdout).toMatch(new RegExp(`keep 1 snapshots:\\s+ID.*\\n${newest}\\s.*last snapshot`));
      expect(forgot.stdout).toMatch(/4 snapshots removed, 1 kept/);
      expect(await committedSnapshots(repo)).toEqual([ids.broken, newest].sort());
    } finally {
      if (!released) await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  });
});
