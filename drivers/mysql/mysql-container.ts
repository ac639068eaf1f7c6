import { isContainerBacked, pinnedPlace } from '../../src/place/service-place.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword, passwordEnvPrefixes } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { ContainerPlace } from '../../src/place/container-place.js';
import { LISTING_LINES, rememberListing, WATCHED } from '../../src/place/container-pipe-sweep.js';
import { RUN_INTO_PIPE } from '../../src/place/container-pipe.js';
import { runText, type Reached } from '../../src/place/place.js';
import { LazySidecar } from '../../src/place/sidecar-place.js';
import { openTunnel, type ExecIn } from '../../src/place/sidecar-tunnel.js';
import type { MyTarget } from './mysql-connection.js';
import { parseToolVersion, toolNames, type ToolInfo } from './mysql-tools.js';

/**
 * MySQL / MariaDB inside its own container, with or without a published
 * port. The image's tools (mariadb-dump, mariadb) run there through docker
 * exec (mysql-tool-place.ts), so they match the server; holdfast's SQL (the
 * hold, inspect, fingerprints, definitions) reaches the server's
 * 127.0.0.1:3306 as the container sees it through a tunnel
 * (src/place/sidecar-tunnel.ts) whose forwarder runs in the container itself
 * when its image has nc or bash (the official images have bash), else in a
 * sidecar (HOLDFAST_MYSQL_SIDECAR=1 forces the sidecar).
 *
 * Credentials are the container's own: a fixed wrapper script resolves
 * them inside it, in the order the official image's entrypoint uses them
 * (https://mariadb.com/kb/en/mariadb-server-docker-official-image-environment-variables/):
 * MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD (or their _FILE), then
 * MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD, then
 * MARIADB_USER + MARIADB_PASSWORD (MYSQL_USER + MYSQL_PASSWORD). A password
 * holdfast has for the service (HOLDFAST_<NAME>_PASSWORD[_FILE]) wins and
 * reaches the exec as environment. The wrapper hands the password to the
 * tool as MYSQL_PWD, in the tool's environment inside the container (where
 * the image's own MARIADB_ROOT_PASSWORD already is, readable by the same
 * users), never in argv; `--no-defaults` keeps an option file of the image
 * from changing user or host. The SQL connection needs it in holdfast's memory: the wrapper's
 * `credentials` mode prints user and password on the exec's stdout, which
 * holdfast keeps in memory only (never argv, a manifest or a log).
 */
export interface MyContainer {
  place: ContainerPlace;
  name: string;
  /** The server's port inside the container (the `port` option; 3306). */
  port: number;
  /** Where the credentials came from, for messages. */
  credentials: string;
  /** The image's tools by name, as their --version answered (undefined: missing), read when the container was opened. */
  tools: Map<string, ToolInfo | undefined>;
  /** `/proc/<pid>/root` of the container when its files are reachable from here ('' when not; mysql-container-fifo.ts). */
  fifoRoot?: string;
  /** How the last tool output left the container, for the manifest. */
  output?: 'pipe' | 'exec';
  /** How holdfast's SQL reaches the server: a forwarder exec'd in the container itself (its nc or bash), or a sidecar. */
  tunnel: 'exec' | 'sidecar';
  /** The place the user pinned (label holdfast.place, holdfast.yml place:): host or sidecar run this host's tools through the tunnel. */
  pin?: { kind: 'host' | 'container' | 'sidecar'; by: string };
}

/** Does this service reach MySQL / MariaDB through a container rather than a URL? The one test of every engine (service-place.ts). */
export const isContainerService = isContainerBacked;

/** The image's tools that a dump, a restore and the physical offer may use, probed in the one exec that opens the container. */
const PROBED = [...new Set((['dump', 'client', 'backup'] as const).flatMap((role) => toolNames(role, 'mariadb').split(' or ')))];

/** Exit status of the wrapper when the container holds no credentials it knows. */
const NO_CREDENTIALS = 97;

