import { HoldfastError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import type { ContainerDetails, DockerApi } from '../docker/docker-api.js';
import { dockerApi } from '../docker/docker-lazy.js';
import { ContainerPlace } from './container-place.js';
import { LISTING, rememberListing } from './container-pipe-sweep.js';
import { hostPlace } from './host-place.js';
import type { Place, PlaceKind, Reached } from './place.js';
import { runText } from './place.js';
import { sidecarImage } from './sidecar.js';
import { LazySidecar, SidecarPlace } from './sidecar-place.js';

/**
 * The choice of place, made once for every engine: where a service's work
 * runs (this host, its own container, a sidecar in its network namespace)
 * and why, in one short phrase for plan, show and errors. Drivers call
 * openServicePlace() and state their work once against the Place it returns.
 *
 * A service reached by URL runs on this host. A container-backed service
 * (discovery, or a `container:NAME` URL):
 * - pinned by the user: the label `holdfast.place=host|container|sidecar`,
 *   or `place:` in holdfast.yml (both land in service.options.place);
 * - else, when the work needs tools: inside the container when its image has
 *   them; else in a sidecar when the user named a sidecar image (that image
 *   is meant to have them); else inside the container, the missing tools
 *   listed for the driver to turn into an unmet requirement;
 * - else (an HTTP API): on this host when the container shares the host's
 *   network or publishes the port; else a sidecar, which needs no port.
 */
export interface PlaceNeeds {
  /** The engine's title, for messages ("Qdrant"). */
  engine: string;
  /** The engine's port as the container sees it (its default); the service option / label `port` wins. */
  port?: number;
  /** The credential wrapper of the container place (container-place.ts). */
  wrapper?: string;
  /** Tools the work runs; `mariadb-dump|mysqldump` accepts either. */
  tools?: readonly string[];
  /** Tools some work may run (not needed to choose the place): the same probe reads their versions (probedVersion). */
  optionalTools?: readonly string[];
  /** Variables every command of a container place gets. */
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /**
   * Given the service's container place before the probe of its tools answers, when that answer may choose it:
   * work started on it (a psql session for the plan) overlaps the probe's exec (50-100 ms each) instead of
   * following it. The place chosen in the end is this very object when it is the container; otherwise this one
   * is closed, and the caller drops what it started on it (ServicePlace.place !== the place it was given).
   */
  ahead?: (place: ContainerPlace) => void;
  /**
   * Told what was cleaned before a sidecar may start (helpers of runs that
   * died, e.g. after a kill -9). Without it nothing is swept: `plan` changes nothing.
   */
  note?: (text: string) => void;
}

export interface ServicePlace {
  place: Place;
  kind: PlaceKind;
  /** Why this place, one short phrase: "no published port", "its image has mariadb-dump". */
  reason: string;
  /** The engine's port inside the container (the option `port`, else the engine's default). */
  port?: number;
  /** Each needed tool and the name found in the image (container place), undefined when missing. */
  tools: Record<string, string | undefined>;
  /** Needed tools the image lacks. */
  missing: string[];
  /** The service's container, when it has one. */
  container?: { id: string; name: string };
}

/** What a manifest records of a place (details.place) and `show` prints. */
export interface PlaceRecord {
  kind: PlaceKind;
  where: string;
  reason: string;
}

export function placeRecord(sp: ServicePlace): PlaceRecord {
  return { kind: sp.kind, where: sp.place.where, reason: sp.reason };
}

/** `in a sidecar joined to container x: no published port`. */
export function describePlace(sp: Pick<ServicePlace, 'place' | 'reason'>): string {
  return `${sp.place.where}: ${sp.reason}`;
}

/** Does the service run in a container holdfast reaches through Docker (rather than by a URL)? */
export function isContainerBacked(service: Service): boolean {
  return service.endpoint?.scheme === 'container' || (!!service.container && !service.endpoint);
}

const KINDS: readonly PlaceKind[] = ['host', 'container', 'sidecar'];

/** The place the user pinned, and by what (a label or holdfast.yml), or undefined. */
export function pinnedPlace(service: Service): { kind: PlaceKind; by: string } | undefined {
  const value = service.options.place;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !(KINDS as readonly string[]).includes(value)) {
    throw new HoldfastError('config', `place ${JSON.stringify(value)} is not a place`, {
      service: service.name,
      hint: 'use place: host, container or sidecar (or the label holdfast.place=...), or drop it: holdfast chooses and says why in plan',
    });
  }
  const byLabel = service.container?.labels['holdfast.place'] === value && service.origin === 'docker';
  return { kind: value as PlaceKind, by: byLabel ? `pinned by label holdfast.place=${value}` : `pinned by place: ${value}` };
}

