import type { Service } from '../../src/core/service.js';
import { mysqlTarget, type MyTarget } from './mysql-connection.js';
import { isContainerService, openContainerTarget } from './mysql-container.js';

/**
 * The target of a service wherever its server runs: a mysql:// URL is used
 * as it is; `container:NAME` opens the container (its tools, its
 * credentials, a tunnel for holdfast's SQL: mysql-container.ts), which
 * `release` closes again.
 */
export type OpenTarget = MyTarget & { release(): Promise<void> };

export async function openTarget(service: Service, signal?: AbortSignal, note?: (text: string) => void): Promise<OpenTarget> {
  if (isContainerService(service)) return openContainerTarget(service, signal, note);
  return { ...mysqlTarget(service), release: async () => undefined };
}

/** `note` (a backup's or a restore's): told what was cleaned in the container first (a dead run's pipes, container-pipe-sweep.ts). */
export async function withTarget<T>(service: Service, work: (t: MyTarget) => Promise<T>, signal?: AbortSignal, note?: (text: string) => void): Promise<T> {
  const t = await openTarget(service, signal, note);
  try {
    return await work(t);
  } finally {
    await t.release();
  }
}
