import { HoldfastError } from '../core/errors.js';
import type { DockerApi, StreamRun } from '../docker/docker-api.js';
import { BUILT_HELPER_IMAGE, helperImage, startIdleHelper } from '../docker/docker-helper.js';

/**
 * A sidecar: a short-lived helper container that shares a service
 * container's network namespace (`--network container:<id>`), so that it
 * reaches the engine on the container's own localhost with no published
 * port. It is a holdfast helper (labelled `holdfast.helper=true` with the
 * pid of the run, docker-helper.ts): removed when the run ends, and by the
 * next command after a kill -9 (removeLeftoverHelpers). It mounts nothing.
 */
export interface Sidecar {
  readonly id: string;
  /** The service container it is joined to. */
  readonly target: string;
  readonly image: string;
  exec(cmd: readonly string[], options?: { stdin?: boolean; signal?: AbortSignal; env?: readonly string[] }): Promise<StreamRun>;
  /** Removes it. Idempotent. */
  stop(): Promise<void>;
}

/** The sidecar image: the service's setting, else HOLDFAST_SIDECAR_IMAGE, else (when not built: startSidecar) the helper image. */
export function sidecarImage(preferred?: string): string {
  return preferred || process.env.HOLDFAST_SIDECAR_IMAGE || helperImage();
}

export async function startSidecar(api: DockerApi, target: { id: string; name: string }, options: { service: string; image?: string; signal?: AbortSignal }): Promise<Sidecar> {
  // Unnamed: the image `holdfast image build` makes, when it is on the daemon (it has nc, and no registry was needed).
  const named = options.image || process.env.HOLDFAST_SIDECAR_IMAGE;
  const image = named || ((await api.imagePresent(BUILT_HELPER_IMAGE)) ? BUILT_HELPER_IMAGE : sidecarImage());
  if (!(await api.imagePresent(image))) {
    throw new HoldfastError('tool', `the sidecar image ${image} is not on the Docker daemon at ${api.host}`, {
      service: options.service,
      hint: `a sidecar reaches ${target.name} with no published port; docker pull ${image}, or build one here with \`holdfast image build\` (no registry), or name an image you have (with sh and nc, or bash) in HOLDFAST_SIDECAR_IMAGE or the label holdfast.sidecar-image; or publish the port and give holdfast its URL`,
    });
  }
  const helper = await startIdleHelper(api, `sidecar of ${target.name}`, {
    image,
    mounts: [],
    networkMode: `container:${target.id}`,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let stopped = false;
  const id = helper.id!;
  return {
    id,
    target: target.name,
    image,
    exec: (cmd, o = {}) => api.exec(id, { cmd, ...(o.env ? { env: o.env } : {}), ...(o.stdin ? { stdin: true } : {}), ...(o.signal ? { signal: o.signal } : {}) }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await helper.stop();
    },
  };
}
