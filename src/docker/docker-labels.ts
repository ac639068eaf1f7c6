import { HoldfastError } from '../core/errors.js';
import type { ServiceContainer } from '../core/service.js';

/**
 * The labels a user puts on a container to steer holdfast:
 *
 *   holdfast.engine=postgres        the engine, when image and environment do not tell
 *   holdfast.strategy=tar           pin a strategy
 *   holdfast.quiesce=stop|pause|none how the writers of its volumes are held for a tar
 *   holdfast.exclude=true           leave it out
 *   holdfast.group=NAME             containers held together (one window for the group)
 *   holdfast.stop-timeout=30        seconds `docker stop` waits before it kills
 *   holdfast.helper-image=IMAGE     the image that runs tar for its volumes
 *   holdfast.place=host|container|sidecar   where the engine's work runs (src/place/service-place.ts)
 *   holdfast.sidecar-image=IMAGE    the image of the sidecar joined to its network namespace
 *   holdfast.port=6333              the engine's port as the container sees it, when not its default
 *   holdfast.secret-env=NAME        the variable of the container that holds the engine's password / api key
 *   holdfast.secret-file=PATH       a file inside the container that holds it (a compose secret)
 */
export interface UserLabels {
  engine?: string;
  strategy?: string;
  quiesce?: QuiesceMode;
  exclude: boolean;
  group?: string;
  stopTimeout?: number;
  helperImage?: string;
  place?: string;
  sidecarImage?: string;
  port?: number;
  secretEnv?: string;
  secretFile?: string;
}

export type QuiesceMode = 'stop' | 'pause' | 'none';

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';
const COMPOSE_NUMBER = 'com.docker.compose.container-number';
const COMPOSE_DEPENDS = 'com.docker.compose.depends_on';
/** Every container holdfast itself creates carries this label. */
export const HELPER_LABEL = 'holdfast.helper';

export function userLabels(labels: Record<string, string>, container: string): UserLabels {
  const out: UserLabels = { exclude: /^(1|true|yes)$/i.test(labels['holdfast.exclude'] ?? '') };
  if (labels['holdfast.engine']) out.engine = labels['holdfast.engine'];
  if (labels['holdfast.strategy']) out.strategy = labels['holdfast.strategy'];
  if (labels['holdfast.group']) out.group = labels['holdfast.group'];
  if (labels['holdfast.helper-image']) out.helperImage = labels['holdfast.helper-image'];
  if (labels['holdfast.sidecar-image']) out.sidecarImage = labels['holdfast.sidecar-image'];
  if (labels['holdfast.secret-env']) out.secretEnv = labels['holdfast.secret-env'];
  if (labels['holdfast.secret-file']) out.secretFile = labels['holdfast.secret-file'];
  const place = labels['holdfast.place'];
  if (place !== undefined) {
    if (place !== 'host' && place !== 'container' && place !== 'sidecar') {
      throw new HoldfastError('config', `container ${container} has holdfast.place=${JSON.stringify(place)}`, {
        hint: 'use holdfast.place=host, container or sidecar (or drop the label: holdfast then chooses and says why in plan)',
      });
    }
    out.place = place;
  }
  const port = labels['holdfast.port'];
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      throw new HoldfastError('config', `container ${container} has holdfast.port=${JSON.stringify(port)}`, { hint: 'give the port the engine listens on inside the container, e.g. holdfast.port=6333' });
    }
    out.port = n;
  }
  const quiesce = labels['holdfast.quiesce'];
  if (quiesce !== undefined) {
    if (quiesce !== 'stop' && quiesce !== 'pause' && quiesce !== 'none') {
      throw new HoldfastError('config', `container ${container} has holdfast.quiesce=${JSON.stringify(quiesce)}`, {
        hint: 'use holdfast.quiesce=stop, pause or none',
      });
    }
    out.quiesce = quiesce;
  }
  const timeout = labels['holdfast.stop-timeout'];
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw new HoldfastError('config', `container ${container} has holdfast.stop-timeout=${JSON.stringify(timeout)}`, {
        hint: 'give whole seconds, e.g. holdfast.stop-timeout=30',
      });
    }
    out.stopTimeout = seconds;
  }
  return out;
}

/** The compose project and service of a container, from the labels compose sets. */
export function composeOf(labels: Record<string, string>): ServiceContainer['compose'] {
  const project = labels[COMPOSE_PROJECT];
  const service = labels[COMPOSE_SERVICE];
  if (!project || !service) return undefined;
  // depends_on: "db:service_started:false,cache:service_healthy:true" (compose v2).
  const dependsOn = (labels[COMPOSE_DEPENDS] ?? '')
    .split(',')
    .map((d) => d.split(':')[0]!.trim())
    .filter(Boolean);
  const compose: NonNullable<ServiceContainer['compose']> = { project, service, dependsOn };
  const number = Number(labels[COMPOSE_NUMBER]);
  if (Number.isInteger(number) && number > 0) compose.number = number;
  return compose;
}

/** Only the labels worth recording: holdfast's own and compose's. */
export function keptLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith('holdfast.') || k.startsWith('com.docker.compose.')));
}
