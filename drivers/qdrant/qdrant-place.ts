import type { Service } from '../../src/core/service.js';
import { isContainerBacked } from '../../src/place/service-place.js';
import { withReachedService, type ReachedService } from '../../src/place/service-reach.js';
import { reachedVia } from './qdrant-connection.js';

/** Qdrant's REST port inside its container, unless QDRANT__SERVICE__HTTP_PORT (or the label holdfast.port) says otherwise. */
export const QDRANT_PORT = 6333;

/**
 * A Qdrant node inside a container (discovery, `container:NAME`): its REST
 * API on the container's localhost, reached through a tunnel (a sidecar in
 * its network namespace when no port is published), for the whole of one
 * driver call. The driver's code runs unchanged on the tunnel's address;
 * the api key is QDRANT__SERVICE__API_KEY of the container (or the secret a
 * label names), read inside it, unless holdfast has one for the service.
 * Services reached by URL pass straight through.
 */
export async function withQdrantPlace<T>(service: Service, options: { signal?: AbortSignal; note?: (text: string) => void }, fn: (service: Service, reached?: ReachedService) => Promise<T>): Promise<T> {
  if (!isContainerBacked(service)) return fn(service);
  return withReachedService(
    service,
    { engine: 'Qdrant', scheme: 'qdrant', port: QDRANT_PORT, portVariable: 'QDRANT__SERVICE__HTTP_PORT', secretVariables: ['QDRANT__SERVICE__API_KEY'], ...options },
    async (reached) => {
      const { lookupApiKey } = await import('./qdrant-connection.js');
      // holdfast's own key for the service (HOLDFAST_<NAME>_PASSWORD, api_key_env/_file) wins over the container's.
      const apiKey = lookupApiKey(service) ?? reached.secret;
      reachedVia.set(reached.service, { location: reached.location, ...(apiKey !== undefined ? { apiKey } : {}) });
      return fn(reached.service, reached);
    },
  );
}
