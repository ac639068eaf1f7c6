import type pg from 'pg';
import { HoldfastError } from '../../src/core/errors.js';
import type { OfferPlace } from '../../src/core/driver.js';
import type { Service } from '../../src/core/service.js';
import type { Place } from '../../src/place/place.js';
import type { PgTarget } from './postgres-connection.js';
import { openPgSite } from './postgres-place.js';
import type { PgSession } from './postgres-queryable.js';
import { PG_TOOLS_HINT, type ToolVersion } from './postgres-tools.js';

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
  /** The place, where and why, for plan (StrategyOffer.place) and show; `tool` says why an unpinned place fits. */
  placeOf(tool?: ToolVersion): OfferPlace;
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

/**
 * The site of a service, its place chosen as for every engine (postgres-place.ts); `note` is told what a sweep of
 * dead runs' helpers removed; `aheadOn` names the database of the caller's first session, started beside the probe.
 */
export function pgSite(service: Service, signal?: AbortSignal, note?: (text: string) => void, aheadOn?: string): Promise<PgSite> {
  return openPgSite(service, signal, note, aheadOn);
}

/** Why the place fits, for plan and show: "its image has pg_dump 15.4", "pg_dump 15.4 (/usr/lib/postgresql/15/bin/pg_dump)". */
export function placeWhy(place: Place, tool: ToolVersion): string {
  const name = tool.path.split('/').pop();
  if (place.kind === 'container') return `its image has ${name} ${tool.version}`;
  return `${name} ${tool.version}${tool.path.includes('/') ? ` (${tool.path})` : ''}`;
}

/** Opens a site for the work, and closes it after. */
export async function withSite<T>(service: Service, signal: AbortSignal | undefined, work: (site: PgSite) => Promise<T>, note?: (text: string) => void): Promise<T> {
  const site = await pgSite(service, signal, note);
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
