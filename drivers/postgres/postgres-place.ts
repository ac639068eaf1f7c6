/**
 * The PostgreSQL site of a service, its place chosen as for every engine
 * (src/place/service-place.ts openServicePlace): this host for a URL; for a
 * container-backed service the place the user pinned (label
 * holdfast.place, holdfast.yml place:), else inside the container when its
 * image has pg_dump, pg_restore and psql, else a sidecar of a named image.
 *
 * A `host` pin of a container-backed service runs this host's tools against
 * an address this host can reach: the container's published port, or its
 * own port when it shares this host's network. With neither, the pin cannot
 * be honoured, and the error says so and how to fix it. The credentials are
 * holdfast's for the service, else the container's own POSTGRES_USER /
 * POSTGRES_PASSWORD (or _FILE), read inside it and kept in memory only.
 */
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import type { ContainerPlace } from '../../src/place/container-place.js';
import type { Place } from '../../src/place/place.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { hostPlace } from '../../src/place/host-place.js';
import { runText } from '../../src/place/place.js';
import { containerSecret, containerVariable, isContainerBacked, openServicePlace, pinnedPlace, probedVersion, publishedPort, servicePort, type ServicePlace } from '../../src/place/service-place.js';
import { formatEndpoint } from '../../src/core/service.js';
import { connect, pgTarget, toolEnv } from './postgres-connection.js';
import { PG_WRAPPER } from './postgres-container.js';
import { PsqlSession } from './postgres-psql-session.js';
import { clientSession, placeWhy, type PgSite } from './postgres-site.js';
import { toolVersion, type ToolVersion } from './postgres-tools.js';

/** The tools whose presence in the image decides the container place. */
export const PG_PLACE_TOOLS = ['pg_dump', 'pg_restore', 'psql'] as const;

/**
 * The role and password holdfast itself has for a service, and the tools' environment with them: holdfast's own
 * password (HOLDFAST_<NAME>_PASSWORD[_FILE], password_file...), else a secret the user named (label
 * holdfast.secret-file / holdfast.secret-env, secret_file / secret_env), read inside the container. Undefined values
 * leave the container's own (POSTGRES_USER, POSTGRES_PASSWORD[_FILE]) to the wrapper (PG_WRAPPER).
 */
export async function pgCredentials(service: Service, signal?: AbortSignal): Promise<{ user?: string; password?: string; env: Record<string, string | undefined> }> {
  // A named secret wins over POSTGRES_PASSWORD[_FILE] (a password rotated since the container started); one that cannot be read is an error naming the label.
  const named = typeof service.options.secret_file === 'string' || typeof service.options.secret_env === 'string';
  const password = lookupPassword(service) ?? (named && isContainerBacked(service) ? await containerSecret(service, [], signal) : undefined);
  const user = typeof service.options.user === 'string' ? service.options.user : service.endpoint?.scheme === 'container' ? service.endpoint.user : undefined;
  const env: Record<string, string | undefined> = { PGAPPNAME: 'holdfast', PGCLIENTENCODING: 'UTF8', PGCONNECT_TIMEOUT: '10', PGUSER: user || undefined, PGPASSWORD: password };
  return { ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}), env };
}

/** A psql session opened while the place's probe runs (PlaceNeeds.ahead), for the site's first session on `database`. */
interface SessionAhead {
  database: string;
  session: Promise<PsqlSession>;
}

function dropAhead(ahead: SessionAhead | undefined): Promise<void> {
  return ahead ? ahead.session.then((s) => s.close(), () => undefined) : Promise.resolve();
}

/**
 * `aheadOn`: the database of the first session the caller opens (the plan's). In a container its psql exec
 * then starts beside the probe of the image's tools instead of after it: traced, the two ran from 253 to 368 ms
 * of a backup where they ran one after the other from 268 to 432 ms (bench/README.md, PostgreSQL).
 */
