/**
 * examples/compose/ run by Debian's docker-compose (1.29) on the test daemon.
 * The example's definitions (services, labels, hooks, secrets, volumes,
 * depends_on, init, its holdfast.yml) are used as they are; only what CI
 * cannot have is substituted: the local images, host/none networks instead
 * of compose's bridge (so no published port: metrics on loopback), the
 * test daemon's socket, a schedule every few seconds, a local webhook
 * receiver instead of hooks.example and no SMTP relay. Seen: the plan the
 * labels give, a scheduled backup, a failure alert, the recovery, the
 * metrics following both, and a clean stop.
 */
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { waitFor } from '../../src/core/wait.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, ensureHoldfastImage, HOLDFAST_IMAGE, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/compose/', import.meta.url));
const run = promisify(execFile);

interface Hook {
  event: string;
  status: string;
  snapshot: string | null;
  failedServices: Array<{ service: string }>;
}

describe('the compose example', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}shop`;
  let dir: string;
  let file: string;
  let server: Server;
  const hooks: Hook[] = [];

  const compose = async (...args: string[]) => {
    try {
      return (await run('docker-compose', ['-p', project, '-f', file, ...args], { env: process.env, maxBuffer: 16 << 20 })).stdout;
    } catch (error) {
      const e = error as Error & { stderr?: string };
      throw new Error(`docker-compose ${args.join(' ')}: ${e.stderr ?? e.message}`);
    }
  };

  beforeAll(async () => {
    await lab.init();
    ensureHoldfastImage();
    dir = await lab.dir('compose');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/hook') hooks.push(JSON.parse(body) as Hook);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  }, 300_000);
  afterAll(async () => {
    if (file) await compose('down', '-v', '-t', '30').catch(() => undefined);
    server?.close();
    await lab.cleanup();
  });

  test('up on the local images: plan from its labels, scheduled backups, failure alert, recovery, metrics, clean stop', async () => {
    const pgPort = await freePort();
    const metricsPort = await freePort();
    const hookPort = (server.address() as { port: number }).port;

    // holdfast.yml of the example, given a quick schedule and local endpoints (the original is checked by serve --check below).
    const config = parse(await readFile(join(EXAMPLE, 'holdfast.yml'), 'utf8'));
    expect(config.docker).toEqual({ host: 'unix:///var/run/docker.sock', project: 'shop' });
    config.docker.project = project;
    Object.assign(config.jobs.nightly, { schedule: '*/3 * * * * *', verify: false });
    delete config.jobs.nightly.jitter;
    config.serve.metrics = { host: '127.0.0.1', port: metricsPort };
    config.notify.webhook.url = `http://127.0.0.1:${hookPort}/hook`;
    delete config.notify.email;
    await writeFile(join(dir, 'holdfast.yml'), stringify(config));

    // docker-compose.yml of the example, with the substitutions above.
    const stack = parse(await readFile(join(EXAMPLE, 'docker-compose.yml'), 'utf8'));
    const { db, holdfast: hf, 'uploads-worker': worker } = stack.services;
    expect([db.image, worker.image, hf.image]).toEqual(['postgres:16', 'busybox:1.36', HOLDFAST_IMAGE]);
    db.image = IMAGES.postgres;
    db.network_mode = 'host';
    Object.assign(db.environment, { PGPORT: String(pgPort), POSTGRES_LISTEN_ADDRESSES: '127.0.0.1' });
    worker.image = IMAGES.busybox;
    worker.network_mode = 'none';
    delete hf.build;
    delete hf.ports;
    hf.network_mode = 'host';
    hf.environment.HOLDFAST_HELPER_IMAGE = IMAGES.postgres;
    const socket = process.env.DOCKER_HOST!.replace(/^unix:\/\//, '');
    hf.volumes = (hf.volumes as string[]).map((v) =>
      v.startsWith('/var/run/docker.sock:') ? `${socket}:/var/run/docker.sock` : v.startsWith('./holdfast.yml:') ? `${join(dir, 'holdfast.yml')}:/etc/holdfast/holdfast.yml:ro` : v,
    );
    hf.volumes.push(`${join(EXAMPLE, 'holdfast.yml')}:/etc/holdfast/example.yml:ro`);
    for (const s of Object.values(stack.services) as Array<{ labels: Record<string, string> }>) s.labels = { ...s.labels, 'holdfast-test.lab': lab.prefix };
    for (const [name, secret] of Object.entries(stack.secrets) as Array<[string, { file: string }]>) {
      secret.file = join(dir, name);
      await writeFile(secret.file, `${name}-s3cret\n`);
      await chmod(secret.file, 0o644); // read by postgres (uid 999) in its container, as with the official image
    }
    file = join(dir, 'docker-compose.yml');
    await writeFile(file, stringify(stack));
    // As the example's header says: the repository volume is initialized once, then the stack comes up.
    await compose('run', '--rm', 'holdfast', 'init');
    await compose('up', '-d', '--no-build');
    const container = async (service: string) => (await compose('ps', '-q', service)).trim();
    const [dbId, hfId] = [await container('db'), await container('holdfast')];
    await waitFor('postgres of the stack', async () => {
      if ((await docker(['inspect', '-f', '{{.State.Running}}', dbId])) !== 'true') throw new Error(`db exited: ${await compose('logs', '--tail', '20', 'db').catch((e: Error) => e.message)}`);
      return (await docker(['exec', dbId, 'pg_isready', '-q', '-h', '127.0.0.1', '-p', String(pgPort)]).then(() => true, () => false)) ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });

    // The example's own holdfast.yml, unchanged, passes serve --check in the holdfast container (its project named by the flag).
    const check = await docker(['exec', hfId, 'holdfast', 'serve', '--check', '--config', '/etc/holdfast/example.yml', '--project', project]);
    expect(check).toMatch(/^nightly +backup +0 30 2 \* \* \* \(Europe\/Berlin\) +all services \+ verify /m);
    expect(check).toMatch(/configuration ok: 4 jobs, repository \/var\/lib\/holdfast\/repo/);

    // The plan its labels give: the database dumped by its engine, the worker's volume copied while it is paused, holdfast itself left out.
    const plan = await holdfast(['plan', '--project', project, '--json'], lab.env());
    const services = plan.json<{ services: Array<{ service: string; engine: string; strategy: string }> }>().services;
    expect(services.map((s) => [s.service, s.engine, s.strategy]).sort()).toEqual([
      ['db', 'postgres', 'pg_dump'],
      ['uploads-worker', 'volume', 'tar-pause'],
    ]);

    let lastMetrics = '';
    const metric = async (line: RegExp) => {
      lastMetrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), (e: Error) => `fetch failed: ${e.message}`);
      if (line.test(lastMetrics)) return true;
      if ((await docker(['inspect', '-f', '{{.State.Running}}', hfId])) !== 'true') throw new Error(`serve exited: ${await compose('logs', '--tail', '20', 'holdfast')}`);
      return undefined;
    };
    const waitMetric = (what: string, line: RegExp) =>
      waitFor(what, () => metric(line), { timeoutMs: 30_000, intervalMs: 300 }).catch(async (e: Error) => {
        throw new Error(`${e.message}; metrics: ${lastMetrics.split('\n').filter((l) => /^holdfast_(job|service)_last_run_ok|^holdfast_service_last_backup_ok/.test(l) || l.startsWith('fetch')).join(' | ')}; serve: ${(await docker(['logs', '--tail', '3', hfId])).slice(-1500)}`);
      });
    const snapshots = async () => JSON.parse(await docker(['exec', hfId, 'holdfast', 'snapshots', '--json'])) as { snapshots: Array<{ id: string }> };

    // A scheduled backup, listed by `holdfast snapshots` in the holdfast container, its post-hook run in the db container.
    await waitFor('a scheduled backup', async () => ((await snapshots()).snapshots.length > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
    await waitMetric('metrics of the good run', /^holdfast_job_last_run_ok\{[^}]*job="nightly"[^}]*\} 1$/m);
    await waitFor('the post-backup hook in the db container', async () => ((await docker(['exec', dbId, 'cat', '/tmp/holdfast-last-backup']).catch(() => '')).startsWith('ok ') ? true : undefined), { timeoutMs: 20_000, intervalMs: 300 });
    const told = (await docker(['exec', dbId, 'cat', '/tmp/holdfast-last-backup'])).split(' ')[1]!;
    expect((await snapshots()).snapshots.map((s) => s.id)).toContain(told);

    // A failure: the pre-backup hook (psql -d shop) finds no database shop.
    await lab.psql(dbId, 'DROP DATABASE shop WITH (FORCE)', 'postgres', 'db_password-s3cret');
    const failure = await waitFor('a failure alert', async () => hooks.find((h) => h.event === 'failure'), { timeoutMs: 30_000, intervalMs: 300 });
    expect(failure.failedServices.map((f) => f.service)).toEqual(['db']);
    await waitMetric('metrics of the failed run', /^holdfast_service_last_backup_ok\{service="db",[^}]*\} 0$/m);

    // The recovery.
    await lab.psql(dbId, 'CREATE DATABASE shop', 'postgres', 'db_password-s3cret');
    const recovery = await waitFor('a recovery alert', async () => hooks.find((h) => h.event === 'recovery'), { timeoutMs: 30_000, intervalMs: 300 });
    expect(recovery.status).toBe('ok');
    await waitMetric('metrics of the recovery', /^holdfast_service_last_backup_ok\{service="db",[^}]*\} 1$/m);

    // docker-compose stop: SIGTERM, serve finishes its run and exits 0; nothing of the stack is left paused.
    await compose('stop', '-t', '60', 'holdfast');
    expect(await docker(['inspect', '-f', '{{.State.ExitCode}}', hfId])).toBe('0');
    expect((await lab.held()).filter((l) => !l.startsWith(`${project}_holdfast_`))).toEqual([]);
  }, 300_000);
});
