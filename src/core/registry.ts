import type { Candidate, Detection, Driver } from './driver.js';
import { HoldfastError } from './errors.js';
import type { Service } from './service.js';

/** The drivers holdfast knows, looked up by engine, URL scheme or detection. */
export class DriverRegistry {
  private readonly drivers = new Map<string, Driver>();

  constructor(drivers: readonly Driver[] = []) {
    for (const driver of drivers) this.register(driver);
  }

  register(driver: Driver): void {
    if (this.drivers.has(driver.engine)) throw new HoldfastError('internal', `driver ${driver.engine} registered twice`);
    this.drivers.set(driver.engine, driver);
  }

  all(): Driver[] {
    return [...this.drivers.values()];
  }

  get(engine: string): Driver {
    const driver = this.drivers.get(engine);
    if (!driver) {
      throw new HoldfastError('config', `no driver for engine ${JSON.stringify(engine)}`, {
        hint: `known engines: ${[...this.drivers.keys()].join(', ')}`,
      });
    }
    return driver;
  }

  /** The strongest detection among all drivers, or undefined. */
  detect(candidate: Candidate): Detection | undefined {
    let best: Detection | undefined;
    for (const driver of this.drivers.values()) {
      const found = driver.detect(candidate);
      if (found && (!best || found.strength > best.strength)) best = found;
    }
    return best;
  }

  /** The driver of a service: its configured engine, else what detection says. */
  forService(service: Service): { driver: Driver; detection: Detection } {
    const candidate: Candidate = {};
    if (service.engine) candidate.engine = service.engine;
    if (service.endpoint) candidate.endpoint = service.endpoint;
    if (service.engine) return { driver: this.get(service.engine), detection: { engine: service.engine, signal: 'configured engine', strength: 100 } };
    const detection = this.detect(candidate);
    if (!detection) {
      const what = service.endpoint ? `the URL scheme ${service.endpoint.scheme}:` : 'its definition';
      throw new HoldfastError('config', `cannot tell which engine service ${service.name} runs from ${what}`, {
        service: service.name,
        hint: `set engine: in holdfast.yml, or use a URL scheme of: ${this.all().flatMap((d) => d.schemes).join(', ')}`,
      });
    }
    return { driver: this.get(detection.engine), detection };
  }
}
