import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword, passwordEnvPrefixes } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { removeLeftoverHelpers } from '../../src/docker/docker-helper.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { ContainerPlace } from '../../src/place/container-place.js';
import { runText } from '../../src/place/place.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { isContainerBacked } from '../../src/place/service-place.js';
import type { MongoTarget } from './mongodb-connection.js';

/**
 * MongoDB inside its own container, with no published port: the node client
 * and host tools reach the container's own 127.0.0.1:27017 through a sidecar
 * tunnel (src/place/sidecar-place.ts), and the image's mongodump /
 * mongorestore run through docker exec.
 *
 * Credentials are the container's own settings (MONGO_INITDB_ROOT_USERNAME /
 * _PASSWORD and their _FILE variants, as the official image takes them;
 * Bitnami's MONGODB_ROOT_USER / MONGODB_ROOT_PASSWORD[_FILE]),
 * unless holdfast has its own for the service (`user` option and
 * HOLDFAST_<NAME>_PASSWORD[_FILE]). Inside an exec a fixed wrapper reads them
 * in the container and hands the password to the tool on a pipe (`--config
 * /dev/fd/3`), never argv. For the client and host tools they are read once
 * through an exec into memory, and passed on only through a 0600 --config file.
 */
// The one test of every engine (src/place/service-place.ts), under the name this driver's files use.
export const isMongoContainerService = isContainerBacked;

/** The port the server listens on inside its container (the official image's 27017 unless the `port` option says otherwise). */
function innerPort(service: Service): number {
  const port = Number(service.options.port);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : 27017;
}

// Fixed text: values reach it only through the environment, arguments only through "$@".
const SETTINGS = [
  'u=${MONGO_INITDB_ROOT_USERNAME:-}',
  'if [ -z "$u" ] && [ -n "${MONGO_INITDB_ROOT_USERNAME_FILE:-}" ]; then u=$(cat "$MONGO_INITDB_ROOT_USERNAME_FILE") || exit 3; fi',
  'p=${MONGO_INITDB_ROOT_PASSWORD:-}',
  'if [ -z "$p" ] && [ -n "${MONGO_INITDB_ROOT_PASSWORD_FILE:-}" ]; then p=$(cat "$MONGO_INITDB_ROOT_PASSWORD_FILE") || exit 3; fi',
  // Bitnami's images: MONGODB_ROOT_USER (default root) and MONGODB_ROOT_PASSWORD[_FILE].
  'if [ -z "$u" ] && [ -z "$p" ]; then',
  '  p=${MONGODB_ROOT_PASSWORD:-}',
  '  if [ -z "$p" ] && [ -n "${MONGODB_ROOT_PASSWORD_FILE:-}" ]; then p=$(cat "$MONGODB_ROOT_PASSWORD_FILE") || exit 3; fi',
  '  if [ -n "$p" ]; then u=${MONGODB_ROOT_USER:-root}; fi',
  'fi',
];

/** Prints the user, a line break, the password: read into holdfast's memory only. */
const READ_CREDENTIALS = [...SETTINGS, 'printf "%s\\n%s" "$u" "$p"'].join('\n');

/**
 * Runs a Database Tool with the credentials added: holdfast's own (from the
 * exec's environment) or the container's. The password goes to the tool as a
 * YAML --config file on a pipe (fd 3, a here-document), single-quoted with
 * every ' doubled, so any character but a line break survives; no file is
 * written in the container. Commands other
 * than the tools run as given.
 */
const WRAPPER = [
  'case "${1##*/}" in mongodump|mongorestore) ;; *) exec "$@" ;; esac',
  'case "${2:-}" in --version|--help) exec "$@" ;; esac',
  'own_u=${HOLDFAST_MONGO_USER:-}; own_p=${HOLDFAST_MONGO_PASSWORD:-}',
  'unset HOLDFAST_MONGO_USER HOLDFAST_MONGO_PASSWORD',
  ...SETTINGS,
  'if [ -n "$own_p" ]; then p=$own_p; [ -n "$own_u" ] && u=$own_u; fi',
  // A user without a password would make the tool prompt on stdin (the archive, for mongorestore).
  'if [ -z "$u" ] || [ -z "$p" ]; then exec "$@"; fi',
  `case "$p" in *'`,
  `'*) echo "holdfast: the MongoDB password holds a line break, which a --config file cannot carry" >&2; exit 2 ;; esac`,
  // Every ' doubled for YAML, in the shell itself: no sed needed in the image.
  `q=; r=$p`,
  `while :; do case "$r" in *"'"*) q="$q\${r%%"'"*}''"; r=\${r#*"'"} ;; *) q=$q$r; break ;; esac; done`,
  'exec "$@" --username "$u" --authenticationDatabase admin --config /dev/fd/3 3<<HOLDFAST_CONFIG',
  "password: '$q'",
  'HOLDFAST_CONFIG',
].join('\n');

export interface MongoContainer {
  place: ContainerPlace;
  name: string;
  image: string;
  /** The port inside the container, for the tools run there. */
  innerPort: number;
  /** The node client's target: the tunnel's local port, the credentials read into memory. */
  t: MongoTarget;
  /** Sidecars of runs killed earlier (kill -9) that opening this place removed, for a note. */
  cleaned: string[];
}

