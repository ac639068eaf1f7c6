import type { Duplex, Readable } from 'node:stream';
import { getMaxListeners, setMaxListeners } from 'node:events';
import { finished } from 'node:stream/promises';
import { HoldfastError } from '../core/errors.js';
import type { ServiceMount } from '../core/service.js';
import type { ContainerDetails, ContainerFilters, ContainerSpec, DaemonInfo, DockerApi, ExecSpec, RunSpec, StreamExit, StreamRun, VolumeDetails } from './docker-api.js';
import { DockerDemux } from './docker-demux.js';
import { EngineHttp } from './docker-engine-http.js';

/** Where Docker is: DOCKER_HOST, else the default socket. */
export function dockerHost(): string {
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

/** The DockerApi: node:http on a local socket, dockerode for tcp:// daemons. Nothing connects until the first call. */
export function connectDocker(host: string = dockerHost()): DockerApi {
  return new DockerodeApi(host);
}

/**
 * A local socket is spoken to with node:http (docker-engine-http.ts); a
 * tcp:// daemon, maybe with TLS from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH,
 * through dockerode, loaded only then.
 */
async function engineFor(host: string): Promise<EngineHttp> {
  if (host.startsWith('unix://')) return new EngineHttp(host.slice('unix://'.length));
  const { default: Dockerode } = await import('dockerode');
  // The environment's own host: let docker-modem read DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
  if (host === process.env.DOCKER_HOST) return new Dockerode() as unknown as EngineHttp;
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Dockerode({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' }) as unknown as EngineHttp;
}

interface RawInspect {
  Id: string;
  Name: string;
  Image?: string;
  State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number; Pid?: number; Health?: { Status?: string } | null };
  Config: { Image: string; Env?: string[] | null; Labels?: Record<string, string> | null; StopTimeout?: number; StopSignal?: string };
  HostConfig: { NetworkMode?: string; Tmpfs?: Record<string, string> | null };
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean; Driver?: string }>;
  NetworkSettings?: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
}

class DockerodeApi implements DockerApi {
  private engine?: Promise<EngineHttp>;

  constructor(readonly host: string) {}

  private get docker(): Promise<EngineHttp> {
    this.engine ??= engineFor(this.host);
    return this.engine;
  }

  ping(): Promise<void> {
    return this.call('ping', async () => void (await (await this.docker).ping()));
  }

  daemonInfo(): Promise<DaemonInfo> {
    return this.call('info', async () => {
      const info = (await (await this.docker).info()) as { Name?: string; DockerRootDir?: string; SecurityOptions?: string[] | null };
      return { name: info.Name ?? '', rootDir: info.DockerRootDir ?? '', securityOptions: info.SecurityOptions ?? [] };
    });
  }

  listContainers(filter: ContainerFilters = {}): Promise<string[]> {
    return this.call('list containers', async () => {
      const f: Record<string, string[]> = {};
      if (filter.label?.length) f.label = [...filter.label];
      if (filter.volume) f.volume = [filter.volume];
      if (filter.status?.length) f.status = [...filter.status];
      const filters = Object.keys(f).length ? JSON.stringify(f) : undefined;
      const list = await (await this.docker).listContainers({ all: true, ...(filters ? { filters } : {}) });
      return list.map((c) => c.Id);
    });
  }

  inspectContainer(idOrName: string): Promise<ContainerDetails | undefined> {
    return this.call(`inspect container ${idOrName}`, async () => {
      try {
        return toDetails((await (await this.docker).getContainer(idOrName).inspect()) as unknown as RawInspect);
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    });
  }

  inspectVolume(name: string): Promise<VolumeDetails | undefined> {
    return this.call(`inspect volume ${name}`, async () => {
      try {
        const v = await (await this.docker).getVolume(name).inspect();
        return { name: v.Name, driver: v.Driver, mountpoint: v.Mountpoint, labels: v.Labels ?? {}, options: v.Options ?? {} };
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    });
  }

  createVolume(spec: { name: string; driver?: string; options?: Record<string, string>; labels: Record<string, string> }): Promise<void> {
    return this.call(`create volume ${spec.name}`, async () => {
      await (await this.docker).createVolume({ Name: spec.name, Driver: spec.driver ?? 'local', DriverOpts: spec.options ?? {}, Labels: spec.labels });
    });
  }

  removeVolume(name: string): Promise<void> {
    return this.call(`remove volume ${name}`, async () => {
      try {
        await (await this.docker).getVolume(name).remove();
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    });
  }

  listVolumes(label: string): Promise<string[]> {
    return this.call(`list volumes labelled ${label}`, async () => {
      const res = await (await this.docker).listVolumes({ filters: JSON.stringify({ label: [label] }) });
      return (res.Volumes ?? []).map((v) => v.Name);
    });
  }

  imagePresent(image: string): Promise<boolean> {
    return this.call(`inspect image ${image}`, async () => {
      try {
        await (await this.docker).getImage(image).inspect();
        return true;
      } catch (error) {
        if (statusOf(error) === 404) return false;
        throw error;
      }
    });
  }

  imageId(image: string): Promise<string | undefined> {
    return this.call(`inspect image ${image}`, async () => {
      try {
        return ((await (await this.docker).getImage(image).inspect()) as { Id: string }).Id;
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    });
  }

  buildImage(context: Readable, spec: { tag: string; labels: Record<string, string> }): Promise<string> {
    return this.call(`build image ${spec.tag}`, async () => {
      const engine = (await this.docker) as unknown as { buildImage(c: Readable, o: Record<string, string>): Promise<NodeJS.ReadableStream> };
      const progress = await engine.buildImage(context, { t: spec.tag, labels: JSON.stringify(spec.labels), networkmode: 'none', rm: '1', forcerm: '1' });
      // JSON lines: {stream}, {aux: {ID}}, or {error, errorDetail}; the build failed when one says error.
      let text = '';
      for await (const chunk of progress) text += chunk.toString();
      let id: string | undefined;
      for (const line of text.split('\n').filter(Boolean)) {
        let item: { error?: string; aux?: { ID?: string } };
        try {
          item = JSON.parse(line) as typeof item;
        } catch {
          continue;
        }
        if (item.error) throw new HoldfastError('tool', `docker build of ${spec.tag} failed: ${item.error.trim()}`, { hint: 'see the message; the build runs FROM scratch with no network' });
        if (item.aux?.ID) id = item.aux.ID;
      }
      return id ?? (await this.imageId(spec.tag)) ?? '';
    });
  }

  logsTail(id: string, lines: number): Promise<string> {
    return this.call(`logs of ${id}`, async () => {
      const raw = await (await this.docker).getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false });
      // Without a TTY the log comes in frames: 8-byte header (stream, 0, 0, 0, length), then the bytes.
      const parts: Buffer[] = [];
      for (let at = 0; at + 8 <= raw.length; ) {
        const size = raw.readUInt32BE(at + 4);
        parts.push(raw.subarray(at + 8, at + 8 + size));
        at += 8 + size;
      }
      return Buffer.concat(parts).toString('utf8').trim();
    });
  }

  imageEnvNames(image: string): Promise<string[] | undefined> {
    return this.call(`inspect image ${image}`, async () => {
      try {
        const env = ((await (await this.docker).getImage(image).inspect()) as { Config?: { Env?: string[] | null } }).Config?.Env ?? [];
        return env.map((e) => e.split('=')[0]!).filter(Boolean);
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    });
  }

  createContainer(spec: ContainerSpec): Promise<string> {
    return this.call(`create container ${spec.name}`, async () => {
      const container = await (await this.docker).createContainer({
        name: spec.name,
        Image: spec.image,
        Env: spec.env,
        Labels: spec.labels,
        ...(spec.stopTimeout !== undefined ? { StopTimeout: spec.stopTimeout } : {}),
        HostConfig: {
          NetworkMode: spec.networkMode,
          // tmpfs has no source: Docker takes the empty one.
          Mounts: spec.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
        },
      });
      try {
        await container.start();
      } catch (error) {
        await container.remove({ force: true }).catch(() => undefined);
        throw error;
      }
      return container.id;
    });
  }

  stop(id: string, timeoutSec: number): Promise<void> {
    return this.call(`stop ${id}`, async () => tolerate((await this.docker).getContainer(id).stop({ t: timeoutSec }), 304));
  }

  start(id: string): Promise<void> {
    return this.call(`start ${id}`, async () => tolerate((await this.docker).getContainer(id).start(), 304));
  }

  pause(id: string): Promise<void> {
    return this.call(`pause ${id}`, async () => void (await (await this.docker).getContainer(id).pause()));
  }

  unpause(id: string): Promise<void> {
    return this.call(`unpause ${id}`, async () => {
      try {
        await (await this.docker).getContainer(id).unpause();
      } catch (error) {
        // 409 / 500 "is not paused": someone (or an earlier run) already did it.
        if (/not paused/i.test(String((error as Error).message))) return;
        throw error;
      }
    });
  }

  remove(id: string): Promise<void> {
    // v: the container's anonymous volumes too (an image with VOLUME gets one per container); named volumes are never touched.
    return this.call(`remove ${id}`, async () => tolerate((await this.docker).getContainer(id).remove({ force: true, v: true }), 404));
  }

  exec(id: string, spec: ExecSpec): Promise<StreamRun> {
    return this.call(`exec in ${id}`, async () => {
      const exec = await (await this.docker).getContainer(id).exec({
        Cmd: [...spec.cmd],
        Env: spec.env ? [...spec.env] : [],
        AttachStdin: !!spec.stdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        ...(spec.user ? { User: spec.user } : {}),
        ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
      });
      const socket = (await exec.start({ hijack: true, stdin: !!spec.stdin })) as unknown as Duplex;
      const exitCode = async () => {
        // The stream can end a moment before Docker records the exit code.
        for (let i = 0; i < 100; i++) {
          const info = await exec.inspect();
          if (!info.Running) return info.ExitCode;
          await new Promise((r) => setTimeout(r, 20));
        }
        return null;
      };
      return attachRun(socket, spec, exitCode, () => socket.destroy());
    });
  }

  run(spec: RunSpec): Promise<StreamRun> {
    return this.call(`run ${spec.image}`, async () => {
      const container = await (await this.docker).createContainer({
        Image: spec.image,
        // The command replaces the image's entrypoint: a helper runs tar, not the image's startup script.
        ...(spec.imageEntrypoint ? (spec.cmd.length ? { Cmd: [...spec.cmd] } : {}) : { Entrypoint: [...spec.cmd] }),
        ...(spec.env ? { Env: [...spec.env] } : {}),
        Labels: spec.labels,
        User: spec.user ?? '0:0',
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: !!spec.stdin,
        OpenStdin: !!spec.stdin,
        StdinOnce: !!spec.stdin,
        Tty: false,
        // A sidecar joins a service container's namespace (its localhost); every other helper has no network.
        NetworkDisabled: !spec.networkMode,
        HostConfig: {
          NetworkMode: spec.networkMode ?? 'none',
          Mounts: spec.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
          ...(spec.capDrop?.length ? { CapDrop: [...spec.capDrop] } : {}),
        },
      });
      // v: helper images may declare VOLUMEs (the postgres image does): their anonymous volumes go too.
      const remove = () => container.remove({ force: true, v: true }).catch(() => undefined);
      try {
        const socket = (await container.attach({ stream: true, stdout: true, stderr: true, stdin: !!spec.stdin, hijack: true })) as unknown as Duplex;
        await container.start();
        const exitCode = async () => ((await container.wait()) as { StatusCode: number }).StatusCode;
        const run = attachRun(socket, spec, exitCode, () => {
          socket.destroy();
          void container.kill().catch(() => undefined);
        });
        run.done = run.done.finally(remove);
        run.containerId = container.id;
        return run;
      } catch (error) {
        await remove();
        throw error;
      }
    });
  }

  /** Maps "cannot reach the daemon" to one clear error; keeps Docker's own message otherwise. */
  private async call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof HoldfastError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES') {
        throw new HoldfastError('connect', `cannot reach Docker at ${this.host} (${code})`, {
          hint: code === 'EACCES' ? 'run holdfast as a user that may use the Docker socket (root or the docker group)' : 'start the Docker daemon, or point DOCKER_HOST at it (e.g. unix:///var/run/docker.sock)',
          cause: error,
        });
      }
      const message = String((error as Error).message ?? error).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
      throw new HoldfastError('tool', `docker ${what}: ${message}`, { cause: error });
    }
  }
}

/** Wires a hijacked attach socket: demultiplexed stdout, optional stdin, exit code once the stream ended. */
function attachRun(socket: Duplex, spec: { stdin?: boolean; signal?: AbortSignal }, exitCode: () => Promise<number | null>, kill: () => void): StreamRun {
  const demux = new DockerDemux();
  socket.pipe(demux);
  // A consumer that stopped reading must not crash the process when the stream is cut.
  demux.on('error', () => undefined);
  demux.stdout.on('error', () => undefined);
  let aborted = false;
  const abort = () => {
    if (aborted) return;
    aborted = true;
    kill();
    // An error, not an end: a consumer must never take a cut stream for a whole one.
    demux.destroy(new HoldfastError('interrupted', 'the Docker stream was stopped'));
  };
  if (spec.signal) {
    // One run's signal is shared by every exec of its services (psql sessions, dumps): more than Node's default 10.
    setMaxListeners(Math.max(getMaxListeners(spec.signal), 64), spec.signal);
    spec.signal.addEventListener('abort', abort, { once: true });
  }
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
    socket.once('error', (e) => (aborted ? resolve() : reject(e)));
  });
  const done = (async (): Promise<StreamExit> => {
    try {
      await ended;
      await finished(demux).catch(() => undefined);
      const code = aborted ? null : await exitCode();
      return { exitCode: code, stderr: demux.stderr };
    } finally {
      spec.signal?.removeEventListener('abort', abort);
      socket.destroy();
    }
  })();
  done.catch(() => undefined);
  if (spec.stdin) socket.on('error', () => undefined);
  return { stdout: demux.stdout, ...(spec.stdin ? { stdin: socket } : {}), done, abort };
}

