/**
 * Tells people about job runs: a webhook with a documented JSON body on the
 * events notify.on names (failure, recovery after a failure, success), and
 * healthchecks-style pings (start, success, fail) on every run. Delivery
 * failures are logged; they never change a job's outcome.
 *
 * The webhook body (JSON, POST):
 *   { "event": "failure" | "recovery" | "success",
 *     "job": "nightly", "type": "backup", "runId": "nightly-20261203T021500Z-1a2b",
 *     "status": "ok" | "partial" | "failed",
 *     "snapshot": "20261203T021502Z-9f3e" | null,
 *     "failedServices": [{ "service": "db", "error": "...", "hint": "..." }],
 *     "error": "..." | null, "hint": "..." | null,
 *     "startedAt": ISO, "finishedAt": ISO, "durationMs": 1234,
 *     "host": "backup-1", "holdfast": "0.1.0" }
 */
import { hostname } from 'node:os';
import { HOLDFAST_VERSION } from '../core/version.js';
import type { JobOutcome, RunStatus } from './job-run.js';
import { postWithRetries } from './notify-http.js';
import { sendEmail } from './notify-email.js';
import type { JobSpec, NotifyEvent, ServeSettings } from './serve-config.js';
import type { ServeLog } from './serve-log.js';

export interface RunRecord {
  job: JobSpec;
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  outcome: JobOutcome;
}

/** failure when it failed; recovery when it succeeded after a failure; success otherwise. */
export function eventOf(status: RunStatus, previous: RunStatus | undefined): NotifyEvent | undefined {
  if (status === 'interrupted') return undefined;
  if (status !== 'ok') return 'failure';
  return previous === 'failed' || previous === 'partial' ? 'recovery' : 'success';
}

export function webhookBody(event: NotifyEvent, run: RunRecord): Record<string, unknown> {
  const o = run.outcome;
  return {
    event,
    job: run.job.name,
    type: run.job.type,
    runId: run.runId,
    status: o.status,
    snapshot: o.snapshot ?? null,
    failedServices: o.failedServices,
    error: o.error ?? null,
    hint: o.hint ?? null,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
    host: hostname(),
    holdfast: HOLDFAST_VERSION,
  };
}

/** Subject and plain text of a notification mail: the same facts as the webhook body. */
export function emailMessage(event: NotifyEvent, run: RunRecord): { subject: string; text: string } {
  const b = webhookBody(event, run);
  const o = run.outcome;
  const what = event === 'failure' ? `${o.status === 'partial' ? 'partly failed' : 'FAILED'}${o.failedServices.length ? ` (${o.failedServices.map((f) => f.service).join(', ')})` : ''}` : event === 'recovery' ? 'recovered' : 'succeeded';
  const lines = [
    `holdfast ${run.job.type} job ${run.job.name} ${what} on ${String(b.host)}.`,
    '',
    `run:       ${run.runId}`,
    `status:    ${o.status}`,
    `snapshot:  ${o.snapshot ?? '(none saved)'}`,
    `started:   ${String(b.startedAt)}`,
    `finished:  ${String(b.finishedAt)} (${Math.round(Number(b.durationMs) / 1000)}s)`,
    ...(o.error ? ['', `error:     ${o.error}`] : []),
    ...(o.hint ? [`hint:      ${o.hint}`] : []),
    ...o.failedServices.map((f) => `  [${f.service}] ${f.error ?? 'failed'}${f.hint ? `\n      hint: ${f.hint}` : ''}`),
  ];
  return { subject: `holdfast: ${run.job.name} ${what} on ${String(b.host)}`, text: `${lines.join('\n')}\n` };
}

export class ServeNotifier {
  constructor(
    private readonly settings: ServeSettings['notify'],
    private readonly log: ServeLog,
    private readonly pingTimeoutMs = 10_000,
  ) {}

  async started(job: JobSpec, runId: string): Promise<void> {
    if (job.pings?.start) await this.ping(job, runId, 'start', job.pings.start, '');
  }

  /** Sends what this run calls for; resolves when every delivery succeeded or gave up. */
  async finished(run: RunRecord, previous: RunStatus | undefined): Promise<void> {
    const event = eventOf(run.outcome.status, previous);
    const work: Array<Promise<void>> = [];
    const pings = run.job.pings;
    if (pings && run.outcome.status !== 'interrupted') {
      const url = run.outcome.status === 'ok' ? pings.success : pings.fail;
      const text = run.outcome.status === 'ok' ? `ok${run.outcome.snapshot ? ` ${run.outcome.snapshot}` : ''}` : `${run.outcome.status}: ${run.outcome.error ?? ''}${run.outcome.hint ? `\nhint: ${run.outcome.hint}` : ''}`;
      if (url) work.push(this.ping(run.job, run.runId, run.outcome.status === 'ok' ? 'success' : 'fail', url, text));
    }
    const webhook = this.settings.webhook;
    if (webhook && event && this.settings.on.includes(event)) {
      work.push(
        postWithRetries(webhook.url, JSON.stringify(webhookBody(event, run)), { timeoutMs: webhook.timeoutMs, retries: webhook.retries }).then((r) => {
          if (r.ok) this.log.info(`webhook sent (${event})`, { job: run.job.name, runId: run.runId, attempts: r.attempts });
          else this.log.error(`webhook ${webhook.url} not delivered after ${r.attempts} attempts: ${r.error}; the job's outcome stands`, { job: run.job.name, runId: run.runId, event });
        }),
      );
    }
    const email = this.settings.email;
    if (email && event && this.settings.on.includes(event)) {
      work.push(
        sendEmail(email, emailMessage(event, run)).then(
          (r) => {
            if (r.ok) this.log.info(`email sent to ${email.to.join(', ')} (${event})`, { job: run.job.name, runId: run.runId, attempts: r.attempts });
            else this.log.error(`email through ${email.host}:${email.port} not sent after ${r.attempts} attempts: ${r.error}; the job's outcome stands`, { job: run.job.name, runId: run.runId, event });
          },
          (error: Error) => this.log.error(`email not sent: ${error.message}; the job's outcome stands`, { job: run.job.name, runId: run.runId, event }),
        ),
      );
    }
    await Promise.all(work);
  }

  private async ping(job: JobSpec, runId: string, kind: string, url: string, body: string): Promise<void> {
    const r = await postWithRetries(url, body, { timeoutMs: this.pingTimeoutMs, retries: 2, contentType: 'text/plain' });
    if (!r.ok) this.log.error(`${kind} ping ${url} not delivered after ${r.attempts} attempts: ${r.error}; the job's outcome stands`, { job: job.name, runId });
  }
}
