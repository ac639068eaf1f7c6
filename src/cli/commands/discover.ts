import { toHoldfastError } from '../../core/errors.js';
import { formatEndpoint } from '../../core/service.js';
import type { HoldfastCommand } from '../command.js';
import { table } from '../output.js';
import { dockerStackOf } from '../docker-context.js';
import { discoverDocker } from './discover-docker.js';
import { discoverUsage } from './discover-usage.js';

export const discoverCommand: HoldfastCommand = {
  ...discoverUsage,
  async run(ctx) {
    // With --docker / --project: the stack view (containers, volumes, proposed strategies).
    const stack = dockerStackOf(ctx);
    if (stack) return discoverDocker(ctx, stack);
    const rows = [];
    const registry = await ctx.drivers();
    for (const service of ctx.config.services) {
      const row: Record<string, unknown> = { service: service.name, origin: service.origin, endpoint: service.endpoint ? formatEndpoint(service.endpoint) : undefined };
      try {
        const { driver, detection } = registry.forService(service);
        row.engine = driver.engine;
        row.detectedBy = detection.signal;
        const inspection = await driver.inspect(service);
        row.version = inspection.version;
        row.objects = inspection.objects;
      } catch (error) {
        row.error = toHoldfastError(error, { service: service.name }).toJSON();
      }
      rows.push(row);
    }
    if (ctx.out.json) {
      ctx.out.document({ services: rows });
    } else if (rows.length === 0) {
      ctx.out.line('no services: define them in holdfast.yml or with --service NAME=URL, or add --docker (every container of DOCKER_HOST) or --project NAME (one compose project)');
    } else {
      ctx.out.line(
        table(
          ['SERVICE', 'ENGINE', 'VERSION', 'ENDPOINT', 'CONTENTS'],
          rows.map((r) => [
            String(r.service),
            String(r.engine ?? '?'),
            String(r.version ?? '-'),
            String(r.endpoint ?? '-'),
            r.error ? `error: ${(r.error as { message: string }).message}` : ((r.objects as Array<{ name: string }>) ?? []).map((o) => o.name).join(', '),
          ]),
        ),
      );
    }
    return rows.some((r) => r.error) ? 1 : 0;
  },
};