/** The engine's port inside the container: the option / label `port`, else the engine's default. */
export function servicePort(service: Service, fallback?: number): number | undefined {
  const value = service.options.port;
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new HoldfastError('config', `port ${JSON.stringify(value)} is not a TCP port`, { service: service.name, hint: 'give the port the engine listens on inside its container, e.g. port: 6333' });
  }
  return n;
}

/** `6333/tcp -> 127.0.0.1:16333` of the container's published ports, as an address this host can connect to. */
export function publishedPort(ports: readonly string[], port: number): { host: string; port: number } | undefined {
  for (const p of ports) {
    const m = /^(\d+)\/tcp -> (.+):(\d+)$/.exec(p);
    if (!m || Number(m[1]) !== port) continue;
    const ip = m[2]!.replace(/^\[|\]$/g, '');
    return { host: ip === '0.0.0.0' || ip === '::' || ip === '' ? '127.0.0.1' : ip, port: Number(m[3]) };
  }
  return undefined;
}

/**
 * Chooses the place of a service's work and opens it. The caller closes
 * the place in a finally: a sidecar left behind is a bug (it is also
 * removed by the next command that sweeps, after a kill -9).
 */
export async function openServicePlace(service: Service, needs: PlaceNeeds): Promise<ServicePlace> {
  const wanted = needs.tools ?? [];
  if (!isContainerBacked(service)) {
    const pin = pinnedPlace(service);
    if (pin && pin.kind !== 'host') {
      throw new HoldfastError('config', `${pin.by}, but ${service.name} is reached by its URL, not through a container`, {
        service: service.name,
        hint: 'use url: container:NAME for a service in a container, or drop place:',
      });
    }
    return { place: hostPlace, kind: 'host', reason: service.endpoint ? 'reached by its URL' : 'no container', tools: Object.fromEntries(wanted.map((t) => [t, t])), missing: [] };
  }
  const api = await dockerApi();
  const details = await runningContainer(api, service, needs.engine);
  if (needs.signal?.aborted) throw new HoldfastError('interrupted', 'interrupted', { service: service.name });
  const target = { id: details.id, name: details.name };
  const port = servicePort(service, needs.port);
  const pin = pinnedPlace(service);
  const namedImage = typeof service.options.sidecar_image === 'string' && service.options.sidecar_image !== '' ? service.options.sidecar_image : undefined;
  const image = namedImage ?? (process.env.HOLDFAST_SIDECAR_IMAGE || undefined);

  const base = { port, container: target } as const;
  const sidecar = (reason: string): ServicePlace => {
    const place = new SidecarPlace(api, target, { service: service.name, ...(image ? { image } : {}), ...(needs.signal ? { signal: needs.signal } : {}) });
    return { ...base, place: sweeping(place, api, needs), kind: 'sidecar', reason, tools: Object.fromEntries(wanted.map((t) => [t, t.split('|')[0]])), missing: [] };
  };
  let containerPlace: ContainerPlace | undefined;
  const makeContainerPlace = (): ContainerPlace => {
    const lazy = new LazySidecar(api, target, { service: service.name, ...(image ? { image } : {}), ...(needs.signal ? { signal: needs.signal } : {}) });
    return new ContainerPlace(api, details.id, details.name, {
      service: service.name,
      engine: needs.engine,
      ...(needs.wrapper ? { wrapper: needs.wrapper } : {}),
      ...(needs.env ? { env: needs.env } : {}),
      reach: async (h, p, s) => {
        await sweep(api, needs);
        return lazy.reach(h, p, s);
      },
      onClose: () => lazy.close(),
      // Before its first command, the pipes dead runs left in the container go, and are noted (container-pipe-sweep.ts).
      ...(needs.note ? { note: needs.note } : {}),
    });
  };
  const container = (reason: string, tools: Record<string, string | undefined>): ServicePlace => {
    const place = containerPlace ?? makeContainerPlace();
    return { ...base, place, kind: 'container', reason, tools, missing: wanted.filter((t) => !tools[t]) };
  };
  const host = (reason: string): ServicePlace => {
    const published = port !== undefined ? publishedPort(details.ports, port) : undefined;
    const place: Place = published ? { ...hostPlace, reach: async (): Promise<Reached> => ({ ...published, close: async () => undefined }) } : hostPlace;
    return { ...base, place, kind: 'host', reason, tools: Object.fromEntries(wanted.map((t) => [t, t.split('|')[0]])), missing: [] };
  };

  if (pin?.kind === 'host') return host(pin.by);
  if (pin?.kind === 'sidecar') return sidecar(pin.by);
  if (pin?.kind === 'container' || wanted.length > 0) {
    if (needs.ahead) needs.ahead((containerPlace = makeContainerPlace()));
    const tools = wanted.length > 0 ? await probeTools(api, details.id, wanted, needs.signal, needs.optionalTools).catch(async (error: unknown) => {
      await containerPlace?.close();
      throw error;
    }) : {};
    if (pin) return container(pin.by, tools);
    const missing = wanted.filter((t) => !tools[t]);
    if (missing.length === 0) return container(`its image has ${Object.values(tools).join(', ')}`, tools);
    if (namedImage) {
      await containerPlace?.close();
      return sidecar(`its image lacks ${missing.map(orText).join(', ')}; the sidecar image ${namedImage} runs it`);
    }
    return container(`its image lacks ${missing.map(orText).join(', ')}`, tools);
  }
  if (details.networkMode === 'host') return host(`container ${details.name} shares this host's network`);
  const published = port !== undefined ? publishedPort(details.ports, port) : undefined;
  if (published) return host(`port ${port} is published at ${published.host}:${published.port}`);
  return sidecar(port !== undefined ? `port ${port} is not published` : 'no published port');
}

