import type { Consistency, Fingerprint, Inspection } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { assertManifestSound } from './manifest-check.js';

export const MANIFEST_FORMAT = 1;

/** One stored file of a snapshot. */
export interface ArtifactRecord {
  /** File name inside `<snapshot>/<service>/`. */
  name: string;
  /** What it holds, in the driver's words: `pg_dump`, `globals`, `basebackup`. */
  kind: string;
  /** The engine object it holds (a database name), if any. */
  label?: string;
  compression: 'zstd' | 'none';
  /** sha256 of the stored bytes, hex. */
  sha256: string;
  storedBytes: number;
  /** Bytes before compression. */
  rawBytes: number;
}

/** The record of an artifact a sink has just stored. */
export function artifactRecord(
  name: string,
  meta: { kind: string; label?: string },
  stored: { sha256: string; storedBytes: number; rawBytes: number },
  compression: ArtifactRecord['compression'] = 'zstd',
): ArtifactRecord {
  return {
    name,
    kind: meta.kind,
    ...(meta.label !== undefined ? { label: meta.label } : {}),
    compression,
    sha256: stored.sha256,
    storedBytes: stored.storedBytes,
    rawBytes: stored.rawBytes,
  };
}

/** The record of a snapshot's artifact by name, or a 'not-found' error naming it. */
export function findArtifact(id: string, service: string, records: readonly ArtifactRecord[], name: string): ArtifactRecord {
  const record = records.find((r) => r.name === name);
  if (!record) throw new HoldfastError('not-found', `snapshot ${id} has no artifact ${name} for service ${service}`, { service });
  return record;
}

export type ServiceStatus = 'ok' | 'failed';

export interface ServiceRecord {
  engine: string;
  driver: string;
  strategy: string;
  consistency: Consistency;
  /** Why the planner chose this strategy. */
  reason: string;
  status: ServiceStatus;
  error?: { code: string; message: string; hint?: string };
  /** The endpoint without a password, e.g. postgres://app@127.0.0.1:5432/app. */
  endpoint?: string;
  /** Service options from the config (never secrets). */
  options: Record<string, unknown>;
  startedAt: string;
  durationMs: number;
  artifacts: ArtifactRecord[];
  details: Record<string, unknown>;
  fingerprint?: Fingerprint;
  inspection?: Inspection;
  notes: string[];
  /**
   * Set on the physical copy of another service of this snapshot (`db.physical`
   * has `physicalOf: db`): its files, for a rollback that puts them back.
   */
  physicalOf?: string;
}

export interface Manifest {
  format: number;
  id: string;
  createdAt: string;
  finishedAt: string;
  hostname: string;
  holdfastVersion: string;
  tags: string[];
  status: 'ok' | 'partial';
  services: Record<string, ServiceRecord>;
}

/**
 * Parses and checks a manifest: a truncated, foreign or unsafe file (an
 * artifact path out of its snapshot, an impossible size, another snapshot's
 * id than `expectedId`, where it was found) gives a clear 'integrity' error.
 */
export function parseManifest(text: string, where: string, expectedId?: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new HoldfastError('integrity', `the manifest ${where} is not valid JSON (truncated or corrupt)`, {
      hint: 'run `holdfast check`; this snapshot cannot be trusted: restore from another one',
      cause,
    });
  }
  const m = data as Partial<Manifest>;
  if (typeof m !== 'object' || m === null || m.format !== MANIFEST_FORMAT || typeof m.id !== 'string' || typeof m.services !== 'object' || m.services === null) {
    throw new HoldfastError('integrity', `the manifest ${where} is not a holdfast manifest of format ${MANIFEST_FORMAT}`, {
      hint: 'run `holdfast check`; it may come from a newer holdfast or be damaged',
    });
  }
  for (const [name, record] of Object.entries(m.services)) {
    if (!Array.isArray(record?.artifacts)) {
      throw new HoldfastError('integrity', `the manifest ${where} has no artifact list for service ${name}`, {
        hint: 'run `holdfast check`',
      });
    }
  }
  assertManifestSound(m as Manifest, where, expectedId);
  return m as Manifest;
}

export function totalBytes(manifest: Manifest): { stored: number; raw: number } {
  let stored = 0;
  let raw = 0;
  for (const service of Object.values(manifest.services)) {
    for (const a of service.artifacts) {
      stored += a.storedBytes;
      raw += a.rawBytes;
    }
  }
  return { stored, raw };
}
