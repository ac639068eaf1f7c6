import type { BackupResult, Driver, RestoreNeed } from './driver.js';
import { toHoldfastError } from './errors.js';
import type { Service } from './service.js';

/** What one service's restore needs, as `plan` and `restore --dry-run` print it. */
export interface ServiceRestoreNeeds {
  service: string;
  /** Where it would go, for the message. */
  where: string;
  needs: RestoreNeed[];
  /** The check itself failed (unreachable server, ...): the needs are unknown. */
  error?: string;
}

/**
 * Asks the driver what restoring into `target` needs from the account it
 * connects as (Driver.restoreNeeds); nothing changes. A driver without the
 * capability needs nothing it can check beforehand.
 */
export async function restoreNeedsOf(
  driver: Driver,
  request: { service: string; target: Service; strategy: string; inPlace: boolean; force: boolean; options: Record<string, unknown>; recorded?: BackupResult },
): Promise<ServiceRestoreNeeds> {
  const where = request.target.endpoint ? `${request.target.endpoint.host}${request.target.endpoint.port ? `:${request.target.endpoint.port}` : ''}` : request.target.name;
  if (!driver.restoreNeeds) return { service: request.service, where, needs: [] };
  try {
    const needs = await driver.restoreNeeds({
      target: request.target,
      strategy: request.strategy,
      inPlace: request.inPlace,
      force: request.force,
      options: request.options,
      ...(request.recorded ? { recorded: request.recorded } : {}),
    });
    return { service: request.service, where, needs };
  } catch (error) {
    return { service: request.service, where, needs: [], error: toHoldfastError(error).message };
  }
}

/** Lines for people: each need with `ok` or `MISSING` and, when missing, its fix. */
export function describeNeeds(result: ServiceRestoreNeeds): string[] {
  if (result.error) return [`${result.service}: could not check what a restore needs: ${result.error}`];
  if (result.needs.length === 0) return [];
  const lines: string[] = [];
  for (const n of result.needs) {
    lines.push(`${result.service}: ${n.met ? 'ok     ' : 'MISSING'}  ${n.need}`);
    if (!n.met && n.fix) lines.push(`${result.service}:          fix: ${n.fix}`);
  }
  return lines;
}
