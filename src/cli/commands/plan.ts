import { selectServices } from '../../core/config.js';
import { plan } from '../../core/planner.js';
import { splitAssignment } from '../../core/service.js';
import type { CommandContext } from '../context.js';
import { strings, type HoldfastCommand } from '../command.js';
import { shortWhy, table } from '../output.js';
import { HoldfastError } from '../../core/errors.js';
import { PRE_UPGRADE_TAG, withPhysicalCopies } from '../../core/physical-plan.js';
import { planUsage } from './plan-usage.js';
import { describeNeeds, restoreNeedsOf, type ServiceRestoreNeeds } from '../../core/restore-needs.js';

export function physicalWanted(args: Record<string, unknown>): boolean {
  return typeof args.physical === 'boolean' ? args.physical : strings(args.tag).includes(PRE_UPGRADE_TAG);
}

/** The plan of the chosen services, with their physical copies when asked. */
export async function planChosen(ctx: CommandContext, args: Record<string, unknown>) {
  const items = await plan(await ctx.drivers(), chosenServices(ctx, args), ctx.signal);
  return physicalWanted(args) ? withPhysicalCopies(items) : items;
}

/** Services named on the command line, with `--strategy NAME=S` pins applied. */
export function chosenServices(ctx: CommandContext, args: Record<string, unknown>) {
  const services = selectServices(ctx.config.services, strings(args.services));
  if (services.length === 0) {
    throw new HoldfastError('usage', 'no services to work on', {
      hint: 'define them in holdfast.yml, pass --service NAME=URL, or take them from Docker: --docker (every container of DOCKER_HOST) or --project NAME (one compose project)',
    });
  }
  for (const pin of strings(args.strategy)) {
    const [name, strategy] = splitAssignment(pin, '--strategy');
    const service = services.find((s) => s.name === name);
    if (!service) throw new HoldfastError('usage', `--strategy names an unknown service ${JSON.stringify(name)}`);
    service.strategy = strategy;
  }
  return services;
}

export const planCommand: HoldfastCommand = {
  ...planUsage,
  async run(ctx, args) {
    const items = await planChosen(ctx, args);
    // What an in-place restore of each service would need from its account, checked now (not when it is needed).
    const needs = new Map<string, ServiceRestoreNeeds>();
    for (const i of items) {
      if (i.error || !i.driver || !i.strategy || i.physicalOf) continue;
      needs.set(i.service.name, await restoreNeedsOf(i.driver, { service: i.service.name, target: i.service, strategy: i.strategy, inPlace: true, force: true, options: {} }));
    }
    if (ctx.out.json) {
      ctx.out.document({
        services: items.map((i) => ({
          service: i.service.name,
          engine: i.driver?.engine,
          strategy: i.strategy,
          consistency: i.consistency,
          reason: i.reason,
          ...(i.place ? { place: i.place } : {}),
          ...(i.physicalOf ? { physicalOf: i.physicalOf } : {}),
          offers: i.offers,
          ...(needs.get(i.service.name) && !i.physicalOf ? { restoreNeeds: needs.get(i.service.name)!.needs } : {}),
          ...(i.error ? { error: i.error.toJSON() } : {}),
        })),
      });
    } else {
      ctx.out.line(
        table(
          ['SERVICE', 'ENGINE', 'STRATEGY', 'CONSISTENCY', 'WHY'],
          items.map((i) => [i.service.name, i.driver?.engine ?? '?', i.strategy ?? '-', i.consistency ?? '-', shortWhy(i)]),
        ),
      );
      const lines = [...needs.values()].flatMap(describeNeeds);
      if (lines.length) {
        ctx.out.line();
        ctx.out.line('A restore in place needs:');
        for (const l of lines) ctx.out.line(`  ${l}`);
      }
    }
    return items.some((i) => i.error) ? 1 : 0;
  },
};
