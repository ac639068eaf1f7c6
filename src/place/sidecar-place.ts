import type { ToolExit } from '../core/process.js';
import type { DockerApi, StreamRun } from '../docker/docker-api.js';
import { execToArtifact } from '../docker/docker-artifact.js';
import type { Place, PlaceRunOptions, Reached } from './place.js';
import { startSidecar, type Sidecar } from './sidecar.js';
import { openTunnel, type Tunnel } from './sidecar-tunnel.js';

/**
 * The sidecar place: work runs in a helper container joined to the service
 * container's network namespace, started on first use and removed by
 * close(). `reach` tunnels to the container's localhost; `run` runs a tool
 * of the sidecar's image there (tools the service's image lacks).
 */
export class SidecarPlace implements Place {
  readonly kind = 'sidecar' as const;
  readonly where: string;
  readonly containerName: string;
  private readonly lazy: LazySidecar;

  constructor(api: DockerApi, target: { id: string; name: string }, options: { service: string; image?: string; signal?: AbortSignal }) {
    this.containerName = target.name;
    this.where = `in a sidecar joined to container ${target.name}`;
    this.lazy = new LazySidecar(api, target, options);
  }

  async run(argv: readonly string[], options: PlaceRunOptions = {}): Promise<StreamRun> {
    const sidecar = await this.lazy.get();
    const env = Object.entries(options.env ?? {})
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    return sidecar.exec(argv, { env, ...(options.stdin ? { stdin: true } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  }

  toArtifact(
    argv: readonly string[],
    sink: Parameters<Place['toArtifact']>[1],
    artifact: { name: string; kind: string; label?: string },
    options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean },
  ) {
    return execToArtifact(() => this.run(argv, options), sink, artifact, { tool: argv[0] ?? 'command', judge: options.judge, ...(options.allowEmpty ? { allowEmpty: true } : {}) });
  }

  reach(host: string, port: number, signal?: AbortSignal): Promise<Reached> {
    return this.lazy.reach(host, port, signal);
  }

  close(): Promise<void> {
    return this.lazy.close();
  }
}

/**
 * One sidecar per service container, started when first needed (a plan that
 * only reads labels starts none), shared by every tunnel, removed at close.
 * A ContainerPlace takes its `reach` and `close` from here.
 */
export class LazySidecar {
  private sidecar: Promise<Sidecar> | undefined;
  private readonly tunnels: Tunnel[] = [];

  constructor(
    private readonly api: DockerApi,
    private readonly target: { id: string; name: string },
    private readonly options: { service: string; image?: string; signal?: AbortSignal },
  ) {}

  get(): Promise<Sidecar> {
    this.sidecar ??= startSidecar(this.api, this.target, this.options);
    return this.sidecar;
  }

  async reach(host: string, port: number, signal?: AbortSignal): Promise<Reached> {
    const sidecar = await this.get();
    const tunnel = await openTunnel((cmd, o) => sidecar.exec(cmd, o), host, port, {
      service: this.options.service,
      where: `container ${this.target.name}`,
      ...(signal ?? this.options.signal ? { signal: (signal ?? this.options.signal)! } : {}),
    });
    this.tunnels.push(tunnel);
    return tunnel;
  }

  async close(): Promise<void> {
    const tunnels = this.tunnels.splice(0);
    await Promise.all(tunnels.map((t) => t.close()));
    const sidecar = this.sidecar;
    this.sidecar = undefined;
    if (sidecar) await (await sidecar.catch(() => undefined))?.stop();
  }
}
