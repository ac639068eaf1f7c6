import { HoldfastError } from '../core/errors.js';
import type { ToolExit } from '../core/process.js';
import type { DockerApi, StreamRun } from '../docker/docker-api.js';
import { execToArtifact } from '../docker/docker-artifact.js';
import { dockerApi } from '../docker/docker-lazy.js';
import { containerRootOnThisHost, stageThroughPipe, toArtifactThroughPipe } from './container-pipe.js';
import { describeCleaned, sweepDeadPipes, WATCHED } from './container-pipe-sweep.js';
import type { Place, PlaceRunOptions, Reached, StagedArtifact } from './place.js';

/**
 * The container place: commands run in the service's own container through
 * docker exec, so the engine's tools match its server. An engine may give a
 * fixed wrapper script (`sh -c WRAPPER name "$@"`) that takes credentials
 * the image itself was given (POSTGRES_PASSWORD, MARIADB_ROOT_PASSWORD_FILE,
 * ...) inside the container, so their values never reach holdfast. The
 * script is fixed text: values reach it only through the environment,
 * arguments only through "$@".
 */
export interface ContainerPlaceOptions {
  /** The service, for errors. */
  service: string;
  /** The engine's title, for errors ("PostgreSQL"). */
  engine: string;
  /** A fixed shell script run as `sh -c WRAPPER holdfast-exec ARGV...`; it ends with `exec "$@"`. */
  wrapper?: string;
  /** Variables every command gets (a password holdfast has for the service among them). */
  env?: Record<string, string | undefined>;
  /** How the place reaches a TCP endpoint seen from the container (a sidecar tunnel, sidecar-place.ts). */
  reach?: (host: string, port: number, signal?: AbortSignal) => Promise<Reached>;
  /** Released with the place. */
  onClose?: () => Promise<void>;
  /** false: toArtifact never uses a pipe (container-pipe.ts), for an engine whose wrapper handles its own output. */
  outputPipe?: boolean;
  /**
   * Told what was cleaned: before the place's first command, the pipes of
   * dead holdfast runs in the container, and their tools, are removed
   * (container-pipe-sweep.ts). Without it nothing is swept (plan).
   */
  note?: (text: string) => void;
}

export class ContainerPlace implements Place {
  readonly kind = 'container' as const;
  readonly where: string;
  readonly containerName: string;
  /** The service, for errors. */
  readonly service: string;
  private closed = false;
  private root: Promise<string | undefined> | undefined;
  private swept: Promise<void> | undefined;
  /** How the last artifact left the container: a pipe read on this host, or dockerd's exec stream. */
  lastOutput: 'pipe' | 'exec' | undefined;

  constructor(
    readonly api: DockerApi,
    readonly id: string,
    name: string,
    private readonly options: ContainerPlaceOptions,
  ) {
    this.containerName = name;
    this.service = options.service;
    this.where = `inside container ${name}`;
  }

  /** The running container `ref` (an id or a name), or a clear error naming the service and the fix. */
  static async open(ref: string, options: ContainerPlaceOptions & { signal?: AbortSignal; api?: DockerApi }): Promise<ContainerPlace> {
    const api = options.api ?? (await dockerApi());
    const details = await api.inspectContainer(ref);
    if (!details) {
      throw new HoldfastError('not-found', `the container ${ref} of ${options.engine} is gone`, {
        service: options.service,
        hint: 'check docker ps -a, or run holdfast discover again; on another Docker host, `holdfast restore SNAPSHOT --recreate` starts it from the recorded image',
      });
    }
    if (!details.running || details.paused) {
      throw new HoldfastError('connect', `the container ${details.name} is ${details.paused ? 'paused' : details.status}, so its tools cannot run`, {
        service: options.service,
        hint: `docker ${details.paused ? 'unpause' : 'start'} ${details.name}`,
      });
    }
    if (options.signal?.aborted) throw new HoldfastError('interrupted', 'interrupted', { service: options.service });
    return new ContainerPlace(api, details.id, details.name, options);
  }

