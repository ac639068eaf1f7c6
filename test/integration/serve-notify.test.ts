import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { initRepo } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { startServe } from '../support/serve-process.js';

interface Received {
  path: string;
  body: string;
}

/** A local HTTP server that records every request (the webhook and the pings). */
async function receiver(): Promise<{ server: Server; port: number; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, got };
}

function metricValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('serve tells of a failure and of the recovery: webhook, pings and metrics', () => {
  let pg: PgCluster;
  let work: string;
  let hooks: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g', 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-serve-notify-'));
    hooks = await receiver();
  });
  afterAll(async () => {
    hooks?.server.close();
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a failing service: webhook with the snapshot, the failed service, error and hint; fail ping; metrics 0; then recovery', async () => {
    const repo = join(work, 'repo');
    const env = { HOLDFAST_REPO: repo, HOLDFAST_OK_PASSWORD: pg.password };
    await initRepo(repo, env);
    const secret = join(work, 'db-password');
    await writeFile(secret, 'not-the-password');
    const metricsPort = await freePort();
    const base = `http://127.0.0.1:${hooks.port}`;
    const config = join(work, 'holdfast.yml');
    await writeFile(
      config,
      `services:\n  ok: ${pg.url('app')}\n  db:\n    url: ${pg.url('app')}\n    password_file: ${secret}\njobs:\n  nightly:\n    type: backup\n    schedule: "*/2 * * * * *"\n    healthchecks: ${base}/hc\nnotify:\n  on: [failure, recovery]\n  webhook: { url: ${base}/hook, timeout: 5s, retries: 2 }\nserve:\n  metrics: { port: ${metricsPort} }\n`,
    );
    const serve = startServe(['--config', config], env);
    const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    try {
      const failure = await waitFor('the failure webhook', async () => hooks.got.find((r) => r.path === '/hook'), { timeoutMs: 40_000, intervalMs: 50 });
      const body = JSON.parse(failure.body) as Record<string, unknown>;
      expect(body).toMatchObject({ event: 'failure', job: 'nightly', type: 'backup', status: 'partial' });
      expect(body.snapshot).toMatch(/./);
      expect(body.runId).toMatch(/^nightly-/);
      expect(body.failedServices).toEqual([expect.objectContaining({ service: 'db', error: expect.stringMatching(/password|auth/i) })]);
      expect(body.error).toMatch(/^db: /);
      expect(body.hint).toMatch(/./);
      expect(hooks.got.some((r) => r.path === '/hc/start')).toBe(true);
      await waitFor('the fail ping', async () => hooks.got.find((r) => r.path === '/hc/fail' && /^partial: db: /.test(r.body)), { timeoutMs: 5000, intervalMs: 50 });

      const failed = await metrics();
      expect(metricValue(failed, 'holdfast_job_last_run_ok', 'job="nightly"')).toBe(0);
      expect(metricValue(failed, 'holdfast_job_last_run_status', 'job="nightly"')).toBe(1);
      expect(metricValue(failed, 'holdfast_service_last_backup_ok', 'service="db"')).toBe(0);
      expect(metricValue(failed, 'holdfast_service_last_backup_ok', 'service="ok"')).toBe(1);
      expect(metricValue(failed, 'holdfast_service_last_success_timestamp_seconds', 'service="db"')).toBeUndefined();
      expect(metricValue(failed, 'holdfast_service_last_backup_bytes', 'service="ok"')).toBeGreaterThan(0);
      expect(failed).toMatch(/^holdfast_repository_snapshots [1-9]/m);

      await writeFile(secret, pg.password);
      const recovery = await waitFor('the recovery webhook', async () => hooks.got.map((r) => (r.path === '/hook' ? (JSON.parse(r.body) as Record<string, unknown>) : undefined)).find((b) => b?.event === 'recovery'), { timeoutMs: 40_000, intervalMs: 50 });
      expect(recovery).toMatchObject({ status: 'ok', failedServices: [], error: null });
      expect(recovery.snapshot).toMatch(/./);
      await waitFor('the success ping', async () => hooks.got.find((r) => r.path === '/hc' && r.body.startsWith('ok ')), { timeoutMs: 5000, intervalMs: 50 });
      const recovered = await metrics();
      expect(metricValue(recovered, 'holdfast_job_last_run_ok', 'job="nightly"')).toBe(1);
      expect(metricValue(recovered, 'holdfast_service_last_backup_ok', 'service="db"')).toBe(1);
      expect(metricValue(recovered, 'holdfast_service_last_success_timestamp_seconds', 'service="db"')).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(metricValue(recovered, 'holdfast_job_runs_total', 'status="partial"')).toBeGreaterThanOrEqual(1);
      expect(metricValue(recovered, 'holdfast_service_snapshots', 'service="db"')).toBeGreaterThanOrEqual(1);
      expect(metricValue(recovered, 'holdfast_service_snapshots', 'service="ok"')).toBeGreaterThan(metricValue(recovered, 'holdfast_service_snapshots', 'service="db"')!);
      serve.child.kill('SIGTERM');
      expect(await serve.exited()).toBe(0);
    } finally {
      serve.child.kill('SIGKILL');
    }
    // A success after the recovery is not announced (notify.on has no success).
    const events = hooks.got.filter((r) => r.path === '/hook').map((r) => (JSON.parse(r.body) as { event: string }).event);
    expect(events.filter((e) => e === 'recovery')).toHaveLength(1);
    expect(events).not.toContain('success');
  });

  test('a webhook that refuses the connection is logged clearly and never fails the backup', async () => {
    const repo = join(work, 'repo2');
    const env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: pg.password };
    await initRepo(repo, env);
    const refused = await freePort();
    const config = join(work, 'holdfast2.yml');
    await writeFile(config, `services:\n  db: ${pg.url('app')}\njobs:\n  nightly: { type: backup, schedule: "*/2 * * * * *" }\nnotify:\n  on: [success, recovery]\n  webhook: { url: "http://127.0.0.1:${refused}/hook", timeout: 2s, retries: 1 }\nserve:\n  metrics: false\n`);
    const serve = startServe(['--config', config], env);
    try {
      const done = await serve.waitForLine('the backup', (l) => l.msg === 'run finished: ok');
      const logged = await serve.waitForLine('the delivery failure', (l) => l.level === 'error' && l.msg.startsWith('webhook'));
      expect(logged.msg).toBe(`webhook http://127.0.0.1:${refused}/hook not delivered after 2 attempts: connection refused; the job's outcome stands`);
      expect(logged.runId).toBe(done.runId);
      serve.child.kill('SIGTERM');
      expect(await serve.exited()).toBe(0);
    } finally {
      serve.child.kill('SIGKILL');
    }
  });

  test('email: a failure mail reaches a local SMTP server; an SMTP server that is down is logged clearly', async () => {
    const mails: Array<{ from: string; to: string[]; data: string }> = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (d: Buffer) => (data += d.toString()));
        stream.on('end', () => {
          mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
          callback();
        });
      },
    });
    const smtpPort = await freePort();
    await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', () => r()));
    const repo = join(work, 'repo3');
    const env = { HOLDFAST_REPO: repo, HOLDFAST_OK_PASSWORD: pg.password, HOLDFAST_GONE_PASSWORD: 'x' };
    await initRepo(repo, env);
    const config = join(work, 'holdfast3.yml');
    const down = await freePort();
    try {
      await writeFile(config, `services:\n  ok: ${pg.url('app')}\n  gone: postgres://postgres@127.0.0.1:${down}/app\njobs:\n  nightly: { type: backup, schedule: "*/2 * * * * *" }\nnotify:\n  email: { host: 127.0.0.1, port: ${smtpPort}, from: holdfast@example.org, to: [ops@example.org] }\nserve:\n  metrics: false\n`);
      const serve = startServe(['--config', config], env);
      try {
        await serve.waitForLine('the email', (l) => l.msg.startsWith('email sent to ops@example.org (failure)'));
        serve.child.kill('SIGTERM');
        expect(await serve.exited()).toBe(0);
      } finally {
        serve.child.kill('SIGKILL');
      }
      expect(mails[0]).toMatchObject({ from: 'holdfast@example.org', to: ['ops@example.org'] });
      expect(mails[0]!.data).toMatch(/^Subject: holdfast: nightly partly failed \(gone\) on /m);
      expect(mails[0]!.data).toMatch(/snapshot:  \d{8}T/);
      expect(mails[0]!.data).toMatch(/\[gone\] cannot reach PostgreSQL/);
      expect(mails[0]!.data).toMatch(/hint: /);
    } finally {
      await new Promise<void>((r) => smtp.close(() => r()));
    }

    // The same job with the SMTP server down: the backup is saved, the mail's failure logged
    // (the first run is a recovery: serve's state file remembers the failure above).
    await writeFile(config, `services:\n  ok: ${pg.url('app')}\njobs:\n  nightly: { type: backup, schedule: "*/2 * * * * *" }\nnotify:\n  on: [success, recovery]\n  email: { host: 127.0.0.1, port: ${smtpPort}, from: holdfast@example.org, to: ops@example.org, retries: 0, timeout: 3s }\nserve:\n  metrics: false\n`);
    const serve = startServe(['--config', config], env);
    try {
      const done = await serve.waitForLine('the backup', (l) => l.msg === 'run finished: ok');
      const logged = await serve.waitForLine('the mail failure', (l) => l.level === 'error' && l.msg.startsWith('email'));
      expect(logged.msg).toBe(`email through 127.0.0.1:${smtpPort} not sent after 1 attempts: connection refused; the job's outcome stands`);
      expect(logged.runId).toBe(done.runId);
      serve.child.kill('SIGTERM');
      expect(await serve.exited()).toBe(0);
    } finally {
      serve.child.kill('SIGKILL');
    }
  });
});
