import type pg from 'pg';
import { HoldfastError } from '../../src/core/errors.js';
import { formatEndpoint, type Service } from '../../src/core/service.js';
import { hostPlace } from '../../src/place/host-place.js';
import type { Place } from '../../src/place/place.js';
import { runText } from '../../src/place/place.js';
import { connect, pgTarget, toolEnv, type PgTarget } from './postgres-connection.js';
import { isContainerService, pgContainerPlace } from './postgres-container.js';
import { PsqlSession } from './postgres-psql-session.js';
import type { PgSession } from './postgres-queryable.js';
import { PG_TOOLS_HINT, toolVersion, type ToolVersion } from './postgres-tools.js';

/**
 * One PostgreSQL server as the driver sees it, wherever it is: the place its
 * tools run (this host for a URL, the service's own container otherwise),
 * the environment that connects them, and a SQL session factory (a pg.Client
 * over TCP on the host, psql through docker exec in a container). Backup,
 * restore, inspect and fingerprint are written once against this.
 */
export interface PgSite {
  readonly service: string;
  readonly place: Place;
  /** For messages, with its preposition: "on 127.0.0.1:5432", "in container shop-db-1". */
  readonly where: string;
  /** The connecting role, for messages. */
  readonly user: string;
  /** The database the URL names, if any. */
  readonly database?: string;
  readonly secrets: Array<string | undefined>;
  /** The host target, for what only a URL has (a physical restore's scratch server, the leftover journal). */
  readonly target?: PgTarget;
  /** Environment for a tool connecting to `database` (never argv). */
  env(database?: string): Record<string, string | undefined>;
  /** A SQL session in `database` (default: the URL's, or postgres). */
  session(database?: string, signal?: AbortSignal): Promise<PgSession>;
  /** `pg_dump --version` where the place is, parsed; undefined when missing. */
  tool(name: string): Promise<ToolVersion | undefined>;
  /** Asks for several tools at once (in a container: one exec for all); tool() then answers from memory. */
  probe(names: readonly string[]): void;
  /** Where a database lives, for the restore's location. */
  location(database: string): string;
  /** What the manifest records (details.place; details.toolsRanIn for older readers); `tool` says why the place fits. */
  record(tool?: ToolVersion): Record<string, unknown>;
  close(): Promise<void>;
}

/** A pg.Client as a PgSession. */
export function clientSession(c: pg.Client): PgSession {
  return {
    query: (sql) => c.query(sql),
    exec: async (sql) => void (await c.query(sql)),
    close: () => c.end().catch(() => undefined),
  };
}

export async function pgSite(service: Service, signal?: AbortSignal): Promise<PgSite> {
  return isContainerService(service) ? containerSite(service, signal) : hostSite(service);
}

function hostSite(service: Service): PgSite {
  const t = pgTarget(service);
  return {
    service: t.service,
    place: hostPlace,
    where: `on ${t.host}:${t.port}`,
    user: t.user,
    ...(t.database ? { database: t.database } : {}),
    secrets: [t.password],
    target: t,
    env: (database) => toolEnv(t, database),
    session: async (database) => clientSession(await connect(t, database)),
    tool: (name) => toolVersion(name),
    probe: (names) => names.forEach((name) => void toolVersion(name)),
    location: (database) => formatEndpoint({ ...service.endpoint!, path: database }, false),
    record: (tool) => ({ place: { kind: 'host', where: hostPlace.where, ...(tool ? { why: placeWhy(hostPlace, tool) } : {}) } }),
    close: async () => undefined,
  };
}

async function containerSite(service: Service, signal?: AbortSignal): Promise<PgSite> {
  const { place, secrets } = await pgContainerPlace(service, signal);
  const where = `in container ${place.containerName}`;
  const user = typeof service.options.user === 'string' ? service.options.user : (service.endpoint?.user ?? 'POSTGRES_USER');
  return {
    service: service.name,
    place,
    where,
    user,
    secrets,
    env: (database) => ({ PGDATABASE: database ?? 'postgres' }),
    session: (database, s) => PsqlSession.open(place, database ?? 'postgres', { service: service.name, where, env: {}, secrets, ...((s ?? signal) ? { signal: (s ?? signal)! } : {}) }),
    tool: (name) => imageTool(place, [name])[0]!,
    probe: (names) => void imageTool(place, names),
    location: (database) => `container:${place.containerName}/${database}`,
    record: (tool) => ({ place: { kind: 'container', where: place.where, ...(tool ? { why: placeWhy(place, tool) } : {}) }, toolsRanIn: `container ${place.containerName}` }),
    close: () => place.close(),
  };
}