  private spec(argv: readonly string[], options: PlaceRunOptions) {
    const env = Object.entries({ ...this.options.env, ...options.env })
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const wrapped = this.options.wrapper ? ['sh', '-c', this.options.wrapper, 'holdfast-exec', ...argv] : [...argv];
    // The watcher goes outside the credential wrapper, which may look at the tool's name (MongoDB's) and execs it:
    // the process the watcher stops is the tool itself.
    const cmd = options.watched ? ['sh', '-c', WATCHED, 'holdfast-watch', ...wrapped] : wrapped;
    return { cmd, env, ...(options.stdin || options.watched ? { stdin: true } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  }

  run(argv: readonly string[], options: PlaceRunOptions = {}): Promise<StreamRun> {
    if (this.closed) throw new HoldfastError('internal', `the place ${this.where} is closed`, { service: this.options.service });
    const swept = this.startSweep(options.signal);
    if (!swept) return this.api.exec(this.id, this.spec(argv, options));
    return swept.then(() => this.api.exec(this.id, this.spec(argv, options)));
  }

  /**
   * The sweep of dead runs' pipes (container-pipe-sweep.ts), once per place, finished before its first command.
   * Started ahead by an engine whose first command comes after other work (SQL through a tunnel): its exec
   * (50-100 ms) then overlaps that work. Only where pipes are made (root on the daemon's machine).
   */
  startSweep(signal?: AbortSignal): Promise<void> | undefined {
    const note = this.options.note;
    if (!note || process.getuid?.() !== 0) return undefined;
    this.swept ??= sweepDeadPipes(this.api, this.id, signal).then((cleaned) => cleaned.forEach((c) => note(describeCleaned(c, this.containerName))));
    return this.swept;
  }

  async stageArtifact(
    argv: readonly string[],
    sink: Parameters<Place['toArtifact']>[1],
    artifact: { name: string; kind: string; label?: string },
    options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean },
  ): Promise<StagedArtifact | undefined> {
    if (this.options.outputPipe === false) return undefined;
    this.root ??= containerRootOnThisHost(this).catch(() => undefined);
    const root = await this.root;
    const staged = root ? await stageThroughPipe(this, root, argv, sink, artifact, options) : undefined;
    if (staged) this.lastOutput = 'pipe';
    return staged;
  }

  async toArtifact(
    argv: readonly string[],
    sink: Parameters<Place['toArtifact']>[1],
    artifact: { name: string; kind: string; label?: string },
    options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean },
  ) {
    // Faster than dockerd's stdio copy where this host sees the container's files (container-pipe.ts).
    this.root ??= this.options.outputPipe === false ? Promise.resolve(undefined) : containerRootOnThisHost(this).catch(() => undefined);
    const root = await this.root;
    const piped = root ? await toArtifactThroughPipe(this, root, argv, sink, artifact, options) : undefined;
    if (piped) {
      this.lastOutput = 'pipe';
      return piped;
    }
    this.lastOutput = 'exec';
    // Watched (container-pipe-sweep.ts): the tool stops when holdfast's exec goes (a kill -9), instead of running on
    // into a stream nobody reads, or blocked, holding its transaction. Not for an engine whose wrapper handles its own output.
    const watched = () => this.run(argv, this.options.outputPipe === false ? options : { ...options, watched: true });
    return execToArtifact(watched, sink, artifact, {
      tool: argv[0] ?? 'command',
      judge: options.judge,
      ...(options.allowEmpty ? { allowEmpty: true } : {}),
    });
  }

  reach(host: string, port: number, signal?: AbortSignal): Promise<Reached> {
    if (!this.options.reach) {
      throw new HoldfastError('config', `${host}:${port} inside container ${this.containerName} cannot be reached from here`, {
        service: this.options.service,
        hint: 'publish the port, or let holdfast start a sidecar (see the README, "Engines inside containers")',
      });
    }
    return this.options.reach(host, port, signal);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.options.onClose?.();
  }
}
