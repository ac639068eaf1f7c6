import type { Driver } from '../src/core/driver.js';
import { DriverRegistry } from '../src/core/registry.js';
import { postgresDriver } from './postgres/postgres-driver.js';

/** Every built-in driver; a new engine is added here and in its own folder. */
export const builtinDrivers: readonly Driver[] = [postgresDriver];

export function defaultRegistry(): DriverRegistry {
  return new DriverRegistry(builtinDrivers);
}
