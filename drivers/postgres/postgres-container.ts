import type { Service } from '../../src/core/service.js';

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
 * exec first and handed to the tools' environment, as holdfast's own
 * (pgCredentials, postgres-place.ts: the one copy of that lookup).
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

/** A libpq connection string naming one database, quoted so that any name is taken literally. */
export function conninfoFor(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