/**
 * Opens the service's container: removes sidecars that runs killed with -9
 * left, joins a sidecar (started on first use) for the tunnel, reads the
 * credentials, and opens the tunnel to the server. close() on the place
 * removes the sidecar.
 */
export async function openMongoContainer(service: Service, signal?: AbortSignal, note?: (text: string) => void): Promise<MongoContainer> {
  const api = await dockerApi();
  const ref = service.container?.id ?? service.endpoint?.path;
  if (!ref) throw new HoldfastError('config', 'no container named for this service', { service: service.name, driver: 'mongodb', hint: 'use container:NAME' });
  // Two services of one run may race for the same leftover: a failed removal is left to the next command.
  const cleaned = await removeLeftoverHelpers(api).catch(() => [] as string[]);
  const own = ownCredentials(service);
  // A secret the user named (label holdfast.secret-file / -env, secret_file / secret_env) is the password, over MONGO_INITDB_ROOT_PASSWORD[_FILE];
  // one that cannot be read is an error naming the label (containerSecret), not a quiet fallback.
  if (own.password === undefined && (typeof service.options.secret_file === 'string' || typeof service.options.secret_env === 'string')) {
    own.password = await (await import('../../src/place/service-place.js')).containerSecret(service, [], signal);
  }
  const sidecarImage = typeof service.options.sidecar_image === 'string' ? service.options.sidecar_image : undefined;
  let sidecar: LazySidecar | undefined;
  // The sidecar goes with the place: every path that closes the place removes it.
  const opened = await ContainerPlace.open(ref, {
    api,
    service: service.name,
    engine: 'MongoDB',
    wrapper: WRAPPER,
    ...(own.password !== undefined ? { env: { HOLDFAST_MONGO_USER: own.user, HOLDFAST_MONGO_PASSWORD: own.password } } : {}),
    reach: (h, p, s) => sidecar!.reach(h, p, s),
    onClose: async () => sidecar?.close(),
    // A backup's or a restore's: the pipes dead runs left in the container go first, and are noted (container-pipe-sweep.ts).
    ...(note ? { note } : {}),
    ...(signal ? { signal } : {}),
  });
  sidecar = new LazySidecar(api, { id: opened.id, name: opened.containerName }, { service: service.name, ...(sidecarImage ? { image: sidecarImage } : {}), ...(signal ? { signal } : {}) });
  try {
    const port = innerPort(service);
    const credentials = await containerCredentials(opened, service, own);
    const tunnel = await opened.reach('127.0.0.1', port, signal);
    const t: MongoTarget = {
      service: service.name,
      host: tunnel.host,
      port: tunnel.port,
      params: {},
      passwordFrom: [`MONGO_INITDB_ROOT_PASSWORD[_FILE] of container ${opened.containerName}`, ...passwordEnvPrefixes(service).map((p) => `${p}_PASSWORD[_FILE]`)],
      display: `127.0.0.1:${port} inside container ${opened.containerName}`,
      authHint: `container ${opened.containerName} has no MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD (or their _FILE variants) to log in with: set them on the container (the root user its server was initialised with), or give holdfast a user (the service's \`user\` option) and its password in ${passwordEnvPrefixes(service)[0]}_PASSWORD[_FILE]`,
      connectHint: `check that MongoDB in container ${opened.containerName} listens on 127.0.0.1:${port} of the container (the \`port\` option of the service names another port), and that the sidecar image has nc or bash`,
      ...credentials,
    };
    const image = (await opened.api.inspectContainer(opened.id))?.image ?? service.container?.image ?? 'its image';
    return { place: opened, name: opened.containerName, image, innerPort: port, t, cleaned };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

function ownCredentials(service: Service): { user?: string; password?: string } {
  const password = lookupPassword(service);
  const user = typeof service.options.user === 'string' ? service.options.user : service.endpoint?.user;
  return { ...(user ? { user } : {}), ...(password !== undefined ? { password } : {}) };
}

/** holdfast's own credentials when it has a password, else those the container was given, read through an exec. */
async function containerCredentials(place: ContainerPlace, service: Service, own: { user?: string; password?: string }): Promise<{ user?: string; password?: string }> {
  const read = await runText(place, ['sh', '-c', READ_CREDENTIALS]);
  if (read.exitCode !== 0) {
    throw new HoldfastError('config', `cannot read the MongoDB credentials of container ${place.containerName}: ${read.stderr.trim().split('\n').slice(-2).join(' ') || `exit ${read.exitCode}`}`, {
      service: service.name,
      driver: 'mongodb',
      hint: 'check that the file MONGO_INITDB_ROOT_USERNAME_FILE / MONGO_INITDB_ROOT_PASSWORD_FILE names exists in the container',
    });
  }
  const cut = read.stdout.indexOf('\n');
  const user = cut < 0 ? read.stdout : read.stdout.slice(0, cut);
  const password = cut < 0 ? '' : read.stdout.slice(cut + 1);
  if (own.password !== undefined) return { ...(own.user ?? user ? { user: own.user ?? user } : {}), password: own.password };
  return user && password ? { user, password } : {};
}
