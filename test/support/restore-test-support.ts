import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CliResult } from './cli.js';

/** What `verify --restore-test --json` prints. */
export interface VerifyDocument {
  snapshot: string;
  status: 'ok' | 'corrupt' | 'failed';
  artifacts: Array<{ service: string; artifact: string; ok: boolean; error?: string }>;
  restoreTest: { passed: boolean; services: Array<{ service: string; verdict: 'ok' | 'mismatch' | 'failed'; detail?: string; scratch?: string }> };
}

export function verdicts(result: CliResult): Record<string, { verdict: string; detail?: string }> {
  const doc = result.json<VerifyDocument>();
  return Object.fromEntries(doc.restoreTest.services.map((s) => [s.service, { verdict: s.verdict, ...(s.detail ? { detail: s.detail } : {}) }]));
}

interface StoredRecord {
  name: string;
  label?: string;
  sha256: string;
  storedBytes: number;
  rawBytes: number;
}
interface StoredManifest {
  services: Record<string, { artifacts: StoredRecord[]; fingerprint?: unknown }>;
}

const manifestPath = (repo: string, id: string) => join(repo, 'snapshots', id, 'manifest.json');
const readManifest = async (repo: string, id: string) => JSON.parse(await readFile(manifestPath(repo, id), 'utf8')) as StoredManifest;

/** The artifact names of one service of a committed snapshot, as its manifest lists them; with `label`, only those holding it. */
export async function artifactNames(repo: string, id: string, service: string, label?: string): Promise<string[]> {
  return (await readManifest(repo, id)).services[service]!.artifacts.filter((a) => label === undefined || a.label === label).map((a) => a.name);
}

export async function deleteArtifact(repo: string, id: string, service: string, name: string): Promise<void> {
  await rm(join(repo, 'snapshots', id, service, name));
}

/**
 * Puts into snapshot `into` the artifacts of snapshot `from` (same service),
 * with the manifest's checksums and sizes updated, so the checksum phase
 * passes. This stands for a dump tool that silently wrote less than the
 * server held: an internally consistent artifact whose data does not match
 * the fingerprint recorded at backup. Only a restore can catch that.
 */
export async function graftArtifacts(repo: string, into: string, from: string, service: string, names: string[]): Promise<void> {
  const target = await readManifest(repo, into);
  const source = await readManifest(repo, from);
  for (const name of names) {
    const rec = source.services[service]!.artifacts.find((a) => a.name === name)!;
    const at = target.services[service]!.artifacts.findIndex((a) => a.name === name);
    expect(at, `${name} in ${into}`).toBeGreaterThanOrEqual(0);
    target.services[service]!.artifacts[at] = { ...target.services[service]!.artifacts[at]!, sha256: rec.sha256, storedBytes: rec.storedBytes, rawBytes: rec.rawBytes };
    await copyFile(join(repo, 'snapshots', from, service, name), join(repo, 'snapshots', into, service, name));
  }
  await writeFile(manifestPath(repo, into), JSON.stringify(target, null, 2));
}

/** Asserts the checksum phase named the missing artifact and the service, and nothing was restored. */
export function expectMissingArtifact(result: CliResult, service: string, artifact: string): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toContain(`holdfast: [${service}] artifact`);
  expect(result.stderr).toContain(`${service}/${artifact} is corrupt: the file is missing`);
  const doc = result.json<VerifyDocument>();
  expect(doc.status).toBe('corrupt');
  const v = doc.restoreTest.services.find((s) => s.service === service)!;
  expect(v.verdict).toBe('failed');
  expect(v.detail).toMatch(/^not restored: artifact .* the file is missing/);
  expect(doc.restoreTest.passed).toBe(false);
}

/** Asserts `verify --restore-test --json` exited 0 with the snapshot proven and this service's verdict `ok` (and its detail, when given). */
export function expectRestoreTestPassed(result: CliResult, service: string, detail?: string): void {
  expect(result.code, result.stderr + result.stdout).toBe(0);
  expect(result.json<VerifyDocument>().restoreTest.passed).toBe(true);
  if (detail === undefined) expect(verdicts(result)[service]!.verdict).toBe('ok');
  else expect(verdicts(result)[service]).toEqual({ verdict: 'ok', detail });
}