function orText(tool: string): string {
  return tool.split('|').join(' or ');
}

async function runningContainer(api: DockerApi, service: Service, engine: string): Promise<ContainerDetails> {
  const ref = service.container?.id ?? service.endpoint?.path;
  if (!ref) throw new HoldfastError('config', 'no container named for this service', { service: service.name, hint: 'use container:NAME' });
  const details = await api.inspectContainer(ref);
  if (!details) {
    throw new HoldfastError('not-found', `the container ${service.container?.name ?? ref} of ${engine} is gone`, {
      service: service.name,
      hint: 'check docker ps -a, or run holdfast discover again; on another Docker host, `holdfast restore SNAPSHOT --recreate` starts it from the recorded image',
    });
  }
  if (!details.running || details.paused) {
    throw new HoldfastError('connect', `the container ${details.name} is ${details.paused ? 'paused' : details.status}, so ${engine} cannot be reached in it`, {
      service: service.name,
      hint: `docker ${details.paused ? 'unpause' : 'start'} ${details.name}`,
    });
  }
  return details;
}

// Fixed text: tool names reach it only as arguments. For each need it can meet, "found NEED<TAB>TOOL<TAB>VERSION" (the
// first line of `TOOL --version`, read here so that no later exec asks it again); then the listing of holdfast's pipes
// in the container (container-pipe-sweep.ts LISTING), which the sweep before the first command uses instead of its own exec.
const PROBE = [
  'for need; do',
  '  old=$IFS; IFS="|"; set -f',
  '  for t in $need; do',
  '    if command -v "$t" >/dev/null 2>&1; then',
  '      v=$("$t" --version 2>&1 </dev/null) || v=',
  '      printf "found %s\\t%s\\t%s\\n" "$need" "$t" "$(printf "%s\\n" "$v" | { IFS= read -r l; printf "%s" "$l"; })"',
  '      break',
  '    fi',
  '  done',
  '  IFS=$old; set +f',
  'done',
  LISTING,
].join('\n');

