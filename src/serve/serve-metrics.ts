/**
 * serve's Prometheus endpoint (prom-client, a registry of its own): per job
 * its last run, status, duration and skipped overlaps; per service its last
 * good backup, bytes and restore-test verdict (read from the repository, so
 * a restart reports the same figures); the repository's snapshot count and
 * size. Ages are exported as timestamps (`time() - x` in PromQL) and as ages
 * computed at scrape time.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HoldfastError } from '../core/errors.js';
import type { ServiceFreshness } from '../core/status-report.js';
import type { JobOutcome, RunStatus } from './job-run.js';
import type { JobSpec } from './serve-config.js';

const STATUS_CODE: Record<RunStatus, number> = { ok: 0, partial: 1, failed: 2, interrupted: 3 };

export class ServeMetrics {
  readonly registry = new Registry();
  private freshness: ServiceFreshness[] = [];
  private readonly g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [this.registry] });
  private readonly jobLastRun = this.g('holdfast_job_last_run_timestamp_seconds', 'when the last run of the job finished', ['job', 'type']);
  private readonly jobLastSuccess = this.g('holdfast_job_last_success_timestamp_seconds', 'when the last successful run of the job finished', ['job', 'type']);
  private readonly jobStatus = this.g('holdfast_job_last_run_status', 'status of the last run: 0 ok, 1 partial, 2 failed, 3 interrupted', ['job', 'type']);
  private readonly jobOk = this.g('holdfast_job_last_run_ok', '1 when the last run of the job succeeded, else 0', ['job', 'type']);
  private readonly jobDuration = this.g('holdfast_job_last_run_duration_seconds', 'duration of the last run of the job', ['job', 'type']);
  private readonly jobRuns = new Counter({ name: 'holdfast_job_runs_total', help: 'runs of the job by status', labelNames: ['job', 'type', 'status'], registers: [this.registry] });
  private readonly jobSkipped = new Counter({ name: 'holdfast_job_skipped_total', help: 'runs skipped because the previous run of the job was still going', labelNames: ['job', 'type'], registers: [this.registry] });
  private readonly svcLastStatus = this.g('holdfast_service_last_backup_ok', '1 when the last scheduled backup of the service succeeded, else 0', ['service', 'job']);
  private readonly svcDuration = this.g('holdfast_service_last_backup_duration_seconds', 'duration of the service in its last scheduled backup', ['service', 'job']);
  private readonly svcLastSuccess = this.g('holdfast_service_last_success_timestamp_seconds', "time of the service's newest good snapshot", ['service']);
  private readonly svcAge = this.g('holdfast_service_last_success_age_seconds', "age of the service's newest good snapshot", ['service']);
  private readonly svcBytes = this.g('holdfast_service_last_backup_bytes', 'raw bytes of the service in its newest good snapshot', ['service']);
  private readonly svcStored = this.g('holdfast_service_last_backup_stored_bytes', 'stored (compressed) bytes of the service in its newest good snapshot', ['service']);
  private readonly rtPassed = this.g('holdfast_service_restore_test_ok', '1 when the newest restore test of the service passed, else 0', ['service']);
  private readonly rtTime = this.g('holdfast_service_restore_test_timestamp_seconds', 'time of the newest restore test of the service', ['service']);
  private readonly rtAge = this.g('holdfast_service_restore_test_age_seconds', 'age of the newest restore test of the service', ['service']);
  private readonly svcSnapshots = this.g('holdfast_service_snapshots', 'snapshots in the repository in which the service is ok', ['service']);
  private readonly snapshots = this.g('holdfast_repository_snapshots', 'snapshots in the repository');
  private readonly repoStored = this.g('holdfast_repository_stored_bytes', 'stored bytes of all snapshots in the repository (before deduplication by a restic backend)');
  private readonly up = this.g('holdfast_serve_start_timestamp_seconds', 'when serve started');

  constructor(jobs: readonly JobSpec[]) {
    // The event-loop delay monitor samples every 10 ms by default: a second keeps an idle serve idle.
    collectDefaultMetrics({ register: this.registry, prefix: 'holdfast_process_', eventLoopMonitoringPrecision: 1000 });
    this.up.set(Date.now() / 1000);
    for (const job of jobs) {
      this.jobSkipped.inc({ job: job.name, type: job.type }, 0);
      for (const status of Object.keys(STATUS_CODE)) this.jobRuns.inc({ job: job.name, type: job.type, status }, 0);
    }
  }

  skipped(job: JobSpec): void {
    this.jobSkipped.inc({ job: job.name, type: job.type });
  }

  runFinished(job: JobSpec, outcome: JobOutcome, durationMs: number, at = Date.now()): void {
    const labels = { job: job.name, type: job.type };
    this.jobLastRun.set(labels, at / 1000);
    this.jobStatus.set(labels, STATUS_CODE[outcome.status]);
    this.jobOk.set(labels, outcome.status === 'ok' ? 1 : 0);
    this.jobDuration.set(labels, durationMs / 1000);
    this.jobRuns.inc({ ...labels, status: outcome.status });
    if (outcome.status === 'ok') this.jobLastSuccess.set(labels, at / 1000);
    for (const s of outcome.services) {
      this.svcLastStatus.set({ service: s.service, job: job.name }, s.status === 'ok' ? 1 : 0);
      this.svcDuration.set({ service: s.service, job: job.name }, s.durationMs / 1000);
    }
  }

  /** The repository's view: newest good snapshot and restore test per service, snapshot count and size. */
  repository(rows: ServiceFreshness[], snapshotCount: number, storedBytes: number, perService: ReadonlyMap<string, number> = new Map()): void {
    this.freshness = rows;
    for (const [service, n] of perService) this.svcSnapshots.set({ service }, n);
    this.snapshots.set(snapshotCount);
    this.repoStored.set(storedBytes);
    for (const r of rows) {
      if (r.lastGood) {
        this.svcLastSuccess.set({ service: r.service }, Date.parse(r.lastGood.at) / 1000);
        this.svcBytes.set({ service: r.service }, r.lastGood.bytes);
        this.svcStored.set({ service: r.service }, r.lastGood.storedBytes);
      }
      if (r.restoreTest) {
        this.rtPassed.set({ service: r.service }, r.restoreTest.verdict === 'ok' ? 1 : 0);
        this.rtTime.set({ service: r.service }, Date.parse(r.restoreTest.at) / 1000);
      }
    }
  }

  async text(): Promise<string> {
    const now = Date.now();
    for (const r of this.freshness) {
      if (r.lastGood) this.svcAge.set({ service: r.service }, Math.round((now - Date.parse(r.lastGood.at)) / 1000));
      if (r.restoreTest) this.rtAge.set({ service: r.service }, Math.round((now - Date.parse(r.restoreTest.at)) / 1000));
    }
    return this.registry.metrics();
  }

  /** Serves GET /metrics on host:port; a port in use is a clear error before any job runs. */
  async listen(host: string, port: number): Promise<Server & { port: number }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('holdfast serve: metrics are at /metrics\n');
        return;
      }
      this.text().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new HoldfastError('config', `the metrics endpoint cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`, {
            hint: 'set serve.metrics.port in holdfast.yml (or --metrics-port) to a free port, or metrics: false',
          }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return Object.assign(server, { port: typeof address === 'object' && address ? address.port : port });
  }
}
