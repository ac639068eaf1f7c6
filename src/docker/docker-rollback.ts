import { errorRecord } from '../core/backup-executor.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import type { Fingerprint, StagedRestore } from '../core/driver.js';
import { compareFingerprints, type FingerprintComparison } from '../core/fingerprint.js';
import type { ProgressReporter } from '../core/progress.js';
import type { DriverRegistry } from '../core/registry.js';
import { runRestore, sourceService, stageRestores } from '../core/restore-executor.js';
import { recordedVolumes, type RollbackStep } from '../core/rollback-plan.js';
import type { Service } from '../core/service.js';
import { waitFor } from '../core/wait.js';
import { stopTimeoutOf } from '../../drivers/volume/volume-mounts.js';
import { restoreTarFlavor } from '../../drivers/volume/volume-restore.js';
import type { TarFlavor } from '../../drivers/volume/volume-tar-flavor.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import type { ContainerDetails, DockerApi } from './docker-api.js';
import { removeLeftoverHelpers } from './docker-helper.js';
import { holdContainers, type HeldSet } from './docker-holds.js';
import { rollbackTargets, type RollbackTargets } from './docker-rollback-targets.js';
import { waitRunning } from './docker-rollback-wait.js';
import { finishRollbackRecord, writeRollbackRecord, type RollbackRecord } from './docker-rollback-journal.js';

export interface RollbackRequest {
  repo: Repository;
  registry: DriverRegistry;
  snapshot: Manifest;
  steps: RollbackStep[];
  /** The services as configured or discovered now (credentials, options). */
  configured: Map<string, Service>;
  dryRun: boolean;
  allowNewImage: boolean;
  /** How long each container and engine may take to come up again. */
  waitTimeoutMs: number;
  signal: AbortSignal;
  progress: ProgressReporter;
  /** One line per stage, for people. */
  report(line: string): void;
  /** `rollback --resume`: the interrupted rollback this run finishes (its record is replaced by this run's; its containers are started at the end). */
  resumes?: { file: string; record: RollbackRecord };
}

export interface RollbackCheck extends FingerprintComparison {
  /** `files`: the volumes against the physical copy; `data`: the engine's own fingerprint (tables, rows). */
  what: 'files' | 'data';
  /** For `data`: the fingerprint taken with the physical copy, or the dump's. */
  against?: 'physical' | 'logical';
}

export interface ServiceVerdict {
  service: string;
  /** The manifest entry put back. */
  entry: string;
  method: 'physical' | 'logical';
  strategy: string;
  verdict: 'ok' | 'mismatch' | 'failed' | 'planned';
  checks: RollbackCheck[];
  error?: ReturnType<typeof errorRecord>;
  notes: string[];
}

export interface RollbackOutcome {
  snapshot: string;
  status: 'ok' | 'mismatch' | 'failed' | 'dry-run';
  /** Containers stopped (or to stop, with --dry-run), in order. */
  stop: Array<{ container: string; why: string; timeoutSec: number }>;
  /** Containers left running because a logical restore runs its tools in them. */
  keepRunning: string[];
  /** Containers started again (or to start), in order. */
  start: string[];
  services: ServiceVerdict[];
  /** Failures that belong to no one service (a container that would not start again). */
  errors: Array<ReturnType<typeof errorRecord>>;
}

/**
 * `holdfast rollback`: puts a stack back as a snapshot holds it.
 * 1. finds the containers (by their recorded names) and checks every
 *    artifact's checksum: a problem here stops the rollback before anything
 *    is stopped;
 * 2. stops the containers of the services restored from files and every
 *    container that mounts their volumes, dependents first, each with its
 *    stop timeout, journaled (a run killed now has them started again by the
 *    next holdfast command);
 * 3. restores: files first (volumes emptied and extracted, then checked
 *    against the snapshot while still stopped), then the logical dumps of
 *    services that have no physical copy, into their running servers;
 * 4. starts everything again in dependency order, waits for each, and checks
 *    a database restored from files against its logical fingerprint before
 *    its dependents start; always, also after an error or an interrupt.
 */