// Fixed text: values reach it only through the environment, arguments only through "$@".
const RESOLVE = [
  'val=',
  'read_var() {',
  '  eval "v=\\${$1:-}"; eval "f=\\${$1_FILE:-}"',
  '  if [ -n "$f" ] && [ -r "$f" ]; then v=$(cat "$f"); fi',
  '  if [ -n "$v" ]; then val=$v; return 0; fi',
  '  return 1',
  '}',
  'if [ -n "${HOLDFAST_MY_PASSWORD+x}" ]; then u=${HOLDFAST_MY_USER:-root}; p=$HOLDFAST_MY_PASSWORD; from=holdfast',
  'elif read_var MARIADB_ROOT_PASSWORD || read_var MYSQL_ROOT_PASSWORD; then u=root; p=$val; from=root-password',
  'elif [ -n "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then u=root; p=; from=empty-root-password',
  'elif [ -n "${MARIADB_USER:-${MYSQL_USER:-}}" ] && { read_var MARIADB_PASSWORD || read_var MYSQL_PASSWORD; }; then u=${MARIADB_USER:-$MYSQL_USER}; p=$val; from=user-password',
  `else echo "holdfast: no credentials in this container" >&2; exit ${NO_CREDENTIALS}; fi`,
].join('\n');

export const WRAPPER = [
  'if [ "${HOLDFAST_MY_MODE:-}" = plain ]; then exec "$@"; fi',
  RESOLVE,
  // One exec for both: the --version of each tool named in "$@" (none when missing; mariadb-backup prints it on stderr; one line each), then the credentials.
  'if [ "${HOLDFAST_MY_MODE:-}" = credentials ]; then',
  '  for t in "$@"; do v=; if command -v "$t" >/dev/null 2>&1; then v=$("$t" --version 2>&1) || v=; fi; v=$(printf "%s\\n" "$v" | while IFS= read -r l; do printf "%s " "$l"; done); printf "%s\\t%s\\n" "$t" "$v"; done',
  // Can the container forward a TCP connection itself (the tunnel's forwarder needs nc or bash)?
  '  printf "forward\\t%s\\n" "$(command -v nc || command -v bash || :)"',
  // The listing of dead runs' pipes, for the sweep before the first command (container-pipe-sweep.ts): no exec of its own.
  `  printf "listing\\n"; (\n${LISTING_LINES}\n)`,
  '  printf -- "--holdfast--\\n%s\\n%s\\n%s" "$from" "$u" "$p"; exit 0',
  'fi',
  'MYSQL_PWD=$p; export MYSQL_PWD',
  'tool=$1; shift',
  // HOLDFAST_MY_PIPE (the pipe directory's prefix): the dump into a named pipe that holdfast reads from the host, the
  // pipe made, used and removed in this one exec (RUN_INTO_PIPE, src/place/container-pipe.ts; mysql-container-fifo.ts).
  // The dump stops when holdfast's exec goes (a kill -9): its stdin ends.
  'if [ -n "${HOLDFAST_MY_PIPE:-}" ]; then',
  '  set -- "$HOLDFAST_MY_PIPE" "$tool" --no-defaults --user="$u" --host=127.0.0.1 --port="${HOLDFAST_MY_PORT:-3306}" --protocol=tcp "$@"',
  RUN_INTO_PIPE,
  'fi',
  // A dump through the exec's own stream, watched the same way (HOLDFAST_MY_WATCH: mysql-tool-place.ts).
  'if [ -n "${HOLDFAST_MY_WATCH:-}" ]; then',
  '  set -- "$tool" --no-defaults --user="$u" --host=127.0.0.1 --port="${HOLDFAST_MY_PORT:-3306}" --protocol=tcp "$@"',
  WATCHED,
  'fi',
  'if [ -n "${HOLDFAST_MY_IN:-}" ]; then exec "$tool" --no-defaults --user="$u" --host=127.0.0.1 --port="${HOLDFAST_MY_PORT:-3306}" --protocol=tcp "$@" < "$HOLDFAST_MY_IN"; fi',
  'exec "$tool" --no-defaults --user="$u" --host=127.0.0.1 --port="${HOLDFAST_MY_PORT:-3306}" --protocol=tcp "$@"',
].join('\n');

/**
 * Opens the container of a service: the place its tools run in, the
 * credentials it was given, and a tunnel to its server for holdfast's SQL.
 * Fails naming the service and the fix when the container is gone, stopped,
 * or holds no credentials holdfast knows.
 */
