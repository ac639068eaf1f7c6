import type { Candidate, Detection } from '../core/driver.js';
import { toHoldfastError } from '../core/errors.js';
import type { ServiceContainer, ServiceMount } from '../core/service.js';
import type { ContainerDetails, DockerApi } from './docker-api.js';
import { leftoverScratchVolumes } from './docker-scratch.js';
import { leftoverHelpers } from './docker-helper.js';
import { composeOf, HELPER_LABEL, keptLabels, userLabels, type UserLabels } from './docker-labels.js';
import { peekMount } from './docker-peek.js';

/** One container as discovery sees it. */
export interface DiscoveredContainer {
  container: ServiceContainer;
  labels: UserLabels;
  /** Read-write volumes and bind mounts: the state a backup copies. */
  stateMounts: ServiceMount[];
  /** Read-only mounts (configuration, certificates, models): listed, not state. */
  readOnlyMounts: ServiceMount[];
  /** tmpfs and other mounts: memory only, never copied. */
  skippedMounts: ServiceMount[];
  detection?: Detection;
  excluded: boolean;
  /** Why this container is or is not a service, for `discover`. */
  note?: string;
}

export interface DiscoveredStack {
  host: string;
  containers: DiscoveredContainer[];
  /** Helper containers of runs that died. */
  leftovers: Array<{ id: string; name: string; pid: number }>;
  /** Scratch volumes of restore tests that died. */
  scratchVolumes: string[];
}

/** Sockets are not data: mounting the Docker socket is common and must not be tarred. */
const SOCKET_PATHS = /(^|\/)(docker|containerd|podman)\.sock$/;

export function isStateMount(m: ServiceMount): boolean {
  return (m.type === 'volume' || m.type === 'bind') && !m.readOnly && !SOCKET_PATHS.test(m.source);
}

/** The ServiceContainer record of a container: names of environment variables, never values. */
export function serviceContainer(c: ContainerDetails, detection?: Detection): ServiceContainer {
  const record: ServiceContainer = {
    id: c.id,
    name: c.name,
    image: c.image,
    state: c.status,
    labels: keptLabels(c.labels),
    mounts: c.mounts,
    envNames: c.envNames,
    ports: c.ports.length ? c.ports : [`network ${c.networkMode}`],
  };
  const compose = composeOf(c.labels);
  if (compose) record.compose = compose;
  if (c.stopTimeout !== undefined) record.stopTimeout = c.stopTimeout;
  if (c.imageId) record.imageId = c.imageId;
  if (detection) record.detectedBy = detection.signal;
  return record;
}

/**
 * Every container on the daemon (running or stopped), or one compose
 * project's, with its engine detected in the order of DESIGN.md: the
 * `holdfast.engine` label, the image, environment variable names, and last
 * the contents of its volumes (only looked at when nothing else told).
 */
export async function discoverStack(api: DockerApi, detect: (c: Candidate) => Detection | undefined, options: { project?: string } = {}): Promise<DiscoveredStack> {
  const filter = options.project ? { label: [`com.docker.compose.project=${options.project}`] } : {};
  const found: DiscoveredContainer[] = [];
  for (const id of await api.listContainers(filter)) {
    const details = await api.inspectContainer(id);
    if (!details || details.labels[HELPER_LABEL] === 'true') continue;
    found.push(await describe(api, details, detect));
  }
  found.sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  return { host: api.host, containers: found, leftovers: await leftoverHelpers(api), scratchVolumes: await leftoverScratchVolumes(api) };
}

async function describe(api: DockerApi, details: ContainerDetails, detect: (c: Candidate) => Detection | undefined): Promise<DiscoveredContainer> {
  let labels: UserLabels;
  try {
    labels = userLabels(details.labels, details.name);
  } catch (error) {
    // A bad label excludes the container, loudly, rather than guessing.
    const e = toHoldfastError(error);
    return { ...partition(details), container: serviceContainer(details), labels: { exclude: true }, excluded: true, note: `${e.message} (${e.hint})` };
  }
  const parts = partition(details);
  const candidate: Candidate = { image: details.image, envNames: details.envNames };
  if (labels.engine) candidate.engine = labels.engine;
  let detection = detect(candidate);
  if (!detection && !labels.exclude) {
    for (const mount of parts.stateMounts) {
      const entries = await peekMount(api, mount, labels.helperImage).catch(() => undefined);
      detection = entries ? detect({ volumeEntries: entries }) : undefined;
      if (detection) break;
    }
  }
  const container = serviceContainer(details, detection);
  const out: DiscoveredContainer = { ...parts, container, labels, excluded: labels.exclude };
  if (detection) out.detection = detection;
  if (labels.exclude) out.note = 'excluded by the label holdfast.exclude=true';
  else if (!detection && parts.stateMounts.length === 0) out.note = 'stateless: no read-write volume or bind mount';
  return out;
}

function partition(details: ContainerDetails) {
  return {
    stateMounts: details.mounts.filter(isStateMount),
    readOnlyMounts: details.mounts.filter((m) => (m.type === 'volume' || m.type === 'bind') && m.readOnly),
    skippedMounts: details.mounts.filter((m) => m.type === 'tmpfs' || m.type === 'other' || SOCKET_PATHS.test(m.source)),
  };
}

function sortKey(d: DiscoveredContainer): string {
  const c = d.container.compose;
  return c ? `${c.project}\u0000${c.service}\u0000${String(c.number ?? 0).padStart(4, '0')}` : `\u0001${d.container.name}`;
}
