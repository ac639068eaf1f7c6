/**
 * The long-running scheduler of `holdfast serve`. Each job fires on its cron
 * schedule (croner), after an optional random jitter. Jobs run one at a time
 * (they share one repository and its lock); a job that comes due while
 * another runs waits its turn, and a job that comes due while its own
 * previous run is still running or waiting is skipped, logged and counted.
 * SIGTERM stops new runs, lets the running one finish within the grace
 * period, then aborts it through its AbortSignal: the commands' own cleanup
 * resumes containers and leaves nothing partial.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Cron } from 'croner';
import type { GlobalFlags } from '../cli/context.js';
import { buildContext } from '../cli/context.js';
import type { DockerFlags } from '../cli/docker-context.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { serviceFreshness, snapshotsWithVerdicts } from '../core/status-report.js';
import { totalBytes } from '../repository/manifest.js';
import { runJob, type JobOutcome } from './job-run.js';
import { cronOf, type JobSpec, type ServeSettings } from './serve-config.js';
import type { ServeLog } from './serve-log.js';
import { ServeMetrics } from './serve-metrics.js';
import { ServeNotifier } from './serve-notifier.js';
import { loadServeState, saveServeState, type ServeState } from './serve-state.js';

/** After the grace period's abort, how long a job may take to clean up before serve exits regardless. */
const ABORT_WAIT_MS = 60_000;
/** At shutdown, how long notifications still being delivered may take. */
const DELIVERY_WAIT_MS = 15_000;

export interface ServeOptions {
  settings: ServeSettings;
  flags: GlobalFlags & DockerFlags;
  log: ServeLog;
  /** Aborted by SIGTERM / SIGINT: serve stops. */
  stop: AbortSignal;
}

interface Running {
  job: JobSpec;
  runId: string;
  controller: AbortController;
  done: Promise<void>;
}

