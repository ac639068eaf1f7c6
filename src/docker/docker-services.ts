import type { Candidate, Detection } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import type { DockerApi } from './docker-api.js';
import type { DiscoveredContainer, DiscoveredStack } from './docker-discovery.js';
import { serviceContainer, isStateMount } from './docker-discovery.js';
import { userLabels } from './docker-labels.js';
import { peekMount } from './docker-peek.js';

/** The engine of a container with state but no engine of its own. */
export const VOLUME_ENGINE = 'volume';

/**
 * Services from a discovered stack: one per container that is not excluded
 * and either runs a known engine or has read-write volumes. Named after the
 * compose service (the project is prefixed only when two projects share a
 * service name; the replica number only for scaled services), else after the
 * container. The endpoint is `container:NAME`, so that a manifest names the
 * container and an in-place restore finds it again.
 */
export function stackServices(stack: DiscoveredStack): Service[] {
  const wanted = stack.containers.filter((d) => !d.excluded && (d.detection || d.stateMounts.length > 0));
  const names = wanted.map((d) => baseName(d));
  return wanted.map((d, i) => {
    let name = names[i]!;
    const compose = d.container.compose;
    if (compose && names.filter((n) => n === name).length > 1) {
      const sameProject = wanted.filter((o, j) => names[j] === name && o.container.compose?.project === compose.project).length;
      name = sameProject > 1 ? `${compose.project}-${compose.service}-${compose.number ?? 1}` : `${compose.project}-${compose.service}`;
    }
    return toService(safeName(name), d);
  });
}

function baseName(d: DiscoveredContainer): string {
  return d.container.compose?.service ?? d.container.name;
}

/** Service names are directory names: keep letters, digits, `_`, `-`, `.`. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63) || 'container';
}

function toService(name: string, d: DiscoveredContainer): Service {
  const service: Service = {
    name,
    engine: d.detection?.engine ?? VOLUME_ENGINE,
    endpoint: { scheme: 'container', host: '', path: d.container.name, params: {} },
    options: labelOptions(d.labels),
    origin: 'docker',
    container: d.detection ? d.container : { ...d.container, detectedBy: 'no engine detected: the state is its read-write mounts' },
  };
  if (d.labels.strategy) service.strategy = d.labels.strategy;
  return service;
}

function labelOptions(labels: DiscoveredContainer['labels']): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (labels.quiesce) options.quiesce = labels.quiesce;
  if (labels.group) options.group = labels.group;
  if (labels.stopTimeout !== undefined) options.stop_timeout = labels.stopTimeout;
  if (labels.helperImage) options.helper_image = labels.helperImage;
  // Where the engine's work runs (service-place.ts); holdfast.yml's place: / sidecar_image: ... land in options too.
  if (labels.place) options.place = labels.place;
  if (labels.sidecarImage) options.sidecar_image = labels.sidecarImage;
  if (labels.port !== undefined) options.port = labels.port;
  if (labels.secretEnv) options.secret_env = labels.secretEnv;
  if (labels.secretFile) options.secret_file = labels.secretFile;
  return options;
}

/**
 * Discovered services joined with configured ones (holdfast.yml, --service).
 * A configured service wins over a discovered one of the same name, or one
 * for the container its `container:NAME` URL names; that container is
 * attached to it, and its engine taken from detection when not configured.
 */
export function mergeServices(configured: readonly Service[], discovered: readonly Service[]): Service[] {
  const taken = new Set<string>();
  const merged = configured.map((service) => {
    const byContainer = service.endpoint?.scheme === 'container' ? discovered.find((d) => d.container && matchesContainer(d.container, service.endpoint!.path)) : undefined;
    const byName = discovered.find((d) => d.name === service.name);
    const match = byContainer ?? (service.endpoint?.scheme === 'container' ? undefined : byName);
    if (byName) taken.add(byName.name);
    if (!match) return service;
    taken.add(match.name);
    if (service.endpoint && service.endpoint.scheme !== 'container') return service;
    return { ...service, engine: service.engine ?? match.engine, options: { ...match.options, ...service.options }, container: match.container! };
  });
  return [...merged, ...discovered.filter((d) => !taken.has(d.name))];
}

function matchesContainer(c: NonNullable<Service['container']>, ref: string): boolean {
  return c.name === ref || (ref.length >= 12 && c.id.startsWith(ref));
}

/**
 * A configured `container:NAME` service without discovery: inspects that one
 * container and fills in its container record and engine.
 */
export async function resolveContainerService(api: DockerApi, service: Service, detect: (c: Candidate) => Detection | undefined): Promise<Service> {
  if (service.container || service.endpoint?.scheme !== 'container') return service;
  const ref = service.endpoint.path;
  const details = await api.inspectContainer(ref);
  if (!details) {
    throw new HoldfastError('not-found', `there is no container ${JSON.stringify(ref)} on ${api.host}`, {
      service: service.name,
      hint: 'check the name in container:NAME (docker ps -a), or DOCKER_HOST',
    });
  }
  const labels = userLabels(details.labels, details.name);
  const candidate: Candidate = { image: details.image, envNames: details.envNames };
  const engine = service.engine ?? labels.engine;
  if (engine) candidate.engine = engine;
  let detection = detect(candidate);
  if (!detection) {
    for (const mount of details.mounts.filter(isStateMount)) {
      const entries = await peekMount(api, mount, labels.helperImage).catch(() => undefined);
      detection = entries ? detect({ volumeEntries: entries }) : undefined;
      if (detection) break;
    }
  }
  return {
    ...service,
    engine: detection?.engine ?? VOLUME_ENGINE,
    options: { ...labelOptions(labels), ...service.options },
    ...(service.strategy ?? labels.strategy ? { strategy: service.strategy ?? labels.strategy } : {}),
    container: serviceContainer(details, detection),
  };
}
