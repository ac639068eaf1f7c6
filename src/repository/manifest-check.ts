/**
 * The checks a manifest read from a repository or a bundle must pass before
 * anything uses it: a repository is untrusted input (it can come from another
 * host, an imported bundle or a bucket others can write), and its manifest
 * names the files that verify and restore open.
 */
import { HoldfastError } from '../core/errors.js';
import type { Manifest } from './manifest.js';
import { SNAPSHOT_ID } from './snapshot-id.js';

/** Service names become directory names: the rule of service.ts, `..` refused. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** Artifact names are plain file names inside `<snapshot>/<service>/`: no separator, no `..`, no NUL. */
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const SHA256 = /^[0-9a-f]{64}$/;

const HINT = 'this snapshot cannot be trusted (damaged, or written by something other than holdfast): restore from another one, and run `holdfast check`';

/**
 * Throws an 'integrity' error naming the snapshot when the manifest holds an
 * id other than `expectedId` (where it was found), an unsafe service or
 * artifact name, an impossible size or a malformed checksum.
 */
export function assertManifestSound(m: Manifest, where: string, expectedId?: string): void {
  const bad = (what: string) => new HoldfastError('integrity', `the manifest ${where} ${what}`, { hint: HINT });
  if (!SNAPSHOT_ID.test(m.id)) throw bad(`holds the invalid snapshot id ${JSON.stringify(m.id)}`);
  if (expectedId !== undefined && m.id !== expectedId) throw bad(`claims to be snapshot ${m.id}`);
  if (!Array.isArray(m.tags) || m.tags.some((t) => typeof t !== 'string')) throw bad('has a tag list that is not a list of names');
  if (typeof m.createdAt !== 'string') throw bad('has no creation time');
  for (const [service, record] of Object.entries(m.services)) {
    if (!SERVICE_NAME.test(service) || service.includes('..')) throw bad(`names the unsafe service ${JSON.stringify(service)}`);
    const seen = new Set<string>();
    for (const a of record.artifacts) {
      const name = (a as { name?: unknown } | null)?.name;
      if (typeof name !== 'string' || !ARTIFACT_NAME.test(name)) {
        throw bad(`names the artifact path ${JSON.stringify(name)} for service ${service}: only a plain file name inside the snapshot is allowed`);
      }
      if (seen.has(name)) throw bad(`lists the artifact ${service}/${name} twice`);
      seen.add(name);
      for (const field of ['storedBytes', 'rawBytes'] as const) {
        const n = a[field];
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`gives ${service}/${name} the impossible size ${field}=${JSON.stringify(n) ?? String(n)}`);
      }
      if (typeof a.sha256 !== 'string' || !SHA256.test(a.sha256)) throw bad(`gives ${service}/${name} a malformed sha256`);
      if (a.compression !== 'zstd' && a.compression !== 'none') throw bad(`gives ${service}/${name} the unknown compression ${JSON.stringify(a.compression)}`);
    }
  }
}