export async function runRollback(api: DockerApi, request: RollbackRequest): Promise<RollbackOutcome> {
  const { steps, report } = request;
  const targets = await rollbackTargets(api, steps, { allowNewImage: request.allowNewImage });
  const verdicts = new Map<string, ServiceVerdict>(
    steps.map((s) => [s.service, { service: s.service, entry: s.entry, method: s.method, strategy: s.record.strategy, verdict: 'planned', checks: [], notes: [...s.notes] }]),
  );
  const outcome: RollbackOutcome = {
    snapshot: request.snapshot.id,
    status: 'dry-run',
    stop: targets.stop.map((c) => ({ container: c.name, why: targets.why.get(c.id) ?? '', timeoutSec: stopTimeoutOf(c) })),
    keepRunning: targets.keepRunning.map((c) => c.name),
    start: targets.start.map((c) => c.name),
    services: [...verdicts.values()],
    errors: [],
  };
  if (request.dryRun) return outcome;

  await verifyArtifacts(request);
  await checkHelper(api, request);
  // A helper of a rollback killed with -9 may still be copying into a volume this one rewrites.
  for (const name of await removeLeftoverHelpers(api)) report(`removed helper container ${name} of a holdfast run that died`);
  const staged = await stageAll(request);
  const holds = new Map<string, HeldSet>();
  // The rollback record while data is being rewritten; still set after an interrupt there (docker-rollback-journal.ts).
  let rewriting: string | undefined;
  try {
    for (const c of targets.stop) {
      if (request.signal.aborted) break;
      report(`stopping ${c.name} (${targets.why.get(c.id)}; stop timeout ${stopTimeoutOf(c)}s)`);
      holds.set(c.id, await holdContainers(api, [{ container: c, mode: 'stop', stopTimeoutSec: stopTimeoutOf(c), service: ownerOf(targets, c) }], request.signal));
    }
    if (!request.signal.aborted) {
      // Written before the first volume or database is touched: a kill -9 from here on keeps these containers stopped.
      rewriting = await writeRollbackRecord(rollbackRecordOf(api, request, targets));
      if (request.resumes) await finishRollbackRecord(request.resumes.file);
      await restoreAll(api, request, targets, verdicts, staged);
      if (!request.signal.aborted) {
        await finishRollbackRecord(rewriting);
        rewriting = undefined;
      }
    }
    if (!rewriting) {
      await startAll(api, request, targets, holds, verdicts, outcome);
      if (request.resumes && !request.signal.aborted) await startLeftStopped(api, request, request.resumes.record, outcome);
    }
  } finally {
    for (const one of staged.values()) await one.discard().catch(() => undefined);
    // Nothing stays stopped, except on data a rewrite left half-done (then the record and the hold journal keep them, for --resume / --abandon).
    for (const c of rewriting ? [] : targets.start) {
      const held = holds.get(c.id);
      if (!held) continue;
      holds.delete(c.id);
      try {
        await held.release();
        report(`started ${c.name} again`);
      } catch (error) {
        outcome.errors.push(errorRecord(toHoldfastError(error)));
      }
    }
  }
  if (rewriting) {
    const names = [...targets.stop, ...targets.alsoStart].map((c) => c.name).join(', ');
    throw new HoldfastError('interrupted', `rollback interrupted while it rewrote the data; ${names} are kept stopped: their data may be half-restored`, {
      hint: 'finish it with `holdfast rollback --resume`, or start them on what is there now with `holdfast rollback --abandon --yes`',
    });
  }
  if (request.signal.aborted) {
    throw new HoldfastError('interrupted', 'rollback interrupted; every container it stopped was started again', {
      hint: 'the volumes restored so far hold the snapshot, the others what they held: run the rollback again',
    });
  }
  const all = [...verdicts.values()];
  outcome.status = outcome.errors.length || all.some((v) => v.verdict === 'failed' || v.verdict === 'planned') ? 'failed' : all.some((v) => v.verdict === 'mismatch') ? 'mismatch' : 'ok';
  return outcome;
}

/** Every artifact of every step against its checksum, before anything is stopped. */
async function verifyArtifacts(request: RollbackRequest): Promise<void> {
  const count = request.steps.reduce((n, s) => n + s.record.artifacts.length, 0);
  request.report(`checking the checksums of ${count} artifact${count === 1 ? '' : 's'} of snapshot ${request.snapshot.id}`);
  for (const step of request.steps) {
    for (const artifact of step.record.artifacts) {
      try {
        await request.repo.verifyArtifact(request.snapshot.id, step.entry, artifact, request.signal);
      } catch (error) {
        const e = toHoldfastError(error, { service: step.service });
        throw new HoldfastError(e.code, `${e.message}; nothing was stopped or changed`, { service: step.service, hint: e.hint ?? 'roll back to another snapshot (`holdfast snapshots`)', cause: error });
      }
    }
  }
}

