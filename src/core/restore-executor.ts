import type { BackupResult, OfferPlace, ProgressSink, RestoreContext, StagedRestore } from './driver.js';
import { recordedPlace } from './place-record.js';
import { HoldfastError, toHoldfastError } from './errors.js';
import { compareFingerprints, type FingerprintComparison } from './fingerprint.js';
import { formatBytes, type ProgressReporter } from './progress.js';
import type { DriverRegistry } from './registry.js';
import { parseEndpoint, type Service } from './service.js';
import type { Manifest, ServiceRecord } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { errorRecord } from './backup-executor.js';
import { recreateForRestore } from './restore-recreate.js';
import { cleanLeftovers } from './leftover-cleanup.js';
import { runHooks, runPostHooks } from './hooks.js';

export interface RestoreRequest {
  snapshot: Manifest;
  /** Service names to restore; empty for all that succeeded at backup. */
  only: string[];
  /** Where each service goes; a service without an entry is restored in place. */
  targets: Map<string, Service>;
  /** The services as configured now (for in-place restores: endpoint, credentials). */
  configured: Map<string, Service>;
  force: boolean;
  /** Start a missing container of a service from its recorded image, with fresh volumes (restore-recreate.ts). */
  recreate?: boolean;
  options: Record<string, unknown>;
  signal: AbortSignal;
  progress: ProgressReporter;
  /** The caller already checked every artifact's checksum (rollback does, before it stops anything). */
  verified?: boolean;
  /** Known, declared fingerprint differences (`--accept`): shown, not counted as a mismatch. */
  accept?: readonly string[];
  /** Run the configured pre-/post-restore hooks of an in-place restore (hooks.ts); default true. Rollback, which stops and starts the containers itself, passes false. */
  hooks?: boolean;
  /** Restores begun beforehand by stageRestores() (rollback: before it stops anything), by service name. */
  staged?: ReadonlyMap<string, StagedRestore>;
}

export interface ServiceRestoreOutcome {
  service: string;
  status: 'ok' | 'mismatch' | 'failed';
  location?: string;
  /** Where the restore's tools ran and why (the driver's details.place, in the one shape of place-record.ts). */
  place?: OfferPlace;
  durationMs: number;
  fingerprint?: FingerprintComparison;
  error?: ReturnType<typeof errorRecord>;
  /** Sessions the restore ended on the databases it replaced (`--force`): how many, where, which applications. */
  terminatedSessions?: Array<{ database: string; terminated: number; applications: string[] }>;
  notes: string[];
}

/**
 * Restores services of one snapshot. Every artifact of a service is verified
 * against its checksum before its target is touched; after the restore, the
 * target's fingerprint is compared with the one recorded at backup.
 */
export async function runRestore(repo: Repository, registry: DriverRegistry, request: RestoreRequest): Promise<ServiceRestoreOutcome[]> {
  const { snapshot } = request;
  const names = request.only.length > 0 ? request.only : Object.keys(snapshot.services).filter((n) => snapshot.services[n]!.status === 'ok');
  for (const name of names) {
    const record = snapshot.services[name];
    if (!record) {
      throw new HoldfastError('not-found', `snapshot ${snapshot.id} has no service ${JSON.stringify(name)}`, {
        hint: `it holds: ${Object.keys(snapshot.services).join(', ')}`,
      });
    }
    if (record.status !== 'ok') {
      throw new HoldfastError('not-found', `service ${name} failed at backup in snapshot ${snapshot.id}; there is nothing to restore`, {
        service: name,
        hint: 'restore it from another snapshot (`holdfast snapshots`)',
      });
    }
  }
  const leftovers = await leftoverNotes(registry, names.map((name) => {
    const record = snapshot.services[name]!;
    return { name, driver: record.driver, service: request.targets.get(name) ?? sourceService(name, record, request.configured.get(name)) };
  }));
  const outcomes: ServiceRestoreOutcome[] = [];
  try {
    for (const name of names) {
      if (request.signal.aborted) break;
      const outcome = await restoreService(repo, registry, request, name, snapshot.services[name]!);
      outcome.notes.unshift(...(leftovers.get(name) ?? []));
      outcomes.push(outcome);
    }
  } finally {
    request.progress.stop();
  }
  return outcomes;
}

