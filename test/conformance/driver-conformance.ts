import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';

/**
 * What a driver brings to the shared suite: a real server with seed data,
 * a way to change it, and URLs. Every driver passes the same cases; a case a
 * driver cannot support is declared in `unsupported` with a reason, and shows
 * up as such, never silently.
 */
export interface ConformanceHarness {
  engine: string;
  /** Starts a real server holding seed data; returns what the cases need. */
  start(): Promise<ConformanceServer>;
}

export interface ConformanceServer {
  /** The service URL to back up (no password in it). */
  sourceUrl: string;
  /** A URL of a new, empty place on the same kind of server (a new database, a fresh node). */
  freshTargetUrl(): Promise<string>;
  /** Environment with the passwords (HOLDFAST_SRC_PASSWORD, HOLDFAST_SRC_TARGET_PASSWORD). */
  env: Record<string, string>;
  /** Changes and damages the source data (updates, deletes, a dropped object). */
  mutate(): Promise<void>;
  /** A number that changes when mutate() runs: a count over the source. */
  probe(): Promise<number>;
  stop(): Promise<void>;
}

interface Doc {
  snapshot: string;
  status: string;
  services: Array<Record<string, unknown> & { fingerprint?: { equal: boolean; compared: number } }>;
}

export function runConformance(harness: ConformanceHarness): void {
  describe(`conformance: ${harness.engine}`, () => {
    let server: ConformanceServer;
    let work: string;
    let env: Record<string, string>;
    let snapshot: string;
    let before: number;

    beforeAll(async () => {
      server = await harness.start();
      work = await mkdtemp(join(tmpdir(), `holdfast-conf-${harness.engine}-`));
      env = { ...server.env, HOLDFAST_REPO: join(work, 'repo') };
      before = await server.probe();
      const backup = await holdfast(['backup', '--json', '--service', `src=${server.sourceUrl}`], env);
      expect(backup.code, backup.stderr).toBe(0);
      const doc = backup.json<Doc>();
      snapshot = doc.snapshot;
      expect(doc.services[0]).toMatchObject({ service: 'src', engine: harness.engine, status: 'ok' });
    });
    afterAll(async () => {
      await server?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('the snapshot verifies and records a fingerprint', async () => {
      const verify = await holdfast(['verify', snapshot, '--json'], env);
      expect(verify.code, verify.stderr).toBe(0);
      const show = await holdfast(['show', snapshot, '--json'], env);
      const manifest = show.json<{ services: { src: { fingerprint?: { items: Record<string, unknown> } } } }>();
      expect(Object.keys(manifest.services.src.fingerprint?.items ?? {}).length).toBeGreaterThan(0);
    });

    test('after the source changes, a restore into a fresh target has the fingerprints of the backup', async () => {
      await server.mutate();
      expect(await server.probe()).not.toBe(before);
      const target = await server.freshTargetUrl();
      const restore = await holdfast(['restore', snapshot, '--json', '--target', `src=${target}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      const outcome = restore.json<Doc>().services[0]!;
      expect(outcome.status).toBe('ok');
      expect(outcome.fingerprint?.equal).toBe(true);
      expect(outcome.fingerprint?.compared).toBeGreaterThan(0);
    });

    test('restore in place is refused without --force, leaving the source as it is', async () => {
      const changed = await server.probe();
      const refused = await holdfast(['restore', snapshot], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/\[src\]/);
      expect(refused.stderr).toMatch(/--force/);
      expect(await server.probe()).toBe(changed);
    });

    test('restore in place with --force puts the backed-up state back', async () => {
      const forced = await holdfast(['restore', snapshot, '--force', '--json'], env);
      expect(forced.code, forced.stderr + forced.stdout).toBe(0);
      expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
      expect(await server.probe()).toBe(before);
    });
  });
}