export async function openPgSite(service: Service, signal?: AbortSignal, note?: (text: string) => void, aheadOn?: string): Promise<PgSite> {
  const { user, password, env } = await pgCredentials(service, signal);
  let ahead: (SessionAhead & { place: Place }) | undefined;
  const startAhead = (place: ContainerPlace) => {
    const session = PsqlSession.open(place, aheadOn!, { service: service.name, where: `in container ${place.containerName}`, env: {}, secrets: [password], ...(signal ? { signal } : {}) });
    session.catch(() => undefined);
    ahead = { database: aheadOn!, session, place };
  };
  const sp = await openServicePlace(service, {
    engine: 'PostgreSQL',
    port: 5432,
    wrapper: PG_WRAPPER,
    env,
    tools: PG_PLACE_TOOLS,
    optionalTools: ['pg_dumpall', 'pg_basebackup'],
    ...(signal ? { signal } : {}),
    ...(note ? { note } : {}),
    ...(aheadOn !== undefined ? { ahead: startAhead } : {}),
  }).catch(async (error: unknown) => {
    await dropAhead(ahead);
    throw error;
  });
  // Kept only when the probe chose the very container place the session was started on.
  const kept = ahead && sp.kind === 'container' && sp.place === ahead.place ? ahead : undefined;
  if (!kept) await dropAhead(ahead);
  const pinned = !!pinnedPlace(service);
  try {
    if (!sp.container) return hostSite(service, sp.reason, false);
    if (sp.kind === 'host') return await pinnedHostSite(service, sp, password, signal);
    if (sp.kind === 'sidecar') return await sidecarSite(service, sp, user, password, signal);
    return toolSite(service, sp, pinned, { env: (database) => ({ PGDATABASE: database ?? 'postgres' }), sessionEnv: {}, user: user ?? 'POSTGRES_USER', secrets: [password], signal, ...(kept ? { ahead: kept } : {}) });
  } catch (error) {
    await dropAhead(kept);
    await sp.place.close();
    throw error;
  }
}

/** This host's tools against a URL (the service's own, or one made for a container). */
function hostSite(service: Service, reason: string, pinned: boolean, password?: string): PgSite {
  const t = pgTarget(service);
  if (password !== undefined) t.password = password;
  const where = `on ${t.host}:${t.port}`;
  return {
    service: t.service,
    place: hostPlace,
    where,
    user: t.user,
    ...(t.database ? { database: t.database } : {}),
    secrets: [t.password],
    target: t,
    env: (database) => toolEnv(t, database),
    session: async (database) => clientSession(await connect(t, database)),
    tool: (name) => toolVersion(name),
    probe: (names) => names.forEach((name) => void toolVersion(name)),
    location: (database) => formatEndpoint({ ...service.endpoint!, path: database }, false),
    placeOf: (tool) => ({ kind: 'host', where: 'on this host', reason: pinned || !tool ? reason : placeWhy(hostPlace, tool) }),
    record(tool) {
      return { place: this.placeOf(tool) };
    },
    close: async () => undefined,
  };
}

/** A `host` pin of a container-backed service: an address this host reaches, or a clear error. */
async function pinnedHostSite(service: Service, sp: ServicePlace, password: string | undefined, signal?: AbortSignal): Promise<PgSite> {
  const api = await dockerApi();
  const details = await api.inspectContainer(sp.container!.id);
  const name = sp.container!.name;
  const pgport = Number(await containerVariable(service, 'PGPORT', signal));
  const port = servicePort(service) ?? (Number.isInteger(pgport) && pgport > 0 ? pgport : 5432);
  const address = details?.networkMode === 'host' ? { host: '127.0.0.1', port } : details ? publishedPort(details.ports, port) : undefined;
  if (!address) {
    throw new HoldfastError('config', `${sp.reason}, but container ${name} publishes no port for PostgreSQL (${port}/tcp), so this host's tools cannot reach it`, {
      service: service.name,
      driver: 'postgres',
      hint: `publish the port (docker run -p 127.0.0.1:${port}:${port}, or ports: in compose), or drop the pin: inside the container its own pg_dump runs with no port`,
    });
  }
  const user = typeof service.options.user === 'string' ? service.options.user : ((await containerVariable(service, 'POSTGRES_USER', signal)) || 'postgres');
  const secret = password ?? (await containerSecret(service, ['POSTGRES_PASSWORD'], signal));
  const url: Service = { ...service, endpoint: { scheme: 'postgres', host: address.host, port: address.port, user, path: '', params: {} } };
  return { ...hostSite(url, sp.reason, true, secret), service: service.name, location: (database) => `container:${name}/${database}` };
}

/** A sidecar of an image with the PostgreSQL tools, joined to the container's network: TCP on its localhost. */
async function sidecarSite(service: Service, sp: ServicePlace, user: string | undefined, password: string | undefined, signal?: AbortSignal): Promise<PgSite> {
  const pgport = Number(await containerVariable(service, 'PGPORT', signal));
  const port = servicePort(service) ?? (Number.isInteger(pgport) && pgport > 0 ? pgport : 5432);
  const role = user ?? ((await containerVariable(service, 'POSTGRES_USER', signal)) || 'postgres');
  const secret = password ?? (await containerSecret(service, ['POSTGRES_PASSWORD'], signal));
  const base = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: role, PGPASSWORD: secret, PGAPPNAME: 'holdfast', PGCLIENTENCODING: 'UTF8', PGCONNECT_TIMEOUT: '10' };
  return toolSite(service, sp, !!pinnedPlace(service), { env: (database) => ({ ...base, PGDATABASE: database ?? 'postgres' }), sessionEnv: base, user: role, secrets: [secret], signal });
}