export async function openContainerTarget(service: Service, signal?: AbortSignal, note?: (text: string) => void): Promise<MyTarget & { release(): Promise<void> }> {
  const ref = service.container?.id ?? service.endpoint?.path;
  if (!ref) throw new HoldfastError('config', 'no container named for this service', { service: service.name, driver: 'mysql', hint: 'use container:NAME' });
  const port = Number(service.options.port ?? 3306);
  // A secret the user named (label holdfast.secret-file / -env, secret_file / secret_env) is the password (of root, or of `user`),
  // over MARIADB_ROOT_PASSWORD[_FILE]; one that cannot be read is an error naming the label, not a quiet fallback.
  const named = typeof service.options.secret_file === 'string' || typeof service.options.secret_env === 'string';
  const password = lookupPassword(service) ?? (named ? await (await import('../../src/place/service-place.js')).containerSecret(service, [], signal) : undefined);
  const user = typeof service.options.user === 'string' ? service.options.user : service.endpoint?.user;
  let sidecar: LazySidecar | undefined;
  let forwardsItself = false;
  const pin = pinnedPlace(service);
  // holdfast's SQL through a sidecar even where the image could forward: pinned, or asked for by the environment.
  const sidecarWanted = process.env.HOLDFAST_MYSQL_SIDECAR === '1' || pin?.kind === 'sidecar';
  const place = await ContainerPlace.open(ref, {
    service: service.name,
    engine: 'MySQL / MariaDB',
    wrapper: WRAPPER,
    // The wrapper takes the tool from its arguments and sends a dump into a pipe of its own (HOLDFAST_MY_PIPE, mysql-container-fifo.ts).
    outputPipe: false,
    env: { HOLDFAST_MY_PORT: String(port), ...(password !== undefined ? { HOLDFAST_MY_PASSWORD: password, ...(user ? { HOLDFAST_MY_USER: user } : {}) } : {}) },
    // Through an exec in the container itself when its image can forward (no helper container to start and remove), else a sidecar.
    reach: (host, p, s) => (forwardsItself ? execTunnel(host, p, s) : sidecar!.reach(host, p, s)),
    onClose: async () => sidecar?.close(),
    ...(note ? { note } : {}),
    ...(signal ? { signal } : {}),
  });
  const execTunnel = (host: string, p: number, s?: AbortSignal, warm = false) => {
    const exec: ExecIn = (cmd, o) => place.api.exec(place.id, { cmd, stdin: true, ...(o.signal ? { signal: o.signal } : {}) });
    return openTunnel(exec, host, p, { service: service.name, where: `container ${place.containerName}`, warm, ...((s ?? signal) ? { signal: (s ?? signal)! } : {}) });
  };
  const image = typeof service.options.sidecar_image === 'string' ? service.options.sidecar_image : service.container?.labels['holdfast.sidecar-image'];
  sidecar = new LazySidecar(place.api, { id: place.id, name: place.containerName }, { service: service.name, ...(image ? { image } : {}), ...(signal ? { signal } : {}) });
  let reached: Reached | undefined;
  // A backup's first command in the container comes after its SQL (through the tunnel): the sweep runs meanwhile.
  place.startSweep(signal)?.catch(() => undefined);
  // The tunnel for holdfast's SQL, its first forwarder started beside the probe (traced: the plan's SQL done at
  // 384 ms of a backup instead of 425 ms): most images can forward (nc or bash); kept only when the probe says so.
  let early = !sidecarWanted && cannotForward.get(place.id) !== true ? execTunnel('127.0.0.1', port, signal, true) : undefined;
  early?.catch(() => undefined);
  try {
    const found = await probeContainer(place, password, user, signal);
    if (found.exitCode === NO_CREDENTIALS) {
      throw new HoldfastError('auth', `the container ${place.containerName} has no credentials holdfast can use: none of MARIADB_ROOT_PASSWORD, MYSQL_ROOT_PASSWORD (or their _FILE), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, MARIADB_USER with MARIADB_PASSWORD is set in it`, {
        service: service.name,
        driver: 'mysql',
        hint: `give holdfast the password of an account with RELOAD and SELECT: ${passwordEnvPrefixes(service).map((p) => `${p}_PASSWORD`).join(' or ')} (or _FILE) in holdfast's environment, with user: NAME in the service options`,
      });
    }
    if (found.exitCode !== 0) {
      throw new HoldfastError('tool', `the credential script in container ${place.containerName} failed (${found.exitCode}): ${found.stderr.trim().split('\n').slice(-2).join(' ')}`, {
        service: service.name,
        driver: 'mysql',
        hint: 'the image needs a POSIX sh, cat, sed and mktemp',
      });
    }
    const cut = found.stdout.indexOf('--holdfast--\n');
    const tools = new Map<string, ToolInfo | undefined>();
    for (const line of toolLines(found.stdout.slice(0, Math.max(cut, 0))).split('\n').filter(Boolean)) {
      const [name, version] = [line.slice(0, line.indexOf('\t')), line.slice(line.indexOf('\t') + 1)];
      if (name === 'forward') {
        if (version.trim() === '') cannotForward.set(place.id, true);
        forwardsItself = version.trim() !== '' && !sidecarWanted;
        continue;
      }
      const info = version ? parseToolVersion(name, version) : undefined;
      tools.set(name, info ? { ...info, inContainer: true } : undefined);
    }
    const [from, u, ...rest] = found.stdout.slice(cut + '--holdfast--\n'.length).split('\n');
    const taken = forwardsItself ? early : undefined;
    if (!taken) await closeTunnel(early);
    early = undefined;
    reached = taken ? await taken : await place.reach('127.0.0.1', port, signal);
    const tunnel = reached;
    const target: MyTarget & { release(): Promise<void> } = {
      service: service.name,
      host: reached.host,
      port: reached.port,
      user: u || 'root',
      password: rest.join('\n'),
      passwordFrom: passwordEnvPrefixes(service).map((p) => `${p}_PASSWORD[_FILE]`),
      container: { place, name: place.containerName, port, credentials: describeSource(from), tools, tunnel: forwardsItself ? 'exec' : 'sidecar', ...(pin ? { pin } : {}) },
      release: async () => {
        await tunnel.close().catch(() => undefined);
        await place.close();
      },
    };
    if (service.endpoint?.path && service.endpoint.scheme !== 'container') target.database = service.endpoint.path;
    return target;
  } catch (error) {
    await closeTunnel(early);
    await reached?.close().catch(() => undefined);
    await place.close().catch(() => undefined);
    throw error;
  }
}