async function restoreService(repo: Repository, registry: DriverRegistry, request: RestoreRequest, name: string, record: ServiceRecord): Promise<ServiceRestoreOutcome> {
  const started = Date.now();
  const notes: string[] = [];
  const progress = request.progress.sink(name);
  // Hooks are the configured service's (never the manifest's), and run only for a restore in place.
  const hooked = request.hooks !== false && request.configured.get(name) && !request.targets.has(name) ? sourceService(name, record, request.configured.get(name)) : undefined;
  let preRan = false;
  let outcome: ServiceRestoreOutcome;
  try {
    const driver = registry.get(record.driver);
    const source = sourceService(name, record, request.configured.get(name));
    const target = request.targets.get(name) ?? source;
    const inPlace = !request.targets.has(name);
    if (!target.endpoint) {
      throw new HoldfastError('config', 'there is nowhere to restore to: the service is not configured here and no --target was given', {
        service: name,
        hint: `pass --target ${name}=URL, or define the service in holdfast.yml`,
      });
    }
    progress.expect?.(rawSize(record));
    if (!request.verified) {
      // The checksums of a large snapshot take a while: the phase counts the stored bytes checked.
      const stored = record.artifacts.reduce((sum, a) => sum + a.storedBytes, 0);
      let checked = 0;
      progress.phase('verify checksums');
      for (const artifact of record.artifacts) {
        await repo.verifyArtifact(request.snapshot.id, name, artifact, request.signal, (n) => {
          checked += n;
          progress.detail?.(`${formatBytes(checked)} of ${formatBytes(stored)} stored`);
        });
      }
    }
    if (hooked) {
      preRan = true;
      await runHooks(hooked, 'pre-restore', { snapshot: request.snapshot.id });
    }
    if (request.recreate && inPlace) {
      await recreateForRestore(driver, record, target, { service: name, snapshot: request.snapshot.id, signal: request.signal, progress, note: (t) => notes.push(t), force: request.force });
    }
    const ctx = restoreContext(repo, request, name, record, { source, target, inPlace }, progress, (t) => notes.push(t));
    const staged = request.staged?.get(name);
    const result = staged ? await staged.restore(ctx) : await driver.restore(ctx);
    const place = recordedPlace(result.details);
    outcome = { service: name, status: 'ok', location: result.location, ...(place ? { place } : {}), durationMs: Date.now() - started, notes };
    const ended = result.details.terminatedSessions as ServiceRestoreOutcome['terminatedSessions'];
    if (ended?.length) outcome.terminatedSessions = ended;
    if (record.fingerprint && result.fingerprint) {
      const prefixes = result.details.fingerprintPrefixes as string[] | undefined;
      outcome.fingerprint = compareFingerprints(record.fingerprint, result.fingerprint, { prefixes, accept: request.accept });
      if (!outcome.fingerprint.equal) outcome.status = 'mismatch';
    } else {
      notes.push('no fingerprint to compare (recorded with --fingerprint none, or the strategy restores files only)');
    }
  } catch (error) {
    const e = toHoldfastError(error, { service: name, driver: record.driver });
    outcome = { service: name, status: 'failed', durationMs: Date.now() - started, error: errorRecord(e), notes };
  } finally {
    request.progress.finish(name);
  }
  // After a failed pre-hook too; not when the checksums stopped the restore before its pre-hook ran.
  if (hooked && preRan) {
    const error = outcome.error?.message ?? (outcome.status === 'mismatch' ? 'the restored data differs from the fingerprint recorded at backup' : undefined);
    const failed = await runPostHooks(hooked, 'post-restore', { snapshot: request.snapshot.id, status: outcome.status === 'ok' ? 'ok' : 'failed', ...(error ? { error } : {}) });
    if (failed) notes.push(failed);
  }
  return outcome;
}

