import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import type { DockerApi, StreamRun } from '../../src/docker/docker-api.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';

/**
 * PostgreSQL inside its own container: pg_dump, pg_dumpall, pg_restore and
 * psql of the image run through docker exec, so the tools match the server.
 * They connect over the container's Unix socket as POSTGRES_USER.
 *
 * Credentials never travel on argv: holdfast's own password for the service
 * (HOLDFAST_<NAME>_PASSWORD[_FILE], password_file...) goes into the exec's
 * environment; without one, a fixed wrapper script inside the container
 * takes the password the image itself was given (POSTGRES_PASSWORD or
 * POSTGRES_PASSWORD_FILE), so the value never leaves the container.
 */
export interface PgContainer {
  api: DockerApi;
  id: string;
  name: string;
  service: string;
  /** `NAME=value` pairs for every exec (the password among them, when holdfast has one). */
  env: string[];
  secrets: Array<string | undefined>;
}

/** Does this service reach PostgreSQL through a container rather than a URL? */
export function isContainerService(service: Service): boolean {
  return !!service.container || service.endpoint?.scheme === 'container';
}

// Fixed text: values reach it only through the environment, arguments through "$@".
const WRAPPER = [
  ': "${PGUSER:=${POSTGRES_USER:-postgres}}"',
  'if [ -z "${PGPASSWORD:-}" ]; then',
  '  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -r "$POSTGRES_PASSWORD_FILE" ]; then PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")',
  '  elif [ -n "${POSTGRES_PASSWORD:-}" ]; then PGPASSWORD=$POSTGRES_PASSWORD; fi',
  'fi',
  'export PGUSER',
  'if [ -n "${PGPASSWORD:-}" ]; then export PGPASSWORD; fi',
  'exec "$@"',
].join('\n');

/** The running container of a service, with the environment its tools get. */
export async function pgContainer(service: Service, signal?: AbortSignal): Promise<PgContainer> {
  // Loaded on use: services reached by URL never pay for dockerode.
  const api = await dockerApi();
  const ref = service.container?.id ?? service.endpoint?.path;
  if (!ref) throw new HoldfastError('config', 'no container named for this service', { service: service.name, hint: 'use container:NAME' });
  const details = await api.inspectContainer(ref);
  if (!details) {
    throw new HoldfastError('not-found', `the container ${service.container?.name ?? ref} of PostgreSQL is gone`, {
      service: service.name,
      hint: 'check docker ps -a, or run holdfast discover again; on another Docker host, `holdfast restore SNAPSHOT --recreate` starts it from the recorded image',
    });
  }
  if (!details.running) {
    throw new HoldfastError('connect', `the container ${details.name} is ${details.status}, so its tools cannot run`, {
      service: service.name,
      hint: `docker start ${details.name}`,
    });
  }
  if (signal?.aborted) throw new HoldfastError('interrupted', 'interrupted', { service: service.name });
  const password = lookupPassword(service);
  const env = ['PGAPPNAME=holdfast', 'PGCLIENTENCODING=UTF8', 'PGCONNECT_TIMEOUT=10'];
  const user = typeof service.options.user === 'string' ? service.options.user : service.endpoint?.user;
  if (user) env.push(`PGUSER=${user}`);
  if (password !== undefined) env.push(`PGPASSWORD=${password}`);
  return { api, id: details.id, name: details.name, service: service.name, env, secrets: [password] };
}

/** Runs a PostgreSQL tool inside the container, through the credential wrapper. */
export function pgExec(pc: PgContainer, argv: readonly string[], options: { database?: string; stdin?: boolean; signal?: AbortSignal } = {}): Promise<StreamRun> {
  const env = [...pc.env];
  if (options.database !== undefined) env.push(`PGDATABASE=${options.database}`);
  return pc.api.exec(pc.id, {
    cmd: ['sh', '-c', WRAPPER, 'holdfast-pg', ...argv],
    env,
    ...(options.stdin ? { stdin: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** A tool's output as text (for --version and small answers); the exit code is the caller's to judge. */
export async function pgExecText(pc: PgContainer, argv: readonly string[], options: { database?: string; signal?: AbortSignal } = {}): Promise<{ stdout: string; exitCode: number | null; stderr: string }> {
  const run = await pgExec(pc, argv, options);
  let stdout = '';
  run.stdout.setEncoding('utf8');
  run.stdout.on('data', (d: string) => (stdout += d));
  const exit = await run.done;
  return { stdout, ...exit };
}

/** A libpq connection string naming one database, quoted so that any name is taken literally. */
export function conninfoFor(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