// The tools of a running container, by container id and name: the plan probes them, and the backup that follows in the
// same process asks again (each probe is a docker exec, 50-100 ms). A container keeps its image while it runs; the
// answer is kept for a minute, so a long-running `serve` sees a tool installed later.
const TOOL_TTL_MS = 60_000;
const imageTools = new Map<string, { at: number; found: Promise<ToolVersion | undefined> }>();

// Fixed text: the tool names come as arguments. One line per tool: its name, a tab, its version line (empty if missing).
const PROBE = 'for t in "$@"; do v=$("$t" --version 2>/dev/null) || v=; printf "%s\\t%s\\n" "$t" "$v"; done';

/** The tools `names` of the container, each probed once (the unknown ones together, in one exec). */
function imageTool(place: Place & { id: string }, names: readonly string[]): Array<Promise<ToolVersion | undefined>> {
  const key = (name: string) => `${place.id}\0${name}`;
  const fresh = (name: string) => {
    const known = imageTools.get(key(name));
    return known && Date.now() - known.at < TOOL_TTL_MS ? known.found : undefined;
  };
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
        const m = line ? /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(line) : null;
        return m ? { path: name, version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) } : undefined;
      });
      imageTools.set(key(name), { at: Date.now(), found });
    }
  }
  return names.map((name) => fresh(name)!);
}

/** Why the place fits, for plan and show: "its image has pg_dump 15.4", "pg_dump 15.4 (/usr/lib/postgresql/15/bin/pg_dump)". */
export function placeWhy(place: Place, tool: ToolVersion): string {
  const name = tool.path.split('/').pop();
  if (place.kind === 'container') return `its image has ${name} ${tool.version}`;
  return `${name} ${tool.version}${tool.path.includes('/') ? ` (${tool.path})` : ''}`;
}

/** The place in one short line: "inside container shop-db-1: its image has pg_dump 15.4". */
export function placeLine(place: Place, tool: ToolVersion | undefined): string {
  return tool ? `${place.where}: ${placeWhy(place, tool)}` : place.where;
}

/** Opens a site for the work, and closes it after. */
export async function withSite<T>(service: Service, signal: AbortSignal | undefined, work: (site: PgSite) => Promise<T>): Promise<T> {
  const site = await pgSite(service, signal);
  try {
    return await work(site);
  } finally {
    await site.close();
  }
}

/** A session for the work, closed after. */
export async function withSession<T>(site: PgSite, database: string | undefined, work: (c: PgSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const c = await site.session(database, signal);
  try {
    return await work(c);
  } finally {
    await c.close();
  }
}

/** The tool where the site's place is, of the server's major or newer, or a clear error naming the place. */
export async function requireSiteTool(site: PgSite, name: string, major: number): Promise<ToolVersion> {
  const found = await site.tool(name);
  const inImage = site.place.kind === 'container';
  if (!found) {
    throw new HoldfastError('tool', inImage ? `${name} is not in the image of container ${site.place.containerName}` : `${name} is not installed`, {
      service: site.service,
      driver: 'postgres',
      hint: inImage ? 'use an image that ships the PostgreSQL client tools (the official postgres images do)' : PG_TOOLS_HINT,
    });
  }
  if (found.major < major) {
    throw new HoldfastError('tool', `${name} ${found.version}${inImage ? ` ${site.where}` : ''} is older than the server or the dump (major ${major}) and would refuse it`, {
      service: site.service,
      driver: 'postgres',
      hint: inImage ? 'restore into a container of the same or a newer PostgreSQL major' : PG_TOOLS_HINT,
    });
  }
  return found;
}
