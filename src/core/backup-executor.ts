import { hostname } from 'node:os';
import { containerRecord } from './container-record.js';
import type { BackupContext, BackupResult } from './driver.js';
import { HoldfastError, toHoldfastError } from './errors.js';
import type { PlanItem } from './planner.js';
import type { ProgressReporter } from './progress.js';
import { formatEndpoint, type Service } from './service.js';
import { HOLDFAST_VERSION } from './version.js';
import type { Manifest, ServiceRecord } from '../repository/manifest.js';
import type { Repository, SnapshotWriter } from '../repository/repository.js';
import { runLimited } from './concurrency.js';
import { cleanLeftoversWith } from './leftover-cleanup.js';
import { runHooks, runPostHooks } from './hooks.js';

export interface BackupOptions {
  tags: string[];
  parallel: number;
  /** Per service, in milliseconds; 0 for none. */
  timeoutMs: (service: Service) => number;
  fingerprint: BackupContext['fingerprintScope'];
  signal: AbortSignal;
  progress: ProgressReporter;
}

export interface BackupOutcome {
  /** Undefined when nothing was committed (every service failed, or interrupted). */
  manifest?: Manifest;
  snapshotId?: string;
  status: 'ok' | 'partial' | 'failed';
  services: Record<string, ServiceRecord>;
  notes: string[];
}

/**
 * Runs the plan: services in parallel up to `parallel`, each with its own
 * timeout. A failed service is recorded and its artifacts dropped; the others
 * are kept. The snapshot is committed only if at least one service succeeded
 * and the run was not interrupted; otherwise nothing becomes visible.
 */
export async function runBackup(repo: Repository, items: PlanItem[], options: BackupOptions): Promise<BackupOutcome> {
  const writer = await repo.beginSnapshot('backup');
  const createdAt = new Date().toISOString();
  const services: Record<string, ServiceRecord> = {};
  try {
    // A working copy or scratch database that a killed restore left on these servers: gone before the dump would copy it.
    const touched = items.flatMap((i) => (i.driver ? [{ driver: i.driver, service: i.service }] : []));
    for (const { line } of await cleanLeftoversWith(touched)) writer.notes.push(line.replace(/^holdfast: /, ''));
    // Physical copies stop what a logical backup of the same service needs running: they come after.
    for (const phase of [items.filter((i) => !i.physicalOf), items.filter((i) => i.physicalOf)]) {
      await runLimited(phase, options.parallel, async (item) => {
        services[item.service.name] = await backupService(writer, item, options);
      });
    }
    if (options.signal.aborted) {
      throw new HoldfastError('interrupted', 'backup interrupted; nothing was committed', { hint: 'run it again' });
    }
    const ok = Object.values(services).filter((s) => s.status === 'ok').length;
    if (ok === 0) {
      await writer.abort();
      return { status: 'failed', services, notes: writer.notes };
    }
    const manifest: Manifest = {
      format: 1,
      id: writer.id,
      createdAt,
      finishedAt: new Date().toISOString(),
      hostname: hostname(),
      holdfastVersion: HOLDFAST_VERSION,
      tags: options.tags,
      status: ok === items.length ? 'ok' : 'partial',
      services,
    };
    await writer.commit(manifest);
    return { manifest, snapshotId: writer.id, status: manifest.status, services, notes: writer.notes };
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    options.progress.stop();
  }
}

