/**
 * Views of a restored database taken with the engine's own tools and APIs, not
 * with holdfast's fingerprint code: a restore test compares the source's view
 * with the target's (`expect(target).toEqual(source)`), so a fingerprint that
 * misses something (an owner, a grant, a routine, an index, a payload) cannot
 * hide it. Each view reads a container on a given daemon (the test's own
 * dockerd, or a second one standing for another host).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { withContainerClient } from './mongo-container.js';

const run = promisify(execFile);
const CLI = process.env.HOLDFAST_DOCKER_CLI ?? '/usr/bin/docker';

/** A container on a daemon (`dockerHost` unset: the test daemon of DOCKER_HOST). */
export interface Site {
  container: string;
  dockerHost?: string;
}

/**
 * `argv` run by `docker exec` in the site's container; stdout trimmed. Values
 * of `env` reach the exec through the docker CLI's environment (`-e NAME`
 * names it only), so a password is never in an argv.
 */
export async function execIn(site: Site, argv: string[], env: Record<string, string> = {}): Promise<string> {
  const args = [...(site.dockerHost ? ['-H', site.dockerHost] : []), 'exec', ...Object.keys(env).flatMap((k) => ['-e', k]), site.container, ...argv];
  try {
    const { stdout } = await run(CLI, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return stdout.trim();
  } catch (error) {
    throw new Error(`docker exec ${site.container} ${argv[0]}: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
  }
}

/** A password hash shown in a failed comparison as a digest of it: equal hashes, equal digests. */
const digest = (hash: string) => createHash('sha256').update(hash).digest('hex').slice(0, 12);

// ---- PostgreSQL -------------------------------------------------------------

/**
 * pg_dump 15.14+ (and pg_dumpall) frame a plain dump with `\restrict KEY` /
 * `\unrestrict KEY`, KEY random per run (CVE-2025-8714): the one line that
 * must differ between two dumps of the same schema, so the only one replaced.
 */
const unrestrict = (dump: string) => dump.replace(/^\\(un)?restrict \S+$/gm, '\\$1restrict KEY');

/**
 * Every database but the templates: `pg_dump --schema-only --create` of each, exact
 * row counts of every table, and the roles (`pg_dumpall --roles-only`).
 */
export async function postgresView(site: Site, password: string) {
  const env = { PGPASSWORD: password };
  const psql = (db: string, sql: string) => execIn(site, ['psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', db, '-c', sql], env);
  const databases = (await psql('postgres', 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1')).split('\n').filter(Boolean);
  const schemas: Record<string, string> = {};
  const counts: Record<string, string> = {};
  for (const db of databases) {
    // --create: the database's own properties too (owner, ACL, comment, ALTER DATABASE ... SET), which
    // a restore without CREATE DATABASE loses (shared/ENGINES.md, fidelity pitfalls).
    schemas[db] = unrestrict(await execIn(site, ['pg_dump', '--schema-only', '--create', '-U', 'postgres', '-d', db], env));
    // One query counts every table exactly (query_to_xml runs a count per row of the catalog).
    counts[db] = await psql(
      db,
      "SELECT format('%I.%I', table_schema, table_name), (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text " +
        "FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    );
  }
  // Each role's password hash as a digest (a hash logs in as well as the password). The bootstrap superuser's
  // must differ: the recreated server's initdb salted it anew, and a restore leaves an existing role's password alone.
  const roles = unrestrict(await execIn(site, ['pg_dumpall', '--roles-only', '-U', 'postgres'], env))
    .split('\n')
    .map((line) => line.replace(/ PASSWORD '([^']*)'/, (_, hash: string) => (line.startsWith('ALTER ROLE postgres ') ? " PASSWORD '<the server's own>'" : ` PASSWORD '<hash ${digest(hash)}>'`)))
    .join('\n');
  return { databases, roles, schemas, counts };
}

// ---- MariaDB ----------------------------------------------------------------

const SYSTEM_SCHEMAS = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/**
 * The user databases: `mariadb-dump --no-data --routines --events
 * --skip-dump-date` of all of them, exact row counts of every table, and every
 * account with its grants. As
 * root on the container's socket (root@localhost may use unix_socket: no password).
 */
export async function mariadbView(site: Site) {
  const client = ['--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock'];
  const sql = (q: string) => execIn(site, ['mariadb', ...client, '-N', '-B', '-e', q]);
  const databases = (await sql(`SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1`)).split('\n').filter(Boolean);
  const schema = databases.length ? await execIn(site, ['mariadb-dump', ...client, '--no-data', '--routines', '--events', '--skip-dump-date', '--databases', ...databases]) : '';
  const tables = (await sql(`SELECT CONCAT('\`', table_schema, '\`.\`', table_name, '\`') FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1`)).split('\n').filter(Boolean);
  const counts = tables.length ? await sql(tables.map((t) => `SELECT '${t}', COUNT(*) FROM ${t}`).join(' UNION ALL ')) : '';
  // Every account as the server states it: SHOW CREATE USER (authentication, limits) and SHOW GRANTS.
  const users = (await sql("SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user ORDER BY user, host")).split('\n').filter(Boolean);
  // A mysql_native_password hash logs in as well as the password: a failed comparison shows a digest of it instead.
  const accounts = (await sql(users.map((u) => `SHOW CREATE USER ${u}; SHOW GRANTS FOR ${u}`).join('; '))).replace(/'\*[0-9A-F]{40}'/g, (h) => `'<hash ${digest(h)}>'`);
  return { databases, schema, counts, accounts };
}

// ---- MongoDB wire (FerretDB) ------------------------------------------------

/**
 * Every user database's collections with their options, their indexes (name and key) and every
 * document in _id order, read with the mongodb client through a sidecar tunnel
 * of the test's own into the container (nothing is published).
 */
export async function mongoView(site: Site, auth: { user: string; password: string }) {
  return withContainerClient(
    site.container,
    auth,
    async (client) => {
      const view: Record<string, Record<string, { type: unknown; options: unknown; indexes: unknown[]; documents: unknown[] }>> = {};
      const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
      for (const name of databases.map((d) => d.name).filter((n) => !['admin', 'config', 'local'].includes(n)).sort()) {
        const db = client.db(name);
        view[name] = {};
        // Each collection's type and options (capped, size, ...); its info (a uuid) is the target's own.
        for (const { name: c, type, options } of (await db.listCollections().toArray()).sort((x, y) => x.name.localeCompare(y.name))) {
          const indexes = (await db.collection(c).listIndexes().toArray()).map((i) => ({ name: i.name, key: i.key })).sort((a, b) => String(a.name).localeCompare(String(b.name)));
          view[name][c] = { type, options, indexes, documents: await db.collection(c).find({}).sort({ _id: 1 }).toArray() };
        }
      }
      return view;
    },
    site.dockerHost,
  );
}

// ---- Qdrant -----------------------------------------------------------------

/** Qdrant's REST answer `{ result }`, or an error naming the request. */
async function qdrantGet<T>(url: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`Qdrant ${path}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { result: T }).result;
}

/**
 * The aliases, every collection's parameters (vectors' size and distance, ...)
 * and payload indexes, and every point (id, payload, vector) read back by the scroll API
 * page by page, over Qdrant's HTTP API at `url`.
 */
export async function qdrantView(url: string) {
  const { collections } = await qdrantGet<{ collections: Array<{ name: string }> }>(url, '/collections');
  const { aliases } = await qdrantGet<{ aliases: Array<{ alias_name: string; collection_name: string }> }>(url, '/aliases');
  const view: Record<string, { params: unknown; payloadSchema: unknown; points: unknown[] }> = {};
  for (const name of collections.map((c) => c.name).sort()) {
    const path = `/collections/${encodeURIComponent(name)}`;
    const info = await qdrantGet<{ config: { params: unknown }; payload_schema?: unknown }>(url, path);
    const points: unknown[] = [];
    let offset: unknown = null;
    do {
      const page: { points: unknown[]; next_page_offset: unknown } = await qdrantGet(url, `${path}/points/scroll`, { limit: 256, offset, with_payload: true, with_vector: true });
      points.push(...page.points);
      offset = page.next_page_offset;
    } while (offset !== null && offset !== undefined);
    view[name] = { params: info.config.params, payloadSchema: info.payload_schema ?? {}, points };
  }
  return { aliases: aliases.map((a) => `${a.alias_name} -> ${a.collection_name}`).sort(), collections: view };
}