/** The raw bytes a restore of the service reads out of its artifacts: the progress line's 100%. */
function restoreContext(
  repo: Repository,
  request: RestoreRequest,
  name: string,
  record: ServiceRecord,
  where: Pick<RestoreContext, 'source' | 'target' | 'inPlace'>,
  progress: ProgressSink,
  note: (text: string) => void,
): RestoreContext {
  return {
    ...where,
    strategy: record.strategy,
    artifacts: repo.artifacts(request.snapshot.id, name, record.artifacts, request.signal, progress),
    recorded: recordedResult(record),
    force: request.force,
    options: request.options,
    signal: request.signal,
    progress,
    note,
  };
}

/**
 * Driver.stageRestore for each named service restored in place (the
 * rollback's case): what needs no stopped target, done before anything is
 * stopped. A failure discards what was staged before it and throws.
 */
export async function stageRestores(repo: Repository, registry: DriverRegistry, request: RestoreRequest, names: readonly string[]): Promise<Map<string, StagedRestore>> {
  const staged = new Map<string, StagedRestore>();
  try {
    for (const name of names) {
      const record = request.snapshot.services[name]!;
      const driver = registry.get(record.driver);
      if (!driver.stageRestore || request.targets.has(name)) continue;
      const source = sourceService(name, record, request.configured.get(name));
      if (!source.endpoint) continue; // restoreService says there is nowhere to restore to
      // Notes of the staging belong to no outcome yet: the staged restore notes what it did when it runs.
      const one = await driver.stageRestore(restoreContext(repo, request, name, record, { source, target: source, inPlace: true }, request.progress.sink(name), () => {}));
      if (one) staged.set(name, one);
    }
  } catch (error) {
    await Promise.all([...staged.values()].map((s) => s.discard()));
    throw toHoldfastError(error, { service: names.find((n) => !staged.has(n)) });
  } finally {
    // The restore draws its own line for the service again.
    request.progress.stop();
  }
  return staged;
}

export function rawSize(record: ServiceRecord): number {
  return record.artifacts.reduce((sum, a) => sum + a.rawBytes, 0);
}

/**
 * Removes what runs that died left on these services' servers and in the
 * spool directory (leftover-cleanup.ts); the lines, per service, become the
 * first notes of its outcome (a spool path's go to the first service).
 */
export async function leftoverNotes(registry: DriverRegistry, touched: ReadonlyArray<{ name: string; driver: string; service: Service }>): Promise<Map<string, string[]>> {
  const notes = new Map<string, string[]>();
  for (const { service, line } of await cleanLeftovers(registry, touched)) {
    const name = service ?? touched[0]?.name ?? '';
    notes.set(name, [...(notes.get(name) ?? []), line.replace(/^holdfast: /, '')]);
  }
  return notes;
}

/** What the backup recorded for a service, as drivers read it. */
export function recordedResult(record: ServiceRecord): BackupResult {
  const recorded: BackupResult = { details: record.details };
  if (record.fingerprint) recorded.fingerprint = record.fingerprint;
  if (record.inspection) recorded.inspection = record.inspection;
  return recorded;
}

/** The service as it was at backup, with today's configuration (endpoint, credentials) when there is one. */
export function sourceService(name: string, record: ServiceRecord, configured: Service | undefined): Service {
  // A manifest is untrusted input: options that choose what runs as root (the helper image) come from the config or the command line only.
  const { helper_image: _fromManifest, ...recorded } = record.options;
  if (configured) return { ...configured, engine: record.engine, options: { ...recorded, ...configured.options } };
  // Not configured here: the endpoint the manifest recorded (it never holds a password).
  const service: Service = { name, engine: record.engine, options: recorded, origin: 'config' };
  if (record.endpoint) service.endpoint = parseEndpoint(record.endpoint, false, name);
  return service;
}
