import { Readable } from 'node:stream';
import type { Driver, Requirement, StrategyOffer } from '../../../src/core/driver.js';
import type { PlanItem } from '../../../src/core/planner.js';
import { parseEndpoint, type Service } from '../../../src/core/service.js';

/** A driver that does nothing unless a test gives it behaviour. */
export function fakeDriver(overrides: Partial<Driver> = {}): Driver {
  const engine = overrides.engine ?? 'fake';
  return {
    engine,
    title: 'Fake engine',
    schemes: [engine],
    detect: (candidate) =>
      candidate.engine === engine || candidate.endpoint?.scheme === engine ? { engine, signal: `URL scheme ${engine}:`, strength: 80 } : undefined,
    strategies: async () => [],
    inspect: async () => ({ version: '1.0', objects: [], details: {} }),
    fingerprint: async (_service, scope) => ({ scope, items: {} }),
    backup: async () => {
      throw new Error('backup was not expected');
    },
    restore: async () => {
      throw new Error('restore was not expected');
    },
    ...overrides,
  };
}

export function service(name: string, extra: Partial<Service> = {}): Service {
  return { name, endpoint: parseEndpoint(`fake://app@127.0.0.1:7/${name}`, false, name), options: {}, origin: 'flag', ...extra };
}

export function requirement(what: string, met: boolean, hint?: string, detail?: string): Requirement {
  return { what, met, ...(hint ? { hint } : {}), ...(detail ? { detail } : {}) };
}

export function offer(name: string, extra: Partial<StrategyOffer> = {}): StrategyOffer {
  return { name, consistency: 'transactional', summary: `${name} summary`, requirements: [], restoresIntoNewer: true, ...extra };
}

/** A plan item as the planner makes it for a runnable service. */
export function planned(svc: Service, driver: Driver, strategy = 'dump'): PlanItem {
  return { service: svc, driver, strategy, consistency: 'transactional', reason: 'test plan', offers: [offer(strategy)] };
}

/** A finite stream of the given buffers. */
export function bytes(...chunks: Array<string | Buffer>): Readable {
  return Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
}

/**
 * A stream that never ends on its own: a chunk every few milliseconds, as a
 * dump of a large database would. Stops when destroyed.
 */
export function endless(chunk = Buffer.alloc(16 * 1024, 'x'), everyMs = 5): Readable {
  let timer: NodeJS.Timeout | undefined;
  return new Readable({
    read() {
      timer = setTimeout(() => this.push(chunk), everyMs);
    },
    destroy(error, callback) {
      clearTimeout(timer);
      callback(error);
    },
  });
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      },
      { once: true },
    );
  });
}
