import { EXIT, HoldfastError } from '../../core/errors.js';
import { selectServices } from '../../core/config.js';
import { cronOf, serveSettings } from '../../serve/serve-config.js';
import { ServeDaemon } from '../../serve/serve-daemon.js';
import { createServeLog, type LogFormat } from '../../serve/serve-log.js';
import type { HoldfastCommand } from '../command.js';
import type { GlobalFlags } from '../context.js';
import type { DockerFlags } from '../docker-context.js';
import { table } from '../output.js';
import { serveUsage } from './serve-usage.js';

export const serveCommand: HoldfastCommand = {
  ...serveUsage,
  async run(ctx, args) {
    // Everything is checked before anything starts: a bad job stops serve whole.
    const settings = serveSettings(ctx.config.document, ctx.config.path);
    for (const job of settings.jobs) {
      if (job.type !== 'backup' || job.services.length === 0) continue;
      try {
        selectServices(ctx.config.services, job.services);
      } catch (error) {
        const e = error as HoldfastError;
        throw new HoldfastError('config', `job ${job.name}: ${e.message}`, { hint: e.hint ?? '' });
      }
    }
    if (settings.jobs.some((j) => j.type === 'backup') && ctx.config.services.length === 0) {
      throw new HoldfastError('config', 'a backup job is configured but there are no services', { hint: 'define services: in holdfast.yml, or a docker: section for discovery' });
    }
    const repo = ctx.repository();
    await repo.open({ create: false });
    const metricsPort = args['metrics-port'] === undefined ? undefined : Number(args['metrics-port']);
    if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) throw new HoldfastError('usage', `--metrics-port ${args['metrics-port']} is not a port`);
    if (args.check) {
      const rows = settings.jobs.map((job) => {
        const next = cronOf(job).nextRuns(3);
        const what = job.type === 'backup' ? (job.services.join(',') || 'all services') + (job.verify ? ' + verify' : '') : job.type === 'forget' ? Object.entries(job.keep).map(([u, n]) => `${u}=${n}`).join(' ') : job.type === 'check' ? (job.readData ? 'read-data' : 'sizes') : job.snapshot;
        return { job: job.name, type: job.type, schedule: job.schedule, timezone: job.timezone ?? null, what, next: next.map((d) => d.toISOString()) };
      });
      if (ctx.out.json) ctx.out.document({ status: 'ok', repository: repo.location, state: settings.statePath, metrics: settings.metrics ?? null, jobs: rows });
      else {
        ctx.out.line(table(['JOB', 'TYPE', 'SCHEDULE', 'WHAT', 'NEXT RUNS'], rows.map((r) => [r.job, r.type, `${r.schedule}${r.timezone ? ` (${r.timezone})` : ''}`, r.what, r.next.join(', ')])));
        ctx.out.line(`configuration ok: ${rows.length} jobs, repository ${repo.location}`);
      }
      return EXIT.ok;
    }
    const log = createServeLog(args['log-format'] as LogFormat);
    const daemon = new ServeDaemon({ settings, flags: args as unknown as GlobalFlags & DockerFlags, log, stop: ctx.signal });
    return daemon.run(metricsPort);
  },
};