async function backupService(writer: SnapshotWriter, item: PlanItem, options: BackupOptions): Promise<ServiceRecord> {
  const { service, driver } = item;
  const started = Date.now();
  const notes: string[] = [];
  const base: ServiceRecord = {
    engine: driver?.engine ?? service.engine ?? 'unknown',
    driver: driver?.engine ?? 'none',
    strategy: item.strategy ?? 'none',
    consistency: item.consistency ?? 'inconsistent',
    reason: item.reason,
    status: 'failed',
    ...(service.endpoint ? { endpoint: formatEndpoint(service.endpoint) } : {}),
    options: publicOptions(service.options),
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    artifacts: [],
    details: {},
    notes,
    ...(item.physicalOf ? { physicalOf: item.physicalOf } : {}),
  };
  if (item.error || !driver || !item.strategy) {
    const e = item.error ?? new HoldfastError('internal', 'no strategy planned', { service: service.name });
    return { ...base, error: errorRecord(e) };
  }
  if (options.signal.aborted) {
    // Stopped before this service began: do not start it.
    return { ...base, error: errorRecord(new HoldfastError('interrupted', 'interrupted before it started', { service: service.name })) };
  }
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal.reason);
  options.signal.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = options.timeoutMs(service);
  const timer = timeoutMs > 0 ? setTimeout(() => controller.abort(new Error('timeout')), timeoutMs) : undefined;
  const progress = options.progress.sink(service.name);
  const records: ServiceRecord['artifacts'] = [];
  const sink = writer.sink(service.name, progress, controller.signal);
  const ctx: BackupContext = {
    service,
    strategy: item.strategy,
    signal: controller.signal,
    progress,
    note: (text) => notes.push(text),
    fingerprintScope: options.fingerprint,
    artifacts: {
      write: async (name, source, meta) => {
        // The sink may take a moment (a directory, an upload) before it pipes the source: an error
        // the source emits meanwhile must not crash the process. The sink's pipeline still sees it.
        source.on('error', () => undefined);
        const record = await sink.write(name, source, meta);
        records.push(record);
        return record;
      },
      writeCommand: async (name, command, meta) => {
        const written = await sink.writeCommand(name, command, meta);
        records.push(written.record);
        return written;
      },
      discard: async (name) => {
        const at = records.findIndex((r) => r.name === name);
        if (at >= 0) records.splice(at, 1);
        await sink.discard(name);
      },
    },
  };
  let record: ServiceRecord;
  try {
    // A failing pre-hook fails the service before anything of it is written.
    await runHooks(service, 'pre-backup', { snapshot: writer.id });
    const result: BackupResult = await driver.backup(ctx);
    if (controller.signal.aborted) throw abortReason(controller.signal, service.name, timeoutMs);
    if (records.length === 0) throw new HoldfastError('internal', 'the driver stored no artifact', { service: service.name, driver: driver.engine });
    record = {
      ...base,
      status: 'ok',
      durationMs: Date.now() - started,
      artifacts: [...records].sort((a, b) => a.name.localeCompare(b.name)),
      // Every container-backed service keeps its container's record: `restore --recreate` rebuilds it from there.
      details: service.container && result.details.container === undefined ? { ...result.details, container: containerRecord(service.container) } : result.details,
      ...(result.fingerprint ? { fingerprint: result.fingerprint } : {}),
      ...(result.inspection ? { inspection: result.inspection } : {}),
    };
  } catch (error) {
    const e = controller.signal.aborted ? abortReason(controller.signal, service.name, timeoutMs) : toHoldfastError(error, { service: service.name, driver: driver.engine });
    await writer.discardService(service.name);
    record = { ...base, durationMs: Date.now() - started, error: errorRecord(e) };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
    options.progress.finish(service.name);
  }
  // After failures too (a pre-hook that stopped an application must be able to start it again).
  const failed = await runPostHooks(service, 'post-backup', { snapshot: writer.id, status: record.status === 'ok' ? 'ok' : 'failed', ...(record.error ? { error: record.error.message } : {}) });
  if (failed) notes.push(failed);
  return record;
}

function abortReason(signal: AbortSignal, service: string, timeoutMs: number): HoldfastError {
  if (signal.reason instanceof Error && signal.reason.message === 'timeout') {
    return new HoldfastError('timeout', `did not finish within ${Math.round(timeoutMs / 1000)}s and was stopped`, {
      service,
      hint: 'raise the service timeout (timeout: in holdfast.yml, or --timeout)',
    });
  }
  return new HoldfastError('interrupted', 'interrupted', { service });
}

export function errorRecord(e: HoldfastError): NonNullable<ServiceRecord['error']> {
  return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
}

/** Options as written in the manifest: nothing that names a secret. */
function publicOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (/pass|secret|token|key/i.test(k) && !/_env$|_file$/.test(k)) continue;
    out[k] = v;
  }
  return out;
}