// A plan and the backup after it, in one process, open the same service's place: the answer is kept a minute per
// container (a running container keeps its image), so the second open costs no exec.
const PROBE_TTL_MS = 60_000;
interface Probed {
  found: Record<string, string | undefined>;
  /** Each found tool's first `--version` line, by the tool's name. */
  versions: Map<string, string>;
}
const probed = new Map<string, { at: number; answer: Promise<Probed> }>();

/**
 * Which of the needed tools the container's image has (`command -v` through exec), asked once a minute per container;
 * the versions of those and of the optional ones are read in the same exec.
 */
export function probeTools(api: DockerApi, id: string, tools: readonly string[], signal?: AbortSignal, optional: readonly string[] = []): Promise<Record<string, string | undefined>> {
  const key = [id, ...tools, ...optional].join('\0');
  const known = probed.get(key);
  if (known && Date.now() - known.at < PROBE_TTL_MS) return known.answer.then((a) => pick(a.found, tools));
  const asked = askTools(api, id, [...tools, ...optional], signal);
  // A failed exec is no answer about the image: asked again next time.
  void asked.then((a) => (a.answered ? undefined : probed.delete(key)), () => probed.delete(key));
  const answer = asked.then((a) => a.probed);
  probed.set(key, { at: Date.now(), answer });
  return answer.then((a) => pick(a.found, tools));
}

function pick(found: Record<string, string | undefined>, tools: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(tools.map((t) => [t, found[t]]));
}

/**
 * The first `--version` line of `tool` in container `id`, as the probe of its place read it within the last minute;
 * undefined when no probe asked (the caller asks itself), a promise of undefined when the image lacks it.
 */
export function probedVersion(id: string, tool: string): Promise<string | undefined> | undefined {
  for (const [key, entry] of probed) {
    if (!key.startsWith(`${id}\0`) || Date.now() - entry.at >= PROBE_TTL_MS) continue;
    const needs = key.split('\0').slice(1);
    if (!needs.some((n) => n.split('|').includes(tool))) continue;
    return entry.answer.then((a) => a.versions.get(tool));
  }
  return undefined;
}

async function askTools(api: DockerApi, id: string, tools: readonly string[], signal?: AbortSignal): Promise<{ probed: Probed; answered: boolean }> {
  const run = await api.exec(id, { cmd: ['sh', '-c', PROBE, 'holdfast-probe', ...tools], ...(signal ? { signal } : {}) });
  let out = '';
  run.stdout.setEncoding('utf8');
  run.stdout.on('data', (d: string) => (out += d));
  const answered = await run.done.then((e) => e.exitCode === 0, () => false);
  const found: Record<string, string | undefined> = Object.fromEntries(tools.map((t) => [t, undefined]));
  const versions = new Map<string, string>();
  for (const line of out.split('\n')) {
    if (!line.startsWith('found ')) continue;
    const [need, tool, version] = line.slice('found '.length).split('\t');
    if (need === undefined || !tool || !(need in found)) continue;
    found[need] = tool;
    versions.set(tool, version ?? '');
  }
  if (answered) rememberListing(id, out);
  return { probed: { found, versions }, answered };
}

/** Sweeps leftovers of dead runs once per command, before this place's first sidecar. */
function sweeping(place: SidecarPlace, api: DockerApi, needs: PlaceNeeds): Place {
  return {
    kind: place.kind,
    where: place.where,
    containerName: place.containerName,
    run: async (argv, options) => (await sweep(api, needs), place.run(argv, options)),
    toArtifact: async (argv, sink, artifact, options) => (await sweep(api, needs), place.toArtifact(argv, sink, artifact, options)),
    reach: async (h, p, s) => (await sweep(api, needs), place.reach(h, p, s)),
    close: () => place.close(),
  };
}

const swept = new WeakSet<PlaceNeeds>();