/** The helper image that extracts the volume archives, checked before anything is stopped (a missing one fails here). */
async function checkHelper(api: DockerApi, request: RollbackRequest): Promise<void> {
  for (const step of request.steps.filter((s) => s.method === 'physical')) {
    try {
      // As the restore will choose (volume-restore.ts restoreFlavor): the configured image, else the recorded one (a confirmed rollback forces), else the default.
      const configured = request.configured.get(step.service)?.options.helper_image;
      await restoreTarFlavor(api, step.record.details.tar as TarFlavor | undefined, typeof configured === 'string' ? configured : undefined, step.service, { force: true });
    } catch (error) {
      const e = toHoldfastError(error, { service: step.service });
      throw new HoldfastError(e.code, `${e.message}; nothing was stopped or changed`, { service: step.service, ...(e.hint ? { hint: e.hint } : {}), cause: error });
    }
  }
}

/**
 * What each physical restore can do with its containers still running
 * (Driver.stageRestore: this host's tools checked, a copy unpacked and
 * prepared), before anything is stopped: a missing tool fails here, and the
 * work done here is not downtime.
 */
async function stageAll(request: RollbackRequest): Promise<Map<string, StagedRestore>> {
  const physical = request.steps.filter((s) => s.method === 'physical');
  if (physical.length) request.report(`preparing ${physical.map((s) => s.entry).join(', ')} before anything is stopped`);
  try {
    return await stageRestores(request.repo, request.registry, restoreRequestOf(request, []), physical.map((s) => s.entry));
  } catch (error) {
    const e = toHoldfastError(error);
    const service = physical.find((s) => s.entry === e.service)?.service ?? e.service;
    throw new HoldfastError(e.code, `${e.message}; nothing was stopped or changed`, { ...(service ? { service } : {}), ...(e.hint ? { hint: e.hint } : {}), cause: error });
  }
}

function restoreRequestOf(request: RollbackRequest, only: string[], staged?: ReadonlyMap<string, StagedRestore>): Parameters<typeof runRestore>[2] {
  return {
    snapshot: request.snapshot,
    only,
    targets: new Map(),
    configured: request.configured,
    force: true,
    options: {},
    signal: request.signal,
    progress: request.progress,
    verified: true,
    // The rollback holds the containers itself: a hook exec'd into a container it stopped would fail the service.
    hooks: false,
    ...(staged ? { staged } : {}),
  };
}

async function restoreAll(api: DockerApi, request: RollbackRequest, targets: RollbackTargets, verdicts: Map<string, ServiceVerdict>, staged: ReadonlyMap<string, StagedRestore>): Promise<void> {
  const ordered = [...request.steps.filter((s) => s.method === 'physical'), ...request.steps.filter((s) => s.method === 'logical')];
  for (const step of ordered) {
    if (request.signal.aborted) return;
    const verdict = verdicts.get(step.service)!;
    try {
      if (step.method === 'logical') await readyForLogical(api, request, targets, step);
      request.report(`restoring ${step.service}${step.entry === step.service ? '' : ` from ${step.entry}`} (${step.method}: ${step.record.strategy})`);
      const [restored] = await runRestore(request.repo, request.registry, restoreRequestOf(request, [step.entry], staged));
      if (!restored) continue; // interrupted before it began
      verdict.notes.push(...restored.notes);
      if (restored.error) {
        verdict.verdict = 'failed';
        verdict.error = restored.error;
        continue;
      }
      verdict.verdict = restored.status === 'mismatch' ? 'mismatch' : 'ok';
      if (restored.fingerprint) verdict.checks.push(step.method === 'physical' ? { what: 'files', ...restored.fingerprint } : { what: 'data', against: 'logical', ...restored.fingerprint });
    } catch (error) {
      verdict.verdict = 'failed';
      verdict.error = errorRecord(toHoldfastError(error, { service: step.service }));
    }
  }
}

/** A logical restore runs its tools in the service's container: it must be up, and its engine answering. */
async function readyForLogical(api: DockerApi, request: RollbackRequest, targets: RollbackTargets, step: RollbackStep): Promise<void> {
  const c = targets.containerOf.get(step.service);
  if (c && !c.running) {
    request.report(`starting ${c.name}: the restore of ${step.service} runs in it`);
    await api.start(c.id);
    await waitRunning(api, c, request.waitTimeoutMs, request.signal);
  }
  const service = sourceService(step.service, step.record, request.configured.get(step.service));
  const driver = request.registry.get(step.record.driver);
  await waitFor(`${step.service} answering`, async () => (await driver.inspect(service), true), { timeoutMs: request.waitTimeoutMs, intervalMs: 1000, signal: request.signal });
}

