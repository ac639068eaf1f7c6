import { pinnedPlace } from '../../src/place/service-place.js';
import type { Readable, Writable } from 'node:stream';
import type { ArtifactSink, OfferPlace } from '../../src/core/driver.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import { HoldfastError } from '../../src/core/errors.js';
import { runTool, type ToolExit } from '../../src/core/process.js';
import type { Service } from '../../src/core/service.js';
import { toolToArtifact } from '../../src/core/tool-artifact.js';
import { execToArtifact } from '../../src/docker/docker-artifact.js';
import { runText } from '../../src/place/place.js';
import { connectionUri, mongoTarget, withClient, type MongoTarget } from './mongodb-connection.js';
import { isMongoContainerService, openMongoContainer, type MongoContainer } from './mongodb-container.js';
import { checkMongoToolExit, MONGO_TOOLS_HINT, mongoToolVersion, toolConfigFile, withToolCredentials, type MongoToolName } from './mongodb-tools.js';
import type { MongoClient } from 'mongodb';

/**
 * Where one MongoDB service is worked on: the URL's server with this host's
 * tools, or a server inside its container (mongodb-container.ts), reached
 * through a sidecar tunnel, with the image's own tools when it has them and
 * this host's through the tunnel when it does not. A driver step opens it,
 * works, and closes it (the sidecar goes with it).
 */
export interface MongoAt {
  /** How the node client (and host tools) connect. */
  t: MongoTarget;
  /** The container, when the service runs in one. */
  container?: MongoContainer;
  /** Where mongodump / mongorestore run for this service, and why; or why they cannot. */
  tool(name: MongoToolName): Promise<MongoToolAt | MissingTool>;
  close(): Promise<void>;
}

export interface MissingTool {
  missing: true;
  name: MongoToolName;
  /** Where it was looked for: "on PATH", "in image X, nor on this host (on PATH)". */
  where: string;
  hint: string;
}

/** A handle on a running tool: stdin when asked for, its exit (code and stderr tail). */
export interface MongoToolRun {
  stdin?: Writable;
  stdout: Readable;
  done: Promise<ToolExit>;
  abort(): void;
}

export interface MongoToolAt {
  missing?: false;
  name: MongoToolName;
  version: string;
  /** Where it runs and why, for plan (StrategyOffer.place), notes and the manifest (details.place). */
  place: OfferPlace;
  /** Runs the tool (connection and credential arguments added) and stores its stdout; returns its exit for the caller to read. */
  toArtifact(sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, args: string[], signal?: AbortSignal): Promise<ToolExit>;
  /** Starts the tool (connection and credential arguments added); the caller reads or drops its stdout. */
  start(args: string[], options: { stdin?: boolean; signal?: AbortSignal }): Promise<MongoToolRun>;
}

export async function openMongo(service: Service, signal?: AbortSignal, note?: (text: string) => void): Promise<MongoAt> {
  if (!isMongoContainerService(service)) {
    const t = mongoTarget(service);
    return { t, tool: (name) => hostTool(name, t), close: async () => undefined };
  }
  const container = await openMongoContainer(service, signal, note);
  const t = container.t;
  return {
    t,
    container,
    async tool(name) {
      // A place pinned by the user (label holdfast.place, holdfast.yml place:): host or sidecar run this host's tool through the tunnel.
      const pin = pinnedPlace(service);
      const inImage = pin?.kind === 'host' || pin?.kind === 'sidecar' ? undefined : await imageToolVersion(container, name);
      if (inImage) return execTool(container, name, inImage, pin?.by);
      if (pin?.kind === 'container') return { missing: true, name, where: `in image ${container.image} (the place is ${pin.by})`, hint: MONGO_TOOLS_HINT };
      return hostTool(name, t, container, pin?.by);
    },
    close: () => container.place.close(),
  };
}

/** Opens the service's place, connects the client, works, and closes both. */
export async function withMongo<T>(service: Service, signal: AbortSignal | undefined, work: (c: MongoClient, at: MongoAt) => Promise<T>): Promise<T> {
  const at = await openMongo(service, signal);
  try {
    return await withClient(at.t, (c) => work(c, at));
  } finally {
    await at.close();
  }
}