// Containers (by id: a recreated one has a new id) whose image the probe found without nc or bash: the SQL goes through
// a sidecar, and no forwarder is started in them ahead of the probe (it would only fail).
const cannotForward = new Map<string, true>();

function closeTunnel(tunnel: Promise<Reached> | undefined): Promise<void> {
  return tunnel ? tunnel.then((t) => t.close(), () => undefined) : Promise.resolve();
}

/**
 * The probe's answer (tools, forwarder, credentials) for a container, kept
 * in memory for a few seconds: `backup` plans (strategies) and then backs
 * up, each opening the same container, and a second probe would cost a
 * docker exec (about 0.13 s here) for the same answer. Keyed by container
 * id (a recreated container has a new one) and the password holdfast was
 * given; a failed probe is not kept, and nothing is written anywhere.
 */
const PROBE_TTL_MS = 30_000;
const probes = new Map<string, { at: number; found: Promise<{ stdout: string; stderr: string; exitCode: number | null }> }>();

function probeContainer(place: ContainerPlace, password: string | undefined, user: string | undefined, signal?: AbortSignal) {
  const key = JSON.stringify([place.id, password ?? null, user ?? null]);
  for (const [k, v] of probes) if (Date.now() - v.at > PROBE_TTL_MS) probes.delete(k);
  const kept = probes.get(key);
  if (kept) return kept.found;
  const found = runText(place, [...PROBED], { env: { HOLDFAST_MY_MODE: 'credentials' }, ...(signal ? { signal } : {}) });
  probes.set(key, { at: Date.now(), found });
  found.then(
    (r) => {
      if (r.exitCode !== 0) probes.delete(key);
      // Once per probe that ran (not per open that reuses it): its listing is as old as it is.
      else {
        const listing = listingOf(r.stdout);
        if (listing !== undefined) rememberListing(place.id, listing);
      }
    },
    () => probes.delete(key),
  );
  return found;
}

const LISTING_MARK = 'listing\n';

/** Where the probe's listing of pipes starts in `head` (what comes before the credentials), -1 without one. */
function listingAt(head: string): number {
  return `\n${head}`.indexOf(`\n${LISTING_MARK}`);
}

/** The probe's lines about tools and the forwarder: what comes before its listing. */
function toolLines(head: string): string {
  const at = listingAt(head);
  return at < 0 ? head : head.slice(0, at);
}

/** The probe's listing of pipes (container-pipe-sweep.ts LISTING_LINES), undefined when it printed none. */
function listingOf(stdout: string): string | undefined {
  const head = stdout.slice(0, Math.max(stdout.indexOf('--holdfast--\n'), 0));
  const at = listingAt(head);
  return at < 0 ? undefined : head.slice(at + LISTING_MARK.length);
}

function describeSource(from: string | undefined): string {
  switch (from) {
    case 'holdfast':
      return "holdfast's password for the service";
    case 'root-password':
      return 'the container\'s MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD';
    case 'empty-root-password':
      return 'root with an empty password (MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)';
    default:
      return "the container's MARIADB_USER / MARIADB_PASSWORD";
  }
}
