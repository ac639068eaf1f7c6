import { describe, expect, test } from 'vitest';
import { jobArgv } from '../../src/serve/job-run.js';
import { serveSettings } from '../../src/serve/serve-config.js';
import { newRunId } from '../../src/serve/serve-daemon.js';
import { eventOf, webhookBody } from '../../src/serve/serve-notifier.js';

const settings = (doc: Record<string, unknown>) => serveSettings(doc, '/etc/holdfast/holdfast.yml');

describe('serve settings', () => {
  test('defaults: state beside holdfast.yml, 10 minutes of grace, metrics on 127.0.0.1:9464, failure and recovery notified', () => {
    const s = settings({ jobs: { nightly: { type: 'backup', schedule: '0 30 2 * * *' } } });
    expect(s.statePath).toBe('/etc/holdfast/holdfast-serve-state.json');
    expect(s.graceMs).toBe(600_000);
    expect(s.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(s.notify.on).toEqual(['failure', 'recovery']);
    expect(s.jobs[0]).toMatchObject({ name: 'nightly', type: 'backup', services: [], verify: false, jitterMs: 0, catchUp: false });
  });

  test('jobs become the very command lines the CLI runs', () => {
    const s = settings({
      serve: { timezone: 'Europe/Berlin' },
      notify: { healthchecks: 'https://hc.example/ping/abc' },
      jobs: {
        b: { type: 'backup', schedule: '0 0 3 * * *', services: ['db', 'files'], verify: true, jitter: '5m' },
        r: { type: 'restore-test', schedule: '0 0 3 * * *', snapshot: 'pre-upgrade' },
        f: { type: 'forget', schedule: '0 0 3 * * *', keep: { daily: 7, weekly: 'unlimited', tags: ['keep,me'] } },
        c: { type: 'check', schedule: '0 0 3 * * *', read_data: true, healthchecks: { fail: 'http://127.0.0.1:1/f' } },
      },
    });
    expect(s.jobs.map(jobArgv)).toEqual([
      ['backup', 'db', 'files', '--verify'],
      ['verify', 'pre-upgrade', '--restore-test'],
      ['forget', '--keep-daily', '7', '--keep-weekly', 'unlimited', '--keep-tag', 'keep,me', '--retry-lock', '600'],
      ['check', '--read-data'],
    ]);
    expect(s.jobs[0]).toMatchObject({ timezone: 'Europe/Berlin', jitterMs: 300_000, pings: { start: 'https://hc.example/ping/abc/start', success: 'https://hc.example/ping/abc', fail: 'https://hc.example/ping/abc/fail' } });
    expect(s.jobs[3]!.pings).toEqual({ fail: 'http://127.0.0.1:1/f' });
  });

  test('each bad setting names the job and the setting', () => {
    const job = (extra: Record<string, unknown>) => () => settings({ jobs: { j: { type: 'backup', schedule: '0 0 3 * * *', ...extra } } });
    expect(job({ schedule: '* * *' })).toThrow(/job j: schedule "\* \* \*" is not a valid cron expression/);
    expect(job({ type: undefined })).toThrow(/job j: no type/);
    expect(job({ schedul: 'x' })).toThrow(/job j has unknown settings: schedul/);
    expect(job({ catch_up: 'yes' })).toThrow(/job j.catch_up must be true or false/);
    expect(job({ healthchecks: 'ftp://x' })).toThrow(/job j.healthchecks "ftp:\/\/x" is not an http\(s\) URL/);
    expect(() => settings({ jobs: { 'a b': { type: 'check', schedule: '* * * * *' } } })).toThrow(/job name "a b" is not allowed/);
    expect(() => settings({ jobs: { j: { type: 'check', schedule: '* * * * *' } }, notify: { on: ['failures'] } })).toThrow(/notify.on: unknown events failures/);
    expect(() => settings({ jobs: { j: { type: 'check', schedule: '* * * * *' } }, serve: { metrics: { port: 70000 } } })).toThrow(/serve.metrics.port 70000 is not a port/);
    expect(() => settings({ jobs: { j: { type: 'check', schedule: '* * * * *' } }, notify: { webhook: { url: 'http://x', retries: 50 } } })).toThrow(/retries 50 is not a count from 0 to 10/);
  });
});

describe('notifications', () => {
  test('failure, recovery after a failure, success otherwise; an interrupted run tells nothing', () => {
    expect(eventOf('failed', 'ok')).toBe('failure');
    expect(eventOf('partial', undefined)).toBe('failure');
    expect(eventOf('ok', 'failed')).toBe('recovery');
    expect(eventOf('ok', 'partial')).toBe('recovery');
    expect(eventOf('ok', 'ok')).toBe('success');
    expect(eventOf('ok', 'interrupted')).toBe('success');
    expect(eventOf('interrupted', 'ok')).toBeUndefined();
  });

  test('the webhook body carries the documented fields', () => {
    const s = settings({ jobs: { nightly: { type: 'backup', schedule: '0 0 3 * * *' } } });
    const startedAt = new Date('2026-12-03T02:30:00Z');
    const body = webhookBody('failure', {
      job: s.jobs[0]!,
      runId: newRunId('nightly', startedAt),
      startedAt,
      finishedAt: new Date('2026-12-03T02:30:05Z'),
      outcome: { status: 'partial', exitCode: 3, snapshot: 'snap1', services: [], failedServices: [{ service: 'db', error: 'refused', hint: 'start it' }], error: 'db: refused', hint: 'start it' },
    });
    expect(body).toMatchObject({ event: 'failure', job: 'nightly', type: 'backup', status: 'partial', snapshot: 'snap1', failedServices: [{ service: 'db', error: 'refused', hint: 'start it' }], error: 'db: refused', hint: 'start it', durationMs: 5000 });
    expect(body.runId).toMatch(/^nightly-20261203T023000Z-[0-9a-f]{4}$/);
    expect(Object.keys(body).sort()).toEqual(['durationMs', 'error', 'event', 'failedServices', 'finishedAt', 'hint', 'holdfast', 'host', 'job', 'runId', 'snapshot', 'startedAt', 'status', 'type']);
  });
});
