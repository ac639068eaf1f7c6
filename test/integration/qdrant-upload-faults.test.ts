import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeQdrant, type FakeQdrant, type UploadFault } from '../servers/qdrant-fake.js';
import { holdfast, savedSnapshot, type CliResult } from '../support/cli.js';
import { seedQdrant } from '../support/qdrant-data.js';

// Against the FAKE Qdrant, which answers upload errors before reading the body and closes the
// connection, as Qdrant 1.19 does (test/servers/qdrant-fake.ts). Issue 12 item 5 and issue 16
// point 5: every upload step is bounded (HOLDFAST_STALL_SECONDS), fails with the status and
// Qdrant's own text, and leaves nothing on the node.
const KEY = 'fault-key-31';
const RO = 'read-only-key-31';
const DEADLINE_MS = 25_000;

interface Doc {
  services: Array<{ status: string; error?: { code: string; message: string; hint?: string } }>;
}

/** The CLI, killed if it outlives the deadline (the old code waited forever). */
async function bounded(args: string[], env: Record<string, string>): Promise<CliResult & { ms: number }> {
  let pid = 0;
  const started = Date.now();
  const timer = setTimeout(() => pid && process.kill(pid, 'SIGKILL'), DEADLINE_MS);
  try {
    const res = await holdfast(args, env, { onSpawn: (p) => (pid = p) });
    return Object.assign(res, { ms: Date.now() - started });
  } finally {
    clearTimeout(timer);
  }
}

describe('qdrant uploads that the node refuses, stalls or cuts (fake Qdrant)', () => {
  let source: FakeQdrant;
  let target: FakeQdrant;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    source = await startFakeQdrant({ apiKey: KEY });
    target = await startFakeQdrant({ apiKey: KEY, readOnlyApiKey: RO });
    await seedQdrant(source.url, KEY);
    work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-faults-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: KEY, HOLDFAST_SRC_TARGET_PASSWORD: KEY, HOLDFAST_STALL_SECONDS: '2', HOLDFAST_ANSWER_SECONDS: '3', HOLDFAST_STATE_DIR: join(work, 'state') };
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`], env));
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const restore = (extra: string[] = [], e: Record<string, string> = env) => bounded(['restore', snapshot, '--json', '--target', `src=qdrant://127.0.0.1:${target.port}`, ...extra], e);

  test.each<[string, UploadFault, RegExp]>([
    ['HTTP 500 before the body is read', { kind: 'error-before-body', status: 500, error: 'Service internal error: No space left on device (os error 28)' }, /HTTP 500 Service internal error: No space left on device \(os error 28\)/],
    ['a reader that stops half way', { kind: 'stall-after-half' }, /stopped reading the upload after \d+ bytes|gave no answer within/],
    ['a connection closed mid-body', { kind: 'close-mid-body' }, /connection failed after \d+ bytes/],
  ])('%s fails the restore within the stall bound, with the reason, and leaves nothing', async (_name, fault, message) => {
    target.faultNextUpload(fault);
    const res = await restore();
    expect(res.ms, 'the restore must end on its own').toBeLessThan(DEADLINE_MS);
    expect(res.code).toBe(1);
    const error = res.json<Doc>().services[0]!.error!;
    expect(error.message, JSON.stringify(error)).toMatch(message);
    expect(target.serverSnapshots()).toEqual({});
  });

  test('a read-only key (403) and a name Qdrant refuses (422) are answered early: the user sees the status and Qdrant\'s text', async () => {
    const ro = await restore([], { ...env, HOLDFAST_SRC_TARGET_PASSWORD: RO });
    expect(ro.ms).toBeLessThan(DEADLINE_MS);
    expect(ro.code).toBe(1);
    const roError = ro.json<Doc>().services[0]!.error!;
    expect(roError.message, JSON.stringify(roError)).toMatch(/403/);
    expect(roError.code).toBe('auth');
    expect(roError.hint).toMatch(/read-only/);
    expect(ro.stdout + ro.stderr).not.toContain(RO);

    const colon = await restore(['--rename-pattern', '^docs$', '--rename-replacement', 'docs:v2']);
    expect(colon.ms).toBeLessThan(DEADLINE_MS);
    expect(colon.code).toBe(1);
    expect(colon.json<Doc>().services[0]!.error!.message).toMatch(/HTTP 422 .*collection name cannot contain ":" char/);
    expect(target.serverSnapshots()).toEqual({});
  });

  test('an api key in the URL is refused, not ignored; the client prints no warning about the key', async () => {
    const inUrl = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}/?api_key=${KEY}`], env);
    expect(inUrl.code).not.toBe(0);
    expect(inUrl.stdout + inUrl.stderr).toMatch(/api key in the service URL/);
    expect(inUrl.stdout + inUrl.stderr).toMatch(/HOLDFAST_SRC_PASSWORD/);
    const ok = await holdfast(['backup', '--service', `src=qdrant://127.0.0.1:${source.port}`], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toMatch(/Api key is used with unsecure connection/);
  });

  test('a download that stops sending fails the backup within the stall bound and stores nothing', async () => {
    source.cutNextDownload('stall');
    const res = await bounded(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`], env);
    expect(res.ms).toBeLessThan(DEADLINE_MS);
    expect(res.code).toBe(1);
    const message = res.json<Doc>().services[0]!.error!.message;
    expect(message, message).toMatch(/was cut after \d+ of \d+ bytes \(no data for 2 s\)/);
    expect(source.serverSnapshots()).toEqual({});
  });
});
