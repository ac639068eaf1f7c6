import { HoldfastError, toHoldfastError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import type { Reached } from './place.js';
import { containerSecret, containerVariable, isContainerBacked, openServicePlace, placeRecord, type PlaceRecord, type ServicePlace } from './service-place.js';

/**
 * An engine's HTTP API inside its container, reached for one command: the
 * place is chosen (service-place.ts), a tunnel opened to the API on the
 * container's localhost (or its published port), and the driver's own code
 * runs unchanged on a service whose endpoint is the tunnel's local address.
 * Everything is closed when `fn` settles (a sidecar included).
 */
export interface ApiReach {
  /** The engine's title ("Qdrant"). */
  engine: string;
  /** The scheme of the endpoint handed to the driver (`qdrant`, `opensearch`). */
  scheme: string;
  /** The API's default port inside the container. */
  port: number;
  /** A variable of the container that may move the port (`QDRANT__SERVICE__HTTP_PORT`). */
  portVariable?: string;
  /** The container's variables that hold the engine's key or password, in order (read inside it, never printed). */
  secretVariables?: readonly string[];
  signal?: AbortSignal;
  /** Told what was swept before a sidecar started (see PlaceNeeds.note). */
  note?: (text: string) => void;
}

export interface ReachedService {
  /** The service with its endpoint set to the tunnel (or the published port). */
  service: Service;
  /** `http://127.0.0.1:6333 in container shop-qdrant-1`: stable across runs, for messages and journals. */
  location: string;
  /** The key or password the container holds, when it holds one. */
  secret?: string;
  place: ServicePlace;
  record: PlaceRecord;
}

export async function withReachedService<T>(service: Service, reach: ApiReach, fn: (r: ReachedService) => Promise<T>): Promise<T> {
  if (!isContainerBacked(service)) throw new HoldfastError('internal', 'withReachedService needs a container-backed service', { service: service.name });
  const port = service.options.port !== undefined ? undefined : reach.portVariable ? await containerPort(service, reach.portVariable) : undefined;
  const sp = await openServicePlace(service, {
    engine: reach.engine,
    port: port ?? reach.port,
    ...(reach.signal ? { signal: reach.signal } : {}),
    ...(reach.note ? { note: reach.note } : {}),
  });
  let reached: Reached | undefined;
  try {
    const inside = sp.port ?? reach.port;
    reached = await sp.place.reach('127.0.0.1', inside, reach.signal);
    const secret = reach.secretVariables ? await containerSecret(service, reach.secretVariables, reach.signal) : undefined;
    const endpoint = { scheme: reach.scheme, host: reached.host, port: reached.port, path: '', params: { ...(service.endpoint?.scheme === 'container' ? {} : service.endpoint?.params) } };
    const location = `http://127.0.0.1:${inside} in container ${sp.container?.name ?? service.name}`;
    const out = { service: { ...service, endpoint }, location, place: sp, record: placeRecord(sp), ...(secret !== undefined ? { secret } : {}) };
    try {
      return await fn(out);
    } catch (error) {
      throw withTunnelReason(error, reached, sp);
    }
  } finally {
    await reached?.close().catch(() => undefined);
    await sp.place.close();
  }
}

async function containerPort(service: Service, variable: string): Promise<number | undefined> {
  const value = await containerVariable(service, variable);
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/** A connection failure through a tunnel says what the forwarder saw ("Connection refused") and where. */
function withTunnelReason(error: unknown, reached: Reached, sp: ServicePlace): unknown {
  const e = toHoldfastError(error);
  if (e.code !== 'connect') return error;
  const last = (reached as Reached & { lastError?: () => string | undefined }).lastError?.();
  const why = last ? `; the tunnel ${sp.place.where} said: ${last}` : '';
  if (!why) return error;
  return new HoldfastError('connect', `${e.message}${why}`, {
    ...(e.service ? { service: e.service } : {}),
    ...(e.driver ? { driver: e.driver } : {}),
    hint: `check that the engine listens on port ${sp.port ?? '?'} inside container ${sp.container?.name ?? '?'} (the label holdfast.port or port: in holdfast.yml sets another)`,
    cause: error,
  });
}