/** `nightly-20261203T021500Z-1a2b`: sorts by time, unique per run. */
export function newRunId(job: string, at = new Date()): string {
  return `${job}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

/** A run's random delay (jitter: N): uniform over [0, N) ms, drawn anew for each run so that hosts on one schedule spread out. */
export function jitterDelay(jitterMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * jitterMs);
}

export class ServeDaemon {
  private readonly crons: Cron[] = [];
  private readonly jitterTimers = new Map<string, NodeJS.Timeout>();
  private readonly queue: Array<{ job: JobSpec; scheduledAt: Date }> = [];
  private running?: Running;
  private stopping = false;
  private state: ServeState = { jobs: {} };
  private readonly skippedCount = new Map<string, number>();
  readonly metrics: ServeMetrics;
  private readonly notifier: ServeNotifier;
  private server?: Server & { port: number };
  private readonly deliveries = new Set<Promise<void>>();

  constructor(private readonly options: ServeOptions) {
    this.metrics = new ServeMetrics(options.settings.jobs);
    this.notifier = new ServeNotifier(options.settings.notify, options.log);
  }

  private get log(): ServeLog {
    return this.options.log;
  }

  /** Starts everything; throws (with nothing left running) when a piece cannot start. */
  async start(metricsPort?: number): Promise<void> {
    const { settings } = this.options;
    this.state = await loadServeState(settings.statePath);
    try {
      if (settings.metrics) {
        this.server = await this.metrics.listen(settings.metrics.host, metricsPort ?? settings.metrics.port);
        this.log.info(`metrics on http://${settings.metrics.host}:${this.server.port}/metrics`);
      }
      await this.refreshRepository();
      for (const job of settings.jobs) this.crons.push(cronOf(job, () => this.due(job, new Date())));
    } catch (error) {
      await this.close();
      throw error;
    }
    for (const job of settings.jobs) {
      this.log.info(`job scheduled: ${job.type} "${job.schedule}"${job.timezone ? ` (${job.timezone})` : ''}`, { job: job.name, next: cronOf(job).nextRun()?.toISOString() });
    }
    this.catchUp();
  }

  /** Runs until the stop signal, then shuts down within the grace period. */
  async run(metricsPort?: number): Promise<number> {
    await this.start(metricsPort);
    await new Promise<void>((resolve) => {
      if (this.options.stop.aborted) resolve();
      else this.options.stop.addEventListener('abort', () => resolve(), { once: true });
    });
    return this.shutdown();
  }

  /** Runs missed while serve was down (catch_up: true): one run now, not one per missed time. */
  private catchUp(): void {
    const now = new Date();
    for (const job of this.options.settings.jobs) {
      const last = this.state.jobs[job.name]?.lastScheduledAt;
      if (!job.catchUp || !last) continue;
      const missed = cronOf(job).nextRun(new Date(last));
      if (missed && missed.getTime() < now.getTime() - 1000) {
        this.log.info(`catching up the run due at ${missed.toISOString()}, missed while serve was down`, { job: job.name });
        this.due(job, now);
      }
    }
  }

  private isPending(name: string): boolean {
    return this.running?.job.name === name || this.jitterTimers.has(name) || this.queue.some((q) => q.job.name === name);
  }

  /** A job's time has come: skip it if its previous run is not done, else wait the jitter and queue it. */
  private due(job: JobSpec, scheduledAt: Date): void {
    if (this.stopping) return;
    if (this.isPending(job.name)) {
      const n = (this.skippedCount.get(job.name) ?? 0) + 1;
      this.skippedCount.set(job.name, n);
      this.metrics.skipped(job);
      this.log.warn(`run skipped: the previous run of this job is still ${this.running?.job.name === job.name ? 'running' : 'waiting'} (${n} skipped so far)`, { job: job.name, skipped: n, ...(this.running?.job.name === job.name ? { runningRunId: this.running.runId } : {}) });
      return;
    }
    const enqueue = () => {
      this.jitterTimers.delete(job.name);
      if (this.stopping) return;
      this.queue.push({ job, scheduledAt });
      this.pump();
    };
    if (job.jitterMs > 0) {
      const delayMs = jitterDelay(job.jitterMs);
      this.log.info(`run delayed by jitter: ${delayMs} ms`, { job: job.name, delayMs, scheduledAt: scheduledAt.toISOString() });
      this.jitterTimers.set(job.name, setTimeout(enqueue, delayMs));
    } else enqueue();
  }

  private pump(): void {
    if (this.running || this.stopping) return;
    const next = this.queue.shift();
    if (!next) return;
    const runId = newRunId(next.job.name);
    const controller = new AbortController();
    const running: Running = { job: next.job, runId, controller, done: Promise.resolve() };
    this.running = running;
    running.done = this.execute(next.job, next.scheduledAt, runId, controller.signal)
      .catch((error) => this.log.error(`internal error around the run: ${toHoldfastError(error).message}`, { job: next.job.name, runId }))
      .finally(() => {
        this.running = undefined;
        this.pump();
      });
  }

  private async execute(job: JobSpec, scheduledAt: Date, runId: string, signal: AbortSignal): Promise<void> {
    const startedAt = new Date();
    const previous = this.state.jobs[job.name] ?? {};
    this.state.jobs[job.name] = { ...previous, lastScheduledAt: scheduledAt.toISOString(), lastStartedAt: startedAt.toISOString(), lastRunId: runId };
    await this.saveState();
    this.log.info(`run started: ${job.type}`, { job: job.name, runId, scheduledAt: scheduledAt.toISOString() });
    const startPing = this.notifier.started(job, runId);
    let outcome: JobOutcome;
    try {
      outcome = await runJob(job, { flags: this.options.flags, signal, warn: (text) => this.log.warn(text, { job: job.name, runId }) });
    } catch (error) {
      const e = toHoldfastError(error);
      outcome = { status: 'failed', exitCode: 1, services: [], failedServices: [], error: e.describe(), ...(e.hint ? { hint: e.hint } : {}) };
    }
    const finishedAt = new Date();
    const durationMs = finishedAt.getTime() - startedAt.getTime();
    this.state.jobs[job.name] = {
      ...this.state.jobs[job.name],
      lastFinishedAt: finishedAt.toISOString(),
      lastStatus: outcome.status,
      ...(outcome.status === 'ok' ? { lastSuccessAt: finishedAt.toISOString() } : {}),
      ...(outcome.snapshot ? { lastSnapshot: outcome.snapshot } : {}),
    };
    await this.saveState();
    this.metrics.runFinished(job, outcome, durationMs, finishedAt.getTime());
    await this.refreshRepository();
    const fields = {
      job: job.name,
      runId,
      status: outcome.status,
      durationMs,
      ...(outcome.snapshot ? { snapshot: outcome.snapshot } : {}),
      ...(outcome.failedServices.length ? { failedServices: outcome.failedServices.map((f) => f.service) } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(outcome.hint ? { hint: outcome.hint } : {}),
    };
    if (outcome.status === 'ok') this.log.info(`run finished: ok`, fields);
    else this.log.error(`run finished: ${outcome.status}`, fields);
    // Deliveries (with their retries) do not hold up the next job; shutdown waits for them a little.
    const delivery = startPing.then(() => this.notifier.finished({ job, runId, startedAt, finishedAt, outcome }, previous.lastStatus)).catch((error) => this.log.error(`notification failed: ${(error as Error).message}`, { job: job.name, runId }));
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
  }

  private async saveState(): Promise<void> {
    try {
      await saveServeState(this.options.settings.statePath, this.state);
    } catch (error) {
      this.log.error(`cannot write serve's state file ${this.options.settings.statePath}: ${(error as Error).message}; missed runs cannot be caught up after a restart`);
    }
  }

  /** Re-reads the repository for the per-service metrics; a failure is logged, not fatal. */
  private async refreshRepository(): Promise<void> {
    try {
      const repo = buildContext({ ...this.options.flags, json: true, quiet: true }, this.options.stop).repository();
      await repo.open({ create: false });
      const snapshots = await snapshotsWithVerdicts(repo);
      const stored = snapshots.reduce((n, s) => n + totalBytes(s.manifest).stored, 0);
      const perService = new Map<string, number>();
      for (const { manifest } of snapshots) for (const [name, s] of Object.entries(manifest.services)) if (s.status === 'ok') perService.set(name, (perService.get(name) ?? 0) + 1);
      this.metrics.repository(serviceFreshness(snapshots, [], {}), snapshots.length, stored, perService);
    } catch (error) {
      this.log.warn(`cannot read the repository for metrics: ${toHoldfastError(error).message}`);
    }
  }

  private async shutdown(): Promise<number> {
    this.stopping = true;
    for (const cron of this.crons) cron.stop();
    for (const t of this.jitterTimers.values()) clearTimeout(t);
    this.jitterTimers.clear();
    this.queue.length = 0;
    const running = this.running;
    if (running) {
      const graceMs = this.options.settings.graceMs;
      this.log.info(`stopping: waiting up to ${Math.round(graceMs / 1000)}s for the running ${running.job.type} to finish`, { job: running.job.name, runId: running.runId });
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
      const late = await Promise.race([running.done.then(() => false), graceOver]);
      clearTimeout(timer);
      if (late) {
        this.log.warn('grace period over: interrupting the running job (it cleans up: containers resumed, nothing partial kept)', { job: running.job.name, runId: running.runId });
        running.controller.abort(new HoldfastError('interrupted', 'stopped by serve after the grace period'));
        // A step that does not heed the abort must not keep serve from stopping: a bounded wait, then exit 1.
        let hardTimer: NodeJS.Timeout | undefined;
        const stuck = await Promise.race([running.done.then(() => false), new Promise<boolean>((resolve) => (hardTimer = setTimeout(() => resolve(true), ABORT_WAIT_MS)))]);
        clearTimeout(hardTimer);
        if (stuck) {
          this.log.error(`the interrupted job did not stop within ${ABORT_WAIT_MS / 1000}s; exiting anyway (containers it held are resumed at the next start)`, { job: running.job.name, runId: running.runId });
          await this.close();
          return 1;
        }
      }
    }
    if (this.deliveries.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.deliveries), new Promise((resolve) => (timer = setTimeout(resolve, DELIVERY_WAIT_MS)))]);
      clearTimeout(timer);
    }
    await this.close();
    this.log.info('serve stopped');
    return 0;
  }

  private async close(): Promise<void> {
    for (const cron of this.crons) cron.stop();
    if (this.server) {
      const server = this.server;
      this.server = undefined;
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