async function startAll(api: DockerApi, request: RollbackRequest, targets: RollbackTargets, holds: Map<string, HeldSet>, verdicts: Map<string, ServiceVerdict>, outcome: RollbackOutcome): Promise<void> {
  for (const c of targets.start) {
    if (request.signal.aborted) return;
    const services = request.steps.filter((s) => targets.containerOf.get(s.service)?.id === c.id);
    try {
      request.report(`starting ${c.name}`);
      const held = holds.get(c.id);
      if (held) {
        holds.delete(c.id);
        await held.release();
      } else {
        await api.start(c.id);
      }
      await waitRunning(api, c, request.waitTimeoutMs, request.signal);
      // A database put back from files: its tables against the logical dump, before its dependents start writing.
      for (const step of services) {
        if (step.method === 'physical' && (step.logical?.fingerprint || step.record.details.engineFingerprint) && step.logical) await checkEngine(request, step, verdicts.get(step.service)!);
      }
    } catch (error) {
      const e = errorRecord(toHoldfastError(error));
      if (services.length === 0) outcome.errors.push(e);
      for (const step of services) {
        const v = verdicts.get(step.service)!;
        v.verdict = 'failed';
        v.error ??= e;
      }
    }
  }
}

async function checkEngine(request: RollbackRequest, step: RollbackStep, verdict: ServiceVerdict): Promise<void> {
  if (verdict.verdict === 'failed') return;
  const recorded = step.logical!;
  // The fingerprint taken with the physical copy describes exactly its files; the dump's was taken a moment earlier.
  const withCopy = step.record.details.engineFingerprint as Fingerprint | undefined;
  const expected = withCopy ?? recorded.fingerprint!;
  const service = sourceService(step.service, recorded, request.configured.get(step.service));
  const driver = request.registry.get(recorded.driver);
  request.report(`checking ${step.service} against the fingerprint ${withCopy ? 'taken with its physical copy' : `of its ${recorded.strategy}`}`);
  const now = await waitFor(`${step.service} answering`, () => driver.fingerprint(service, expected.scope), { timeoutMs: request.waitTimeoutMs, intervalMs: 1000, signal: request.signal });
  const comparison = compareFingerprints(expected, now);
  verdict.checks.push({ what: 'data', against: withCopy ? 'physical' : 'logical', ...comparison });
  if (!comparison.equal) {
    verdict.verdict = 'mismatch';
    if (!withCopy) verdict.notes.push(`the ${recorded.strategy} fingerprint was taken just before the physical copy: writes between the two also show here`);
  }
}

function rollbackRecordOf(api: DockerApi, request: RollbackRequest, targets: RollbackTargets): Parameters<typeof writeRollbackRecord>[0] {
  const containers = new Map<string, { dockerHost: string; id: string; name: string }>();
  for (const c of [...targets.stop, ...targets.alsoStart]) containers.set(c.id, { dockerHost: api.host, id: c.id, name: c.name });
  // Resumed: what the first run stopped stays listed until this run has finished too.
  for (const c of request.resumes?.record.containers ?? []) containers.set(c.id, c);
  return {
    snapshot: request.snapshot.id,
    services: request.resumes?.record.services ?? request.steps.map((s) => s.service),
    volumes: request.steps.filter((s) => s.method === 'physical').flatMap((s) => recordedVolumes(s.record).filter((v) => v.type === 'volume').map((v) => v.source)),
    databases: request.steps.filter((s) => s.method === 'logical').map((s) => s.service),
    containers: [...containers.values()],
  };
}

/** After a resumed rollback: the containers the interrupted one had stopped and that this one did not start (they were stopped already). */
async function startLeftStopped(api: DockerApi, request: RollbackRequest, record: RollbackRecord, outcome: RollbackOutcome): Promise<void> {
  for (const c of record.containers) {
    try {
      const now = await api.inspectContainer(c.id);
      if (!now || now.running || now.paused) continue;
      request.report(`starting ${c.name} (stopped by the interrupted rollback)`);
      await api.start(c.id);
      outcome.start.push(c.name);
    } catch (error) {
      outcome.errors.push(errorRecord(toHoldfastError(error)));
    }
  }
}

function ownerOf(targets: RollbackTargets, c: ContainerDetails): string {
  for (const [service, own] of targets.containerOf) if (own.id === c.id) return service;
  return 'rollback';
}
