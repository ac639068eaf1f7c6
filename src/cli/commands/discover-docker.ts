import { planService } from '../../core/planner.js';
import { formatEndpoint, type Service, type ServiceMount } from '../../core/service.js';
import type { DiscoveredStack } from '../../docker/docker-discovery.js';
import { isStateMount } from '../../docker/docker-discovery.js';
import { journalFiles } from '../../docker/docker-journal.js';
import type { CommandContext } from '../context.js';
import { shortWhy, table } from '../output.js';

/**
 * `holdfast discover` with Docker: the stack as compose users see it, one
 * row per service (service, container, engine, volumes, the strategy the
 * planner proposes and why), then what is not backed up and why (excluded,
 * stateless, tmpfs, read-only mounts), and leftovers of runs that died.
 */
/** What runs that died left in the leftover journal (leftover-journal.ts): removed by the next command that touches their server. */
async function leftoverNotes(): Promise<string[]> {
  const { leftoverFiles, ownerAlive, readLeftoverFile } = await import('../../core/leftover-journal.js');
  const notes: string[] = [];
  for (const file of await leftoverFiles()) {
    const journal = await readLeftoverFile(file);
    if (!journal || ownerAlive(journal)) continue;
    for (const l of journal.leftovers) {
      notes.push(`leftover ${l.kind} ${l.name}${l.endpoint ? ` on ${l.endpoint}` : ''} of holdfast pid ${journal.pid} (that run died after ${journal.updatedAt}); the next ${l.endpoint ? `restore or restore test of ${l.service ?? 'that service'}` : 'holdfast command'} removes it`);
    }
  }
  return notes;
}

export async function discoverDocker(ctx: CommandContext, stack: DiscoveredStack): Promise<number> {
  const services = ctx.config.services;
  const rows = await Promise.all(services.map((s) => describeService(ctx, s)));
  const serviceContainers = new Set(services.map((s) => s.container?.id).filter(Boolean));
  const others = stack.containers
    .filter((d) => !serviceContainers.has(d.container.id))
    .map((d) => ({ container: d.container.name, image: d.container.image, state: d.container.state, ...(d.container.compose ? { compose: d.container.compose } : {}), excluded: d.excluded, note: d.note ?? 'not a service' }));
  const notes: string[] = [];
  for (const d of stack.containers) {
    for (const m of d.skippedMounts) notes.push(`${d.container.name}: ${m.type === 'tmpfs' ? `tmpfs ${m.destination} is memory only: skipped` : `${m.source} at ${m.destination} is not data: skipped`}`);
    for (const m of d.readOnlyMounts) notes.push(`${d.container.name}: read-only ${m.type} ${m.source} at ${m.destination} is not state: listed, not backed up`);
  }
  for (const l of stack.leftovers) notes.push(`leftover helper container ${l.name} of holdfast pid ${l.pid} (that run died); the next backup removes it, or: docker rm -f ${l.name}`);
  for (const v of stack.scratchVolumes) notes.push(`leftover scratch volume ${v} of a restore test that died; the next restore test removes it, or: docker volume rm ${v}`);
  const journals = await journalFiles();
  if (journals.length) notes.push(`hold journals of unfinished runs: ${journals.join(', ')}`);
  for (const line of await leftoverNotes()) notes.push(line);

  if (ctx.out.json) {
    ctx.out.document({ docker: { host: stack.host }, services: rows, containers: others, notes });
  } else {
    ctx.out.line(
      table(
        ['SERVICE', 'CONTAINER', 'ENGINE', 'VOLUMES', 'STRATEGY'],
        rows.map((r) => [
          r.service,
          r.container ? `${r.container.name}${r.container.compose ? ` (${r.container.compose.project}/${r.container.compose.service})` : ''}` : (r.endpoint ?? '-'),
          r.engine ?? '?',
          r.volumes.map((v) => `${v.source}:${v.destination}`).join(', ') || '-',
          r.error ? shortWhy(r) : `${r.strategy} (${r.consistency}): ${shortWhy(r)}`,
        ]),
      ),
    );
    for (const o of others) ctx.out.line(`not backed up: ${o.container} (${o.image}): ${o.note}`);
    for (const n of notes) ctx.out.line(`note: ${n}`);
  }
  return rows.some((r) => r.error) ? 1 : 0;
}

async function describeService(ctx: CommandContext, service: Service) {
  const item = await planService(await ctx.drivers(), service, ctx.signal);
  const c = service.container;
  const volumes: ServiceMount[] = c ? c.mounts.filter(isStateMount) : service.endpoint?.scheme === 'volume' ? [{ type: 'volume', source: service.endpoint.path, destination: '-', readOnly: false }] : [];
  return {
    service: service.name,
    origin: service.origin,
    engine: item.driver?.engine ?? service.engine,
    detectedBy: c?.detectedBy ?? item.detectedBy,
    ...(service.endpoint && service.endpoint.scheme !== 'container' ? { endpoint: formatEndpoint(service.endpoint) } : {}),
    ...(c
      ? {
          container: {
            id: c.id.slice(0, 12),
            name: c.name,
            image: c.image,
            state: c.state,
            ports: c.ports,
            ...(c.compose ? { compose: c.compose } : {}),
            envNames: c.envNames,
            readOnlyMounts: c.mounts.filter((m) => m.readOnly),
            skippedMounts: c.mounts.filter((m) => m.type === 'tmpfs'),
          },
        }
      : {}),
    volumes,
    strategy: item.strategy,
    consistency: item.consistency,
    reason: item.reason,
    ...(item.place ? { place: item.place } : {}),
    ...(item.error ? { error: item.error.toJSON() as { message: string } } : {}),
  };
}
