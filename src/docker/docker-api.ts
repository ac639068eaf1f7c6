import type { Readable, Writable } from 'node:stream';
import type { ServiceMount } from '../core/service.js';

/**
 * The few Docker operations holdfast uses, as a small local interface: the
 * core and the drivers depend on this, not on a client library (docker-client.ts is
 * the one implementation). Every method throws a HoldfastError ('connect')
 * when the daemon cannot be reached; "no such container/volume" is an
 * `undefined` result where the method says so.
 */
export interface DockerApi {
  /** `unix:///var/run/docker.sock`, `tcp://...`: for messages and the hold journal. */
  readonly host: string;
  ping(): Promise<void>;
  /** `docker info`: the few fields holdfast reads. */
  daemonInfo(): Promise<DaemonInfo>;
  /** Ids of containers, running or not, filtered as `docker ps -a --filter label=... --filter volume=... --filter status=...`. */
  listContainers(filters?: ContainerFilters): Promise<string[]>;
  /** Undefined when there is no such container. */
  inspectContainer(idOrName: string): Promise<ContainerDetails | undefined>;
  /** Undefined when there is no such volume. */
  inspectVolume(name: string): Promise<VolumeDetails | undefined>;
  createVolume(spec: { name: string; driver?: string; options?: Record<string, string>; labels: Record<string, string> }): Promise<void>;
  /** `docker volume rm`; a volume that is already gone is fine. Fails while a container uses it. */
  removeVolume(name: string): Promise<void>;
  /** Names of the volumes with this label (`key` or `key=value`). */
  listVolumes(label: string): Promise<string[]>;
  imagePresent(image: string): Promise<boolean>;
  /** The image's id (`sha256:...`), or undefined when it is not on the daemon. */
  imageId(image: string): Promise<string | undefined>;
  /** Names of the environment variables the image itself sets (its ENV), or undefined when it is not on the daemon. */
  imageEnvNames(image: string): Promise<string[] | undefined>;
  /**
   * Creates and starts a long-lived container (not removed when it exits):
   * for a restore that rebuilds a service's container. Never pulls.
   */
  createContainer(spec: ContainerSpec): Promise<string>;
  /** The last lines of a container's output (stdout and stderr), for error messages. */
  logsTail(id: string, lines: number): Promise<string>;
  /** `docker stop -t timeout`: SIGTERM (or the stop signal), then SIGKILL after the timeout. */
  stop(id: string, timeoutSec: number): Promise<void>;
  /** Idempotent: a running container is left as it is. */
  start(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  /** Idempotent: a container that is not paused is left as it is. */
  unpause(id: string): Promise<void>;
  /** Runs a command inside a running container (docker exec). */
  exec(id: string, spec: ExecSpec): Promise<StreamRun>;
  /** Creates, attaches to and starts a throwaway container; removed when its run settles. */
  run(spec: RunSpec): Promise<StreamRun>;
  /** `docker rm -f`; a container that is already gone is fine. */
  remove(id: string): Promise<void>;
  /** Builds an image from a tar build context (the Engine API's build endpoint, no network, never pulls); resolves with its id. */
  buildImage(context: Readable, spec: { tag: string; labels: Record<string, string> }): Promise<string>;
}

export interface DaemonInfo {
  /** The daemon's host name (`docker info` Name). */
  name: string;
  /** Where the daemon keeps containers and volumes on its own machine. */
  rootDir: string;
  /** `name=seccomp,profile=default`, `name=userns`, `name=rootless`, ... */
  securityOptions: string[];
}

export interface ContainerFilters {
  label?: readonly string[];
  /** A volume name: containers that mount it. */
  volume?: string;
  status?: ReadonlyArray<'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead'>;
}

export interface ContainerDetails {
  id: string;
  name: string;
  image: string;
  /** The id (`sha256:...`) of the image it was created from: a tag may since point elsewhere. */
  imageId?: string;
  status: string;
  /** The health check's verdict (`starting`, `healthy`, `unhealthy`) when the image or container has one. */
  health?: string;
  running: boolean;
  paused: boolean;
  exitCode: number;
  labels: Record<string, string>;
  /** Names only: values never leave this module. */
  envNames: string[];
  mounts: ServiceMount[];
  ports: string[];
  networkMode: string;
  stopTimeout?: number;
  stopSignal?: string;
  /** The pid of its main process as the daemon's machine numbers it (0 or undefined when not running). */
  pid?: number;
}

export interface VolumeDetails {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export interface ExecSpec {
  cmd: readonly string[];
  /** `NAME=value` pairs; secrets go here (never in cmd). */
  env?: readonly string[];
  user?: string;
  workingDir?: string;
  /** Open the command's stdin (StreamRun.stdin). */
  stdin?: boolean;
  signal?: AbortSignal;
}

export interface RunSpec {
  image: string;
  /** Replaces the image's entrypoint; with `imageEntrypoint`, the image's own entrypoint and command run (an empty cmd keeps the image's command). */
  cmd: readonly string[];
  imageEntrypoint?: boolean;
  /** `NAME=value` pairs (Docker's API, never a host command line). */
  env?: readonly string[];
  labels: Record<string, string>;
  /** Volumes and bind mounts, `readOnly` as asked. */
  mounts: Array<{ type: 'volume' | 'bind'; source: string; target: string; readOnly: boolean }>;
  user?: string;
  stdin?: boolean;
  /** Capabilities the container runs without (`MKNOD`: a restore that may not create device nodes). */
  capDrop?: readonly string[];
  /** `container:<id>` for a sidecar that shares a service container's network namespace; default `none`. */
  networkMode?: `container:${string}`;
  signal?: AbortSignal;
}

export interface ContainerSpec {
  name: string;
  image: string;
  /** `NAME=value` pairs (values may be secrets: they go into the API request body, never on a command line). */
  env: string[];
  labels: Record<string, string>;
  mounts: Array<{ type: 'volume' | 'bind' | 'tmpfs'; source: string; target: string; readOnly: boolean }>;
  /** `none`, `host`, or a network name. */
  networkMode: string;
  stopTimeout?: number;
}

export interface StreamRun {
  /** The throwaway container of run(); undefined for exec. */
  containerId?: string;
  /** The command's stdout, demultiplexed; it ends when the command closes its stdout. */
  stdout: Readable;
  /** The command's stdin when asked for; end it to send EOF. */
  stdin?: Writable;
  /** Settles once the command exited: its exit code and the tail of its stderr. */
  done: Promise<StreamExit>;
  /** Stops reading and, for a throwaway container, kills it. */
  abort(): void;
}

export interface StreamExit {
  exitCode: number | null;
  stderr: string;
}
