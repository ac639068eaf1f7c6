import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { isContainerBacked } from '../../src/place/service-place.js';
import { withReachedService, type ReachedService } from '../../src/place/service-reach.js';
import { reachedVia } from './opensearch-connection.js';

/** OpenSearch's HTTP port inside its container, unless its `http.port` variable (or the label holdfast.port) says otherwise. */
export const OPENSEARCH_PORT = 9200;

/**
 * An OpenSearch node inside a container (discovery, `container:NAME`): its
 * HTTP API on the container's localhost, reached through a tunnel (a sidecar
 * in its network namespace when no port is published) for the whole of one
 * driver call; the driver's code runs unchanged on the tunnel's address.
 * The snapshot repository is the container's (the option `container` names
 * it), copied through its volume by a helper: no host path, no host port.
 * With the security plugin, the user is the option `user` (default admin)
 * and the password the container's OPENSEARCH_INITIAL_ADMIN_PASSWORD (or the
 * secret a label names), read inside it, unless holdfast has one.
 */
export async function withOpenSearchPlace<T>(service: Service, options: { signal?: AbortSignal; note?: (text: string) => void }, fn: (service: Service, reached?: ReachedService) => Promise<T>): Promise<T> {
  if (!isContainerBacked(service)) return fn(service);
  return withReachedService(
    service,
    { engine: 'OpenSearch', scheme: 'opensearch', port: OPENSEARCH_PORT, portVariable: 'http.port', secretVariables: ['OPENSEARCH_INITIAL_ADMIN_PASSWORD'], ...options },
    async (reached) => {
      const password = lookupPassword(service) ?? reached.secret;
      const user = typeof service.options.user === 'string' ? service.options.user : 'admin';
      const container = reached.place.container?.name ?? service.container?.name;
      const inner: Service = {
        ...reached.service,
        endpoint: { ...reached.service.endpoint!, ...(password !== undefined ? { user } : {}) },
        // repo_by_exec: path.repo may be on the container's own filesystem (opensearch-repo-exec.ts). Not recorded: options of this copy stay here.
        options: { ...service.options, ...(container ? { container, repo_by_exec: true } : {}) },
      };
      reachedVia.set(inner, { location: reached.location, ...(password !== undefined ? { password } : {}) });
      return fn(inner, reached);
    },
  );
}
