import type { OfferPlace, RestoreContext, ScratchTarget } from './driver.js';
import { recordedPlace } from './place-record.js';
import { HoldfastError, toHoldfastError } from './errors.js';
import { compareFingerprints, type FingerprintComparison } from './fingerprint.js';
import type { ProgressReporter } from './progress.js';
import type { DriverRegistry } from './registry.js';
import { leftoverEndpoint, leftoverJournal, type Leftover } from './leftover-journal.js';
import { leftoverNotes, rawSize, recordedResult, sourceService } from './restore-executor.js';
import { restoreNeedsOf } from './restore-needs.js';
import { newScratchRun } from './scratch-names.js';
import type { Service } from './service.js';
import type { Manifest, ServiceRecord } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';

export type RestoreTestVerdict = 'ok' | 'mismatch' | 'failed';

export interface ServiceRestoreTest {
  service: string;
  engine: string;
  strategy: string;
  verdict: RestoreTestVerdict;
  /** Why it is not ok, or what it compared. */
  detail?: string;
  /** Where the scratch copy was (already removed). */
  scratch?: string;
  /** Where the restore's tools ran and why (the driver's details.place, in the one shape of place-record.ts). */
  place?: OfferPlace;
  durationMs: number;
  fingerprint?: FingerprintComparison;
  notes: string[];
}

/** The `restore-test` annotation beside a snapshot (read by `snapshots`, `show` and `forget`). */
export interface RestoreTestAnnotation {
  at: string;
  passed: boolean;
  services: Record<string, { verdict: RestoreTestVerdict; detail?: string }>;
}

export interface RestoreTestRequest {
  snapshot: Manifest;
  /** The services as configured now: a scratch target lives on the source's server. */
  configured: Map<string, Service>;
  /** Services whose artifacts failed the checksum phase, with the first error: not restored. */
  damaged: Map<string, string>;
  /** Restore options (jobs). */
  options: Record<string, unknown>;
  /** Known, declared fingerprint differences (`--accept`): shown, not counted as a mismatch. */
  accept?: readonly string[];
  signal: AbortSignal;
  progress: ProgressReporter;
  /** Told up front, per service, where its scratch copy goes and whether the account can make it. */
  announce?: (line: string) => void;
}

/**
 * Restores every service that succeeded at backup into a scratch target its
 * driver sets up (never the source), compares the scratch copy's fingerprint
 * with the one recorded at backup, and removes the scratch target: after a
 * pass, a mismatch, a failure and an interrupt alike. Services run one after
 * another: a scratch copy needs room on the source's server.
 */
export async function runRestoreTest(repo: Repository, registry: DriverRegistry, request: RestoreTestRequest): Promise<ServiceRestoreTest[]> {
  const { run, prefix } = newScratchRun();
  const results: ServiceRestoreTest[] = [];
  const tested = Object.entries(request.snapshot.services).filter(([, record]) => record.status === 'ok');
  const leftovers = await leftoverNotes(registry, tested.map(([name, record]) => ({ name, driver: record.driver, service: sourceService(name, record, request.configured.get(name)) })));
  try {
    for (const [name, record] of tested) {
      if (request.signal.aborted) {
        results.push(verdictOf(name, record, 'failed', 'interrupted before its turn', Date.now()));
        continue;
      }
      const result = await testService(repo, registry, request, name, record, { run, prefix });
      result.notes.unshift(...(leftovers.get(name) ?? []));
      results.push(result);
    }
  } finally {
    request.progress.stop();
  }
  return results;
}

export function restoreTestAnnotation(results: readonly ServiceRestoreTest[], at = new Date()): RestoreTestAnnotation {
  return {
    at: at.toISOString(),
    passed: results.length > 0 && results.every((r) => r.verdict === 'ok'),
    services: Object.fromEntries(results.map((r) => [r.service, { verdict: r.verdict, ...(r.detail && r.verdict !== 'ok' ? { detail: r.detail } : {}) }])),
  };
}

/** Reads a stored verdict back; undefined when there is none (or it is not one). */
export function readRestoreTest(annotations: Record<string, unknown>): RestoreTestAnnotation | undefined {
  const value = annotations['restore-test'] as Partial<RestoreTestAnnotation> | undefined;
  if (!value || typeof value !== 'object' || typeof value.passed !== 'boolean' || typeof value.at !== 'string') return undefined;
  return { at: value.at, passed: value.passed, services: value.services ?? {} };
}

function verdictOf(service: string, record: ServiceRecord, verdict: RestoreTestVerdict, detail: string | undefined, started: number): ServiceRestoreTest {
  return { service, engine: record.engine, strategy: record.strategy, verdict, ...(detail ? { detail } : {}), durationMs: Date.now() - started, notes: [] };
}