/** `mongodump --version` inside the container; undefined when the image lacks the tool. */
async function imageToolVersion(container: MongoContainer, name: MongoToolName): Promise<string | undefined> {
  const out = await runText(container.place, [name, '--version']).catch(() => undefined);
  const m = out && out.exitCode === 0 ? new RegExp(`${name} version: (\\S+)`).exec(out.stdout) : null;
  return m ? m[1] : undefined;
}

/** This host's tool, reaching `t` (the URL's server, or a tunnel to a container's: `via` names it for the plan). */
async function hostTool(name: MongoToolName, t: MongoTarget, via?: MongoContainer, pinnedBy?: string): Promise<MongoToolAt | MissingTool> {
  const found = await mongoToolVersion(name);
  if (!found) {
    const where = process.env.HOLDFAST_MONGO_BINDIR ? `in HOLDFAST_MONGO_BINDIR (${process.env.HOLDFAST_MONGO_BINDIR})` : 'on PATH';
    return { missing: true, name, where: via ? `in image ${via.image}, nor on this host (${where})` : where, hint: MONGO_TOOLS_HINT };
  }
  // Credentials only with a user: a password alone would make the tools try to log in as nobody.
  const password = t.user ? t.password : undefined;
  const base = (config: string[]) => ['--uri', connectionUri(t), ...config];
  return {
    name,
    version: found.version,
    place: via
      ? { kind: 'host', where: `on this host through a sidecar joined to container ${via.name}`, reason: `${pinnedBy ?? `${name} not in image ${via.image}`}, so this host's ${name} ${found.version} runs` }
      : hostPlaceRecord(`${name} ${found.version} (${found.path})`),
    toArtifact: (sink, artifact, args) =>
      withToolCredentials(password, async (config) => {
        let exit: ToolExit | undefined;
        await toolToArtifact(sink, artifact, found.path, [...base(config), ...args], {
          secrets: [t.password],
          checkExit: (e) => {
            exit = e;
            checkMongoToolExit(name, e, t);
          },
        });
        return exit!;
      }),
    async start(args, options) {
      const config = await toolConfigFile(password);
      try {
        const run = runTool(found.path, [...base(config.args), ...args], { stdin: options.stdin ? 'pipe' : 'ignore', ...(options.signal ? { signal: options.signal } : {}), secrets: [t.password] });
        // The file goes once the tool exited (it reads it at start, but a slow start must still find it).
        const done = run.done.finally(() => config.remove());
        return { ...(run.stdin ? { stdin: run.stdin } : {}), stdout: run.stdout!, done, abort: () => void run.child.kill('SIGTERM') };
      } catch (error) {
        await config.remove();
        throw error;
      }
    },
  };
}

function execTool(container: MongoContainer, name: MongoToolName, version: string, pinnedBy?: string): MongoToolAt {
  const uri = `mongodb://127.0.0.1:${container.innerPort}/?directConnection=true`;
  const argv = (args: string[]) => [name, '--uri', uri, ...args];
  return {
    name,
    version,
    place: { kind: 'container', where: `inside container ${container.name}`, reason: pinnedBy ?? `its image has ${name} ${version}` },
    async toArtifact(sink, artifact, args, signal) {
      let stderr = '';
      await execToArtifact(
        async () => {
          // Watched: mongodump stops when holdfast goes (a kill -9), not left writing into an exec nobody reads.
          const run = await container.place.run(argv(args), { watched: true, ...(signal ? { signal } : {}) });
          run.done.then((e) => (stderr = e.stderr), () => undefined);
          return run;
        },
        sink,
        artifact,
        { tool: name, judge: (e) => checkMongoToolExit(name, e, container.t) },
      );
      return { code: 0, signal: null, stderr };
    },
    async start(args, options) {
      const run = await container.place.run(argv(args), { ...(options.stdin ? { stdin: true } : {}), ...(options.signal ? { signal: options.signal } : {}) });
      return {
        ...(run.stdin ? { stdin: run.stdin } : {}),
        stdout: run.stdout,
        done: run.done.then((e) => ({ code: e.exitCode, signal: null, stderr: e.stderr })),
        abort: () => run.abort(),
      };
    },
  };
}

/** The tool, or a 'tool' error naming where it was looked for. */
export function requireTool(found: MongoToolAt | MissingTool, service: string): MongoToolAt {
  if (!found.missing) return found;
  throw new HoldfastError('tool', `${found.name} was not found ${found.where}`, { service, driver: 'mongodb', hint: found.hint });
}

