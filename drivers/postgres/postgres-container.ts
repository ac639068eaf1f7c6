import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { ContainerPlace } from '../../src/place/container-place.js';

/**
 * PostgreSQL inside its own container: the place where pg_dump, pg_dumpall,
 * pg_restore, pg_basebackup and psql of the image run, through docker exec,
 * so the tools match the server. They connect over the container's Unix
 * socket as POSTGRES_USER.
 *
 * Credentials never travel on argv: holdfast's own password for the service
 * (HOLDFAST_<NAME>_PASSWORD[_FILE], password_file...) goes into the exec's
 * environment; without one, a fixed wrapper script inside the container
 * takes the password the image itself was given (POSTGRES_PASSWORD or
 * POSTGRES_PASSWORD_FILE), so the value never leaves the container. A
 * secret named by a label (holdfast.secret-file / -env) is read through an
 * exec first and handed to the tools' environment, as holdfast's own.
 */

/** Does this service reach PostgreSQL through a container rather than a URL? */
export function isContainerService(service: Service): boolean {
  return !!service.container || service.endpoint?.scheme === 'container';
}

// Fixed text: values reach it only through the environment, arguments through "$@".
export const PG_WRAPPER = [
  ': "${PGUSER:=${POSTGRES_USER:-postgres}}"',
  'if [ -z "${PGPASSWORD:-}" ]; then',
  '  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -r "$POSTGRES_PASSWORD_FILE" ]; then PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")',
  '  elif [ -n "${POSTGRES_PASSWORD:-}" ]; then PGPASSWORD=$POSTGRES_PASSWORD; fi',
  'fi',
  'export PGUSER',
  'if [ -n "${PGPASSWORD:-}" ]; then export PGPASSWORD; fi',
  'exec "$@"',
].join('\n');

/** The running container of a service as a place, with the environment its tools get and the secret to blank out. */
export async function pgContainerPlace(service: Service, signal?: AbortSignal, note?: (text: string) => void): Promise<{ place: ContainerPlace; secrets: Array<string | undefined> }> {
  const ref = service.container?.id ?? service.endpoint?.path;
  if (!ref) throw new HoldfastError('config', 'no container named for this service', { service: service.name, hint: 'use container:NAME' });
  // A secret the user named (label holdfast.secret-file / holdfast.secret-env, secret_file / secret_env) wins over
  // POSTGRES_PASSWORD[_FILE] (a password rotated since the container started); one that cannot be read is an error naming the label.
  const named = typeof service.options.secret_file === 'string' || typeof service.options.secret_env === 'string';
  const own = lookupPassword(service);
  const password = own ?? (named ? await (await import('../../src/place/service-place.js')).containerSecret(service, [], signal) : undefined);
  const user = typeof service.options.user === 'string' ? service.options.user : service.endpoint?.user;
  const env: Record<string, string | undefined> = { PGAPPNAME: 'holdfast', PGCLIENTENCODING: 'UTF8', PGCONNECT_TIMEOUT: '10', PGUSER: user || undefined, PGPASSWORD: password };
  // Loaded on use (container-place.ts loads dockerode lazily): services reached by URL never pay for it.
  // note: a backup's or a restore's; the place then first cleans what dead runs left in the container (container-pipe-sweep.ts).
  const place = await ContainerPlace.open(ref, { service: service.name, engine: 'PostgreSQL', wrapper: PG_WRAPPER, env, ...(note ? { note } : {}), ...(signal ? { signal } : {}) });
  return { place, secrets: [password] };
}

/** A libpq connection string naming one database, quoted so that any name is taken literally. */
export function conninfoFor(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