async function testService(
  repo: Repository,
  registry: DriverRegistry,
  request: RestoreTestRequest,
  name: string,
  record: ServiceRecord,
  scratchRun: { run: string; prefix: string },
): Promise<ServiceRestoreTest> {
  const started = Date.now();
  const damaged = request.damaged.get(name);
  if (damaged) return verdictOf(name, record, 'failed', `not restored: ${damaged}`, started);
  const progress = request.progress.sink(name);
  const notes: string[] = [];
  let scratch: ScratchTarget | undefined;
  let journalEntry: Leftover | undefined;
  let outcome: ServiceRestoreTest;
  try {
    const driver = registry.get(record.driver);
    const source = sourceService(name, record, request.configured.get(name));
    const recorded = recordedResult(record);
    progress.expect?.(rawSize(record));
    progress.phase('scratch target');
    // In the leftover journal before anything exists: what a kill -9 leaves, the next command removes.
    if (source.endpoint) journalEntry = await leftoverJournal().add({ kind: 'scratch-prefix', name: scratchRun.prefix, driver: record.driver, service: name, endpoint: leftoverEndpoint(source.endpoint), data: { strategy: record.strategy } });
    scratch = driver.scratchTarget ? await driver.scratchTarget({ source, strategy: record.strategy, recorded, run: scratchRun.run, prefix: scratchRun.prefix, signal: request.signal }) : undefined;
    if (!scratch) {
      if (journalEntry) await leftoverJournal().remove(journalEntry);
      return verdictOf(name, record, 'failed', `no restore test for ${record.engine}/${record.strategy}: the driver offers no scratch target for it`, started);
    }
    const options = { ...request.options, ...scratch.options };
    const check = await restoreNeedsOf(driver, { service: name, target: scratch.target, strategy: record.strategy, inPlace: false, force: false, options, recorded });
    const unmet = check.needs.filter((n) => !n.met);
    request.progress.clear();
    request.announce?.(
      `${name}: restore test into ${scratch.describe}: ${check.error ? `could not check the account's rights first (${check.error})` : unmet.length ? `the account cannot: ${unmet.map((n) => n.need).join('; ')}` : 'the account can create it'}`,
    );
    if (unmet.length) {
      throw new HoldfastError('target', `cannot make the scratch copy ${scratch.describe}: ${unmet.map((n) => n.need).join('; ')}`, {
        service: name,
        hint: `as a superuser, run: ${unmet.map((n) => n.fix).join('  ')}`,
      });
    }
    const ctx: RestoreContext = {
      source,
      target: scratch.target,
      inPlace: false,
      strategy: record.strategy,
      artifacts: repo.artifacts(request.snapshot.id, name, record.artifacts, request.signal, progress),
      recorded,
      force: false,
      options,
      signal: request.signal,
      progress,
      note: (t) => notes.push(t),
    };
    const result = await driver.restore(ctx);
    if (!result.fingerprint && record.fingerprint && scratch.fingerprint) {
      progress.phase('fingerprint');
      result.fingerprint = await scratch.fingerprint(result, request.signal);
    }
    const place = recordedPlace(result.details);
    outcome = { ...verdictOf(name, record, 'ok', undefined, started), scratch: scratch.describe, ...(place ? { place } : {}), notes };
    if (!record.fingerprint) {
      outcome.verdict = 'failed';
      outcome.detail = 'restored, but the backup recorded no fingerprint to compare with (it was taken with --fingerprint none)';
    } else if (!result.fingerprint) {
      outcome.verdict = 'failed';
      outcome.detail = 'restored, but the driver returned no fingerprint of the scratch copy';
    } else {
      const prefixes = result.details.fingerprintPrefixes as string[] | undefined;
      const unseen = scratch.unseen ?? [];
      if (unseen.length) notes.push(`not compared: ${unseen.join(', ')} (${scratch.describe} cannot show them)`);
      outcome.fingerprint = compareFingerprints(record.fingerprint, result.fingerprint, { prefixes, accept: [...(request.accept ?? []), ...unseen] });
      outcome.verdict = outcome.fingerprint.equal ? 'ok' : 'mismatch';
      outcome.detail = outcome.fingerprint.equal
        ? `${outcome.fingerprint.compared} objects equal (${record.fingerprint.scope})`
        : outcome.fingerprint.differences.slice(0, 5).join('; ') + (outcome.fingerprint.differences.length > 5 ? `; ${outcome.fingerprint.differences.length - 5} more` : '');
    }
  } catch (error) {
    const e = request.signal.aborted ? new HoldfastError('interrupted', 'interrupted') : toHoldfastError(error, { service: name, driver: record.driver });
    outcome = { ...verdictOf(name, record, 'failed', `${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}`, started), notes, ...(scratch ? { scratch: scratch.describe } : {}) };
  } finally {
    request.progress.finish(name);
  }
  if (scratch) {
    progress.phase('remove scratch');
    try {
      await scratch.cleanup();
      if (journalEntry) await leftoverJournal().remove(journalEntry);
    } catch (error) {
      const e = toHoldfastError(error);
      outcome.verdict = 'failed';
      outcome.detail = `${outcome.detail ? `${outcome.detail}; ` : ''}the scratch copy ${scratch.describe} could not be removed: ${e.message} (remove it by hand: its name starts with ${scratchRun.prefix})`;
    }
  } else if (journalEntry) {
    await leftoverJournal().remove(journalEntry); // scratchTarget failed and removed what it made
  }
  outcome.durationMs = Date.now() - started;
  return outcome;
}