/** A site whose tools and psql run in a place other than this host (the container, or a sidecar). */
function toolSite(
  service: Service,
  sp: ServicePlace,
  pinned: boolean,
  o: { env: (database?: string) => Record<string, string | undefined>; sessionEnv: Record<string, string | undefined>; user: string; secrets: Array<string | undefined>; signal: AbortSignal | undefined; ahead?: SessionAhead },
): PgSite {
  const place = sp.place;
  let ahead = o.ahead;
  const name = sp.container!.name;
  const where = sp.kind === 'sidecar' ? `in a sidecar of container ${name}` : `in container ${name}`;
  const id = sp.container!.id;
  return {
    service: service.name,
    place,
    where,
    user: o.user,
    secrets: o.secrets,
    env: o.env,
    session: (database, s) => {
      if (ahead && ahead.database === (database ?? 'postgres')) {
        const started = ahead.session;
        ahead = undefined;
        return started;
      }
      return PsqlSession.open(place, database ?? 'postgres', { service: service.name, where, env: o.sessionEnv, secrets: o.secrets, ...((s ?? o.signal) ? { signal: (s ?? o.signal)! } : {}) });
    },
    tool: (tool) => imageTool(place, id, [tool])[0]!,
    probe: (names) => void imageTool(place, id, names),
    location: (database) => `container:${name}/${database}`,
    // Unpinned, the tool's version is the reason ("its image has pg_dump 15.4"); pinned, the pin is.
    placeOf: (tool) => ({ kind: sp.kind, where: place.where, reason: pinned || !tool || sp.kind !== 'container' ? sp.reason : placeWhy(place, tool) }),
    record(tool) {
      return { place: this.placeOf(tool), ...(sp.kind === 'container' ? { toolsRanIn: `container ${name}` } : {}) };
    },
    close: async () => {
      await dropAhead(ahead);
      ahead = undefined;
      await place.close();
    },
  };
}

// The tools of a running container, by container id and name: the plan probes them, and the backup that follows in the
// same process asks again (each probe is a docker exec, 50-100 ms). A container keeps its image while it runs; the
// answer is kept for a minute, so a long-running `serve` sees a tool installed later.
const TOOL_TTL_MS = 60_000;
const imageTools = new Map<string, { at: number; found: Promise<ToolVersion | undefined> }>();

// Fixed text: the tool names come as arguments. One line per tool: its name, a tab, its version line (empty if missing).
const PROBE = 'for t in "$@"; do v=$("$t" --version 2>/dev/null) || v=; printf "%s\\t%s\\n" "$t" "$v"; done';

/** `pg_dump (PostgreSQL) 15.4 ...` parsed; undefined for a line without a version. */
function pgToolVersion(name: string, line: string): ToolVersion | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(line);
  return m ? { path: name, version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) } : undefined;
}

/** The tools `names` where the place is (a container, or a sidecar beside container id `container`), each probed once (the unknown ones together, in one exec). */
export function imageTool(place: Place, container: string, names: readonly string[]): Array<Promise<ToolVersion | undefined>> {
  const key = (name: string) => `${place.kind}\0${container}\0${place.where}\0${name}`;
  const fresh = (name: string) => {
    const known = imageTools.get(key(name));
    return known && Date.now() - known.at < TOOL_TTL_MS ? known.found : undefined;
  };
  // The container's own tools: the probe that chose this place read their versions already (service-place.ts).
  if (place.kind === 'container') {
    for (const name of names.filter((n) => !fresh(n))) {
      const known = probedVersion(container, name);
      if (known) imageTools.set(key(name), { at: Date.now(), found: known.then((line) => (line === undefined ? undefined : pgToolVersion(name, line))) });
    }
  }
  const unknown = names.filter((name) => !fresh(name));
  if (unknown.length) {
    const answer = runText(place, ['sh', '-c', PROBE, 'holdfast-probe', ...unknown]).then(
      (out) => out.stdout,
      () => {
        // The exec itself failed (not an answer about the image): asked again next time.
        for (const name of unknown) imageTools.delete(key(name));
        return '';
      },
    );
    for (const name of unknown) {
      const found = answer.then((text) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name}\t`));
        return line === undefined ? undefined : pgToolVersion(name, line);
      });
      imageTools.set(key(name), { at: Date.now(), found });
    }
  }
  return names.map((name) => fresh(name)!);
}
