import type { Requirement, StrategyOffer } from '../../src/core/driver.js';
import { toHoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { pinnedPlace } from '../../src/place/service-place.js';
import { serverFacts, type ServerFacts } from './postgres-inspector.js';
import type { PgSession } from './postgres-queryable.js';
import { pgSite, withSession, withSite, type PgSite } from './postgres-site.js';
import { PG_TOOLS_HINT } from './postgres-tools.js';

/**
 * The strategies, strongest first, with their requirements checked for real
 * where the server is: on this host for a URL (the host's tools), inside the
 * service's container otherwise (the image's tools, psql getting in with the
 * known credentials). When one fails, the plan says which; for a container
 * with volumes the volume fallback (volume-fallback.ts) takes over.
 */
export async function postgresStrategies(service: Service, signal?: AbortSignal): Promise<StrategyOffer[]> {
  const container = service.container?.name ?? (service.endpoint?.scheme === 'container' ? service.endpoint.path : undefined);
  if (container === undefined) {
    return withSite(service, signal, (site) =>
      withSession(site, undefined, async (c) => {
        const tablespaces = (await c.query<{ n: string }>("SELECT spcname AS n FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1")).rows.map((r) => r.n);
        return offers(site, await serverFacts(c), tablespaces);
      }),
    );
  }
  // In a container, a failure to get in is an unmet requirement of its own, so the plan can say which.
  const dump: StrategyOffer = {
    name: 'pg_dump',
    consistency: 'transactional',
    summary: 'pg_dump per database from an exported snapshot, plus pg_dumpall --globals-only',
    requirements: [],
    // Until the site answers: the container the service runs in (the site's own place replaces it below).
    place: { kind: 'container', where: `inside container ${container}`, reason: 'the service runs in it' },
    restoresIntoNewer: true,
  };
  let site: PgSite;
  try {
    // The plan's psql session (database postgres) starts beside the probe of the image's tools.
    site = await pgSite(service, signal, undefined, 'postgres');
    dump.requirements.push({ what: 'the container runs', met: true, detail: container });
    // Each probe is an exec: asked while psql gets in, answered from the site's memory below.
    site.probe(['pg_dump', 'pg_dumpall', 'pg_basebackup']);
  } catch (error) {
    const e = toHoldfastError(error);
    // A pin that cannot be honoured (host with no published port) is its own unmet requirement, in the pin's words.
    const pin = (() => {
      try {
        return pinnedPlace(service);
      } catch {
        return undefined;
      }
    })();
    dump.requirements.push({ what: pin && e.code === 'config' ? `the place ${pin.by.replace(/^pinned by /, '')} reaches the server` : 'the container runs', met: false, detail: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    return [dump];
  }
  try {
    let facts: ServerFacts;
    let tablespaces: string[];
    let replication: Requirement | undefined;
    try {
      // One session for everything the plan asks (in a container each session is a psql exec, 50-100 ms).
      ({ facts, tablespaces, replication } = await withSession(site, undefined, async (c) => ({
        facts: await serverFacts(c),
        tablespaces: (await c.query<{ n: string }>("SELECT spcname AS n FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1")).rows.map((r) => r.n),
        replication: site.place.kind === 'container' ? await localReplication(c) : undefined,
      }), signal));
    } catch (error) {
      const e = toHoldfastError(error);
      dump.place = site.placeOf();
      dump.requirements.push({ what: `psql ${site.where} connects with the known credentials`, met: false, detail: e.message, ...(e.hint ? { hint: e.hint } : {}) });
      dump.requirements.push(...(await Promise.all(['pg_dump', 'pg_dumpall'].map((n) => toolRequirement(site, n, undefined)))));
      return [dump];
    }
    const all = await offers(site, facts, tablespaces, replication);
    all[0]!.requirements.unshift(...dump.requirements, { what: `psql ${site.where} connects with the known credentials`, met: true, detail: `PostgreSQL ${facts.version}` });
    return all;
  } finally {
    await site.close();
  }
}

async function toolRequirement(site: PgSite, name: string, major: number | undefined): Promise<Requirement> {
  const found = await site.tool(name);
  const inImage = site.place.kind === 'container';
  return {
    what: `${name}${inImage ? ' in the image' : ''}${major ? ` of major ${major} or newer` : ''}`,
    met: !!found && (major === undefined || found.major >= major),
    detail: found ? (inImage ? `${name} ${found.version}` : `${found.path} is ${found.version}`) : inImage ? 'not in the image' : 'not installed',
    hint: inImage ? 'use an image that ships the PostgreSQL client tools (the official postgres images do)' : PG_TOOLS_HINT,
  };
}

/**
 * pg_basebackup inside the container connects over its Unix socket: the
 * image's pg_hba.conf must allow a `local replication` connection (the
 * official images do, with trust). Read from pg_hba_file_rules (superuser).
 */
async function localReplication(c: PgSession): Promise<Requirement> {
  const what = 'a replication connection on the container\'s own socket (pg_hba.conf: local replication)';
  const hint = 'add a line "local replication all trust" (or scram-sha-256) to pg_hba.conf in the container and reload, or leave the physical copy to the volume tar';
  try {
    const rules = await c.query<{ method: string }>("SELECT auth_method AS method FROM pg_hba_file_rules WHERE type = 'local' AND database @> ARRAY['replication'] AND error IS NULL ORDER BY line_number");
    // The first matching line decides; `all` does not match replication connections.
    const first = rules.rows[0];
    return { what, met: !!first && first.method !== 'reject', detail: first ? `pg_hba.conf: local replication ${first.method}` : 'pg_hba.conf has no local replication line', hint };
  } catch (error) {
    return { what, met: false, detail: toHoldfastError(error).message, hint };
  }
}

/**
 * The offers. In a container, pg_basebackup runs in it, streamed out of
 * the exec with the server running, and is the physical copy of a
 * pre-upgrade backup (before the volume tar, which stops the server): a
 * rollback puts it back into the container's data volume.
 */
async function offers(site: PgSite, facts: ServerFacts, tablespaces: readonly string[], replication?: Requirement): Promise<StrategyOffer[]> {
  // A restore onto another server needs these (or --tablespace-map / --no-tablespaces): the plan says so up front.
  const uses = tablespaces.length ? `; tablespaces ${tablespaces.join(', ')} (a restore elsewhere needs them, --tablespace-map or --no-tablespaces)` : '';
  const [pgDump, pgDumpAll, pgBasebackup] = await Promise.all(['pg_dump', 'pg_dumpall', 'pg_basebackup'].map((n) => toolRequirement(site, n, facts.major)));
  const inContainer = site.place.kind === 'container';
  // The place in one short line first ("inside container shop-db-1: its image has pg_dump 15.4"): plan's WHY and show's why.
  const dumpTool = await site.tool('pg_dump');
  const place = site.placeOf(dumpTool);
  const all: StrategyOffer[] = [
    {
      name: 'pg_dump',
      consistency: 'transactional',
      place,
      summary: `pg_dump per database from an exported snapshot, plus pg_dumpall --globals-only${uses}`,
      requirements: [pgDump!, pgDumpAll!],
      restoresIntoNewer: true,
    },
    {
      name: 'pg_basebackup',
      consistency: 'transactional',
      place,
      summary: `physical copy of the cluster with its WAL (pg_basebackup -Ft -X fetch)${inContainer ? ', streamed out of the exec, the server running' : ''}`,
      requirements: [
        pgBasebackup!,
        {
          what: 'a role with REPLICATION',
          met: facts.canReplicate,
          detail: facts.canReplicate ? 'granted' : 'the user lacks REPLICATION',
          hint: 'ALTER ROLE <user> REPLICATION, and a "replication" line in pg_hba.conf',
        },
        {
          what: 'max_wal_senders > 0',
          met: facts.maxWalSenders > 0,
          detail: `max_wal_senders = ${facts.maxWalSenders}`,
          hint: 'set max_wal_senders (10 is the default) and restart the server',
        },
      ],
      restoresIntoNewer: false,
      physical: true,
    },
  ];
  if (!inContainer) return all;
  if (!replication) return all.slice(0, 1);
  all[1]!.requirements.push(replication);
  return all;
}
