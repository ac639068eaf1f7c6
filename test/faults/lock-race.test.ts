/**
 * The lock race (issue 12): pairs of real processes take the repository lock at the same instant
 * while a stale lock of a dead process is in place. At most one may hold it: a round where both
 * held it at once is a failure. Runs against the dir repository, the encrypted dir repository and
 * an S3 repository (versitygw), and prints its counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DirRepository } from '../../src/repository/dir-repository.js';
import { repositorySecrets } from '../../src/cli/repository-secrets.js';
import { S3Repository } from '../../src/repository/s3/s3-repository.js';
import { parseS3Location } from '../../src/repository/s3/s3-location.js';
import { startS3, type S3Server } from '../servers/s3.js';

const PAIRS = 50;
const HOLD_MS = 60;
const WORKER = new URL('./lock-race-worker.mjs', import.meta.url).pathname;

interface Outcome {
  round: number;
  held?: [number, number];
  refused?: string;
}

/** A contender process, answering one JSON line per round. */
class Contender {
  private readonly lines: AsyncIterator<string>;
  private constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static async start(kind: string, location: string, env: Record<string, string>): Promise<Contender> {
    const child = spawn(process.execPath, [WORKER, kind, location, String(HOLD_MS)], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    const contender = new Contender(child);
    expect(JSON.parse(await contender.next())).toEqual({ ready: true });
    return contender;
  }

  async next(): Promise<string> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the contender exited');
    return value;
  }

  async round(round: number, at: number): Promise<Outcome> {
    this.child.stdin!.write(JSON.stringify({ round, at }) + '\n');
    return JSON.parse(await this.next()) as Outcome;
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.exitCode === null) await once(this.child, 'exit');
  }
}

async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

/**
 * Runs the pairs: before each round a stale lock (its pid gone) is put in place, then both
 * contenders try at the same instant. Returns the counts.
 */
async function race(kind: string, location: string, env: Record<string, string>, placeStale: (pid: number) => Promise<void>, lockGone: () => Promise<boolean>) {
  const a = await Contender.start(kind, location, env);
  const b = await Contender.start(kind, location, env);
  const counts = { pairs: 0, twoHolders: 0, oneHolder: 0, noHolder: 0, refusedMessages: new Set<string>() };
  try {
    for (let round = 0; round < PAIRS; round++) {
      await placeStale(await deadPid());
      const at = Date.now() + 40;
      const [x, y] = await Promise.all([a.round(round, at), b.round(round, at)]);
      counts.pairs++;
      const held = [x, y].filter((o) => o.held);
      const overlap = held.length === 2 && held[0]!.held![0] < held[1]!.held![1] && held[1]!.held![0] < held[0]!.held![1];
      if (overlap) counts.twoHolders++;
      else if (held.length > 0) counts.oneHolder++;
      else counts.noHolder++;
      for (const o of [x, y]) if (o.refused) counts.refusedMessages.add(o.refused.replace(/pid \d+.*/, 'pid …'));
      expect(await lockGone(), `round ${round}: the lock was left behind`).toBe(true);
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  console.log(
    `lock race (${kind === 's3' ? 'S3' : location.includes('encrypted') ? 'encrypted dir' : 'dir'}): ${counts.pairs} pairs against a stale lock, ` +
      `${counts.twoHolders} with two holders at once, ${counts.oneHolder} with one, ${counts.noHolder} with none; refusals: ${[...counts.refusedMessages].join(' | ')}`,
  );
  return counts;
}

function staleInfo(pid: number) {
  const since = new Date(Date.now() - 3_600_000).toISOString();
  return { pid, host: hostname(), since, command: 'backup' };
}

describe('the lock race: 50 pairs of writers against a stale lock', () => {
  let root: string;
  let s3: S3Server;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'holdfast-lock-race-'));
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(root, { recursive: true, force: true });
  });

  for (const encrypted of [false, true]) {
    test(`${encrypted ? 'encrypted ' : ''}dir repository: never two holders`, async () => {
      const location = join(root, encrypted ? 'encrypted' : 'plain');
      const env = encrypted ? { HOLDFAST_PASSWORD: 'race-passphrase' } : {};
      await new DirRepository(location, repositorySecrets(undefined, env, false)).init({ encrypt: encrypted });
      const lockPath = join(location, 'lock');
      const counts = await race(
        'dir',
        location,
        env,
        (pid) => writeFile(lockPath, JSON.stringify(staleInfo(pid))),
        () => stat(lockPath).then(() => false, () => true),
      );
      expect(counts.twoHolders).toBe(0);
      expect(counts.noHolder).toBe(0);
    });
  }

  test('S3 repository (conditional writes): never two holders', async () => {
    await s3.createBucket('race');
    const location = 's3://race/repo';
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      await new S3Repository(location, parseS3Location(location)).init();
    } finally {
      process.env = { ...saved };
    }
    const put = (pid: number) => {
      const info = { ...staleInfo(pid), token: `stale-${pid}`, refreshedAt: new Date(Date.now() - 3_600_000).toISOString() };
      return s3.client.send(new PutObjectCommand({ Bucket: 'race', Key: 'repo/lock.json', Body: JSON.stringify(info) })).then(() => undefined);
    };
    const counts = await race('s3', location, s3.env, put, async () => !(await s3.keys('race', 'repo/')).includes('repo/lock.json'));
    expect(counts.twoHolders).toBe(0);
    expect(counts.noHolder).toBe(0);

    // An unreadable lock object may be another version's being written: it is not stale within the grace period.
    await s3.client.send(new PutObjectCommand({ Bucket: 'race', Key: 'repo/lock.json', Body: '{"pid":' }));
    Object.assign(process.env, s3.env);
    try {
      const repo = new S3Repository(location, parseS3Location(location));
      await repo.open({ create: false });
      await expect(repo.lock('backup')).rejects.toThrow(/locked by unknown \(unreadable lock\)/);
      process.env.HOLDFAST_LOCK_GRACE_SECONDS = '0';
      await new Promise((r) => setTimeout(r, 1100)); // S3 times have one-second precision
      const held = await repo.lock('backup');
      expect(held.notes.join('\n')).toContain('took over a stale lock');
      await held.release();
    } finally {
      process.env = saved;
    }
  });
});