async function sweep(api: DockerApi, needs: PlaceNeeds): Promise<void> {
  if (!needs.note || swept.has(needs)) return;
  swept.add(needs);
  const { leftoverHelpers } = await import('../docker/docker-helper.js');
  for (const h of await leftoverHelpers(api, { ownOnly: true })) {
    await api.remove(h.id).catch(() => undefined);
    needs.note(`removed the helper container ${h.name} left by holdfast pid ${h.pid} (that run died)`);
  }
}

// Fixed text: names and paths reach it only as arguments; the value goes to stdout, never to a log.
// printenv where the image has it (it also reads names a shell cannot, `http.port`), else the shell's own variable.
const VALUE = "val() { if command -v printenv >/dev/null 2>&1; then printenv \"$1\"; return; fi; case \"$1\" in ''|[0-9]*|*[!A-Za-z0-9_]*) return 1 ;; esac; eval \"[ \\\"\\${$1+x}\\\" = x ] && printf '%s\\n' \\\"\\$$1\\\"\"; }";
const SECRET = [
  VALUE,
  'for n; do',
  '  case "$n" in',
  '    /*) if [ -r "$n" ]; then exec cat "$n"; fi ;;',
  '    *) if v=$(val "$n"); then printf "%s" "$v"; exit 0; fi',
  '       if f=$(val "${n}_FILE") && [ -r "$f" ]; then exec cat "$f"; fi ;;',
  '  esac',
  'done',
  'exit 3',
].join('\n');

/**
 * A password or api key the container itself was given, read inside it:
 * the service option / label `secret_file` (a path in the container),
 * `secret_env` (a variable), which must then be readable; else the engine's own variables in order
 * (each with its `_FILE` variant). Only names travel in argv; the value
 * comes back on the exec's stdout and goes into a request header or the
 * environment of a command, never into a message. Undefined when none is set.
 */
export async function containerSecret(service: Service, variables: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
  if (!isContainerBacked(service)) return undefined;
  const names: string[] = [];
  if (typeof service.options.secret_file === 'string' && service.options.secret_file.startsWith('/')) names.push(service.options.secret_file);
  if (typeof service.options.secret_env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(service.options.secret_env)) names.push(service.options.secret_env);
  // A secret the user named is the one: no quiet fallback to the engine's variables when it cannot be read.
  const explicit = names.length > 0;
  if (!explicit) names.push(...variables);
  const api = await dockerApi();
  const details = await runningContainer(api, service, 'the engine');
  // Nothing to read: no exec (the container's variable names are known without their values).
  if (!explicit && !variables.some((v) => details.envNames.includes(v) || details.envNames.includes(`${v}_FILE`))) return undefined;
  const place = new ContainerPlace(api, details.id, details.name, { service: service.name, engine: 'the engine' });
  const out = await runText(place, ['sh', '-c', SECRET, 'holdfast-secret', ...names], signal ? { signal } : {});
  if (out.exitCode === 0) return out.stdout.replace(/\r?\n$/, '');
  if (explicit) {
    throw new HoldfastError('auth', `the secret named by ${service.options.secret_file ? `secret_file ${String(service.options.secret_file)}` : `secret_env ${String(service.options.secret_env)}`} is not readable inside container ${details.name}`, {
      service: service.name,
      hint: 'check the label holdfast.secret-file / holdfast.secret-env (or secret_file / secret_env in holdfast.yml): a path or a variable as the container sees it',
    });
  }
  return undefined;
}

/** A plain (non-secret) variable of the container, e.g. the port its engine was told to use; undefined when unset. */
export async function containerVariable(service: Service, name: string, signal?: AbortSignal): Promise<string | undefined> {
  const api = await dockerApi();
  const details = await runningContainer(api, service, 'the engine');
  if (!details.envNames.includes(name)) return undefined;
  const place = new ContainerPlace(api, details.id, details.name, { service: service.name, engine: 'the engine' });
  const out = await runText(place, ['sh', '-c', `${VALUE}\nval "$1"`, 'holdfast-variable', name], signal ? { signal } : {});
  return out.exitCode === 0 ? out.stdout.replace(/\r?\n$/, '') : undefined;
}

export { sidecarImage };