function toDetails(raw: RawInspect): ContainerDetails {
  const ports: string[] = [];
  for (const [port, bindings] of Object.entries(raw.NetworkSettings?.Ports ?? {})) {
    if (bindings?.length) for (const b of bindings) ports.push(`${port} -> ${b.HostIp || '0.0.0.0'}:${b.HostPort}`);
  }
  const details: ContainerDetails = {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    image: raw.Config.Image,
    status: raw.State.Status,
    running: raw.State.Running && !raw.State.Paused,
    paused: raw.State.Paused,
    exitCode: raw.State.ExitCode,
    labels: raw.Config.Labels ?? {},
    envNames: (raw.Config.Env ?? []).map((e) => e.split('=')[0]!).filter(Boolean),
    // `--tmpfs` mounts are not in Mounts, only in HostConfig.
    // Sorted by where they are mounted: Docker lists them in no fixed order, and artifact names are numbered by it.
    mounts: [...(raw.Mounts ?? []).map(toMount), ...Object.keys(raw.HostConfig.Tmpfs ?? {}).map((destination): ServiceMount => ({ type: 'tmpfs', source: 'tmpfs', destination, readOnly: false }))].sort((a, b) =>
      a.destination.localeCompare(b.destination),
    ),
    ports,
    networkMode: raw.HostConfig.NetworkMode ?? 'default',
  };
  if (raw.Config.StopTimeout !== undefined && raw.Config.StopTimeout !== null) details.stopTimeout = raw.Config.StopTimeout;
  if (raw.Config.StopSignal) details.stopSignal = raw.Config.StopSignal;
  if (raw.Image) details.imageId = raw.Image;
  if (raw.State.Health?.Status) details.health = raw.State.Health.Status;
  if (raw.State.Pid) details.pid = raw.State.Pid;
  return details;
}

function toMount(m: NonNullable<RawInspect['Mounts']>[number]): ServiceMount {
  const type = m.Type === 'volume' || m.Type === 'bind' || m.Type === 'tmpfs' ? m.Type : 'other';
  const mount: ServiceMount = { type, source: type === 'volume' ? (m.Name ?? m.Source) : m.Source, destination: m.Destination, readOnly: !m.RW };
  if (m.Driver) mount.driver = m.Driver;
  return mount;
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

async function tolerate(work: Promise<unknown>, status: number): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (statusOf(error) !== status) throw error;
  }
}
