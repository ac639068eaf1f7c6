import { HoldfastError } from './errors.js';
import type { ServiceHooks } from './hooks.js';

/**
 * A service is one stateful thing to back up: a database server, a search
 * node, a volume. It comes from holdfast.yml, from `--service NAME=URL` or
 * from Docker discovery. It never holds a password: credentials are looked
 * up when a driver connects (see secrets.ts).
 */
export interface Service {
  /** Unique, safe as a directory name: letters, digits, `_`, `-`, `.`. */
  name: string;
  /** The engine as chosen by detection or configuration (`postgres`, ...). */
  engine?: string;
  /** Where the service is reached, parsed; undefined for container-only services. */
  endpoint?: Endpoint;
  /** A strategy the user pinned (config `strategy:` or `--strategy NAME=S`). */
  strategy?: string;
  /** Engine-specific options from holdfast.yml (databases, ...). */
  options: Record<string, unknown>;
  /**
   * Prefixes of the environment variables that hold its password, tried in
   * order (`HOLDFAST_DB_TARGET` -> HOLDFAST_DB_TARGET_PASSWORD[_FILE]).
   * Default: HOLDFAST_<NAME>.
   */
  secretEnv?: string[];
  /** Where the definition came from, for messages. */
  origin: 'config' | 'flag' | 'docker';
  /** The Docker container behind the service, when it runs in one (discovery or a `container:` URL). */
  container?: ServiceContainer;
  /** Commands before and after its backup and restore, from holdfast.yml (hooks.ts); its container's labels add theirs. */
  hooks?: ServiceHooks;
}

/**
 * What a container-backed service needs from Docker: enough to run tools
 * inside it, find the writers of its volumes, and rebuild it (image, mounts,
 * the names of its environment variables: never their values).
 */
export interface ServiceContainer {
  id: string;
  /** Without the leading slash. */
  name: string;
  image: string;
  /** The image's id (`sha256:...`) when known: a rollback checks that the files go back under the same image. */
  imageId?: string;
  /** Docker's state: running, paused, exited, created, restarting. */
  state: string;
  /** `holdfast.*` and `com.docker.compose.*` labels only. */
  labels: Record<string, string>;
  compose?: { project: string; service: string; number?: number; dependsOn: string[] };
  mounts: ServiceMount[];
  envNames: string[];
  /** Published ports (`5432/tcp -> 127.0.0.1:15432`), or the network mode when there are none. */
  ports: string[];
  /** Docker's stop timeout for it, in seconds, when set on the container. */
  stopTimeout?: number;
  /** What revealed the engine, for `discover` and `plan`. */
  detectedBy?: string;
}

export interface ServiceMount {
  type: 'volume' | 'bind' | 'tmpfs' | 'other';
  /** The volume name, or the host path of a bind mount. */
  source: string;
  /** Where the container sees it. */
  destination: string;
  readOnly: boolean;
  /** The volume driver (`local`, ...). */
  driver?: string;
}

export interface Endpoint {
  /** The URL scheme, e.g. `postgres`. */
  scheme: string;
  host: string;
  port?: number;
  user?: string;
  /** The path without its leading slash (a database name, a volume name, ...). */
  path: string;
  params: Record<string, string>;
  /** Set only when the URL itself carried one (holdfast.yml); never printed. */
  password?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Service names become directory names in the repository: keep them plain. */
export function assertServiceName(name: string): void {
  if (!NAME.test(name) || name.includes('..')) {
    throw new HoldfastError('config', `invalid service name ${JSON.stringify(name)}`, {
      hint: 'use 1-63 letters, digits, "_", "-" or "." (starting with a letter or digit)',
    });
  }
}

/**
 * Parses a service URL: `postgres://user@host:5432/db`, `volume:name`,
 * `container:name`. The password part, if any, is kept apart so it is never
 * printed; `allowPassword` is false for URLs from the command line.
 */
export function parseEndpoint(raw: string, allowPassword: boolean, service?: string): Endpoint {
  const opaque = /^(volume|container|file):(?!\/\/)(.+)$/.exec(raw);
  if (opaque) {
    return { scheme: opaque[1]!, host: '', path: opaque[2]!, params: {} };
  }
  const shown = JSON.stringify(redactRawUrl(raw));
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HoldfastError('config', `cannot parse the URL ${shown}`, {
      service,
      hint: `write it as scheme://user@host:port/path, e.g. postgres://app@127.0.0.1:5432/app; ${ENCODE_HINT}`,
    });
  }
  // A '#', '/' or '?' in a password ends the host part early: the parser then sees a host and port made of its
  // pieces, and the rest of the password in the path. An '@' there is refused (encoded, %40, it is fine).
  if (/@/.test(url.pathname + url.search + url.hash)) {
    throw new HoldfastError('config', `the URL ${shown} has an '@' after its host part: its user or password holds a character that must be percent-encoded`, {
      service,
      hint: ENCODE_HINT,
    });
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (url.password && !allowPassword) {
    throw new HoldfastError('config', 'a password in a URL on the command line is visible to every user of this machine', {
      service,
      hint: `drop it from the URL and set HOLDFAST_${envName(service ?? 'SERVICE')}_PASSWORD or ..._PASSWORD_FILE instead`,
    });
  }
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new HoldfastError('config', `the ${what} in the URL ${shown} holds a '%' that is not followed by two hex digits`, { service, hint: ENCODE_HINT });
    }
  };
  const params: Record<string, string> = {};
  url.searchParams.forEach((value, key) => (params[key] = value));
  const endpoint: Endpoint = {
    scheme,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    path: decode(url.pathname.replace(/^\//, ''), 'path'),
    params,
  };
  if (url.port) endpoint.port = Number(url.port);
  if (url.username) endpoint.user = decode(url.username, 'user');
  if (url.password) endpoint.password = decode(url.password, 'password');
  return endpoint;
}

/** A URL fit for messages and manifests: no password, no user-info secret. */
export function formatEndpoint(e: Endpoint, withUser = true): string {
  if (!e.host) return `${e.scheme}:${e.path}`;
  const user = withUser && e.user ? `${encodeURIComponent(e.user)}@` : '';
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  const port = e.port ? `:${e.port}` : '';
  const path = e.path ? `/${encodeURIComponent(e.path)}` : '';
  return `${e.scheme}://${user}${host}${port}${path}`;
}

const ENCODE_HINT =
  "percent-encode these characters in a user or password (# as %23, @ as %40, / as %2F, ? as %3F, % as %25, : as %3A), or better, drop the password from the URL and set HOLDFAST_<SERVICE>_PASSWORD or ..._PASSWORD_FILE";

/**
 * Removes `:password@` from anything that looks like a URL. The password
 * runs to the last '@' before a space or quote: it may itself hold '@', '#',
 * '/', '?' or '%' when it was not percent-encoded.
 */
export function redactUrl(text: string): string {
  return text.replace(/(\b[A-Za-z][\w+.-]*:\/\/[^:/@\s"'`]*):[^\s"'`]*@/g, '$1:***@');
}

/**
 * One URL as typed, for a message, even when it cannot be parsed: all
 * between the user's ':' and the last '@' goes (a password may hold spaces
 * and quotes too).
 */
export function redactRawUrl(raw: string): string {
  const start = /^[A-Za-z][\w+.-]*:\/\//.exec(raw)?.[0].length;
  if (start === undefined) return redactUrl(raw);
  const at = raw.lastIndexOf('@');
  const colon = raw.indexOf(':', start);
  if (at < start || colon < 0 || colon > at) return raw;
  return `${raw.slice(0, colon)}:***${raw.slice(at)}`;
}

/** `my-db.1` -> `MY_DB_1`, for environment variable names. */
export function envName(service: string): string {
  return service.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Parses `NAME=URL` from `--service` / `--target`. */
export function splitAssignment(raw: string, flag: string): [string, string] {
  const at = raw.indexOf('=');
  if (at <= 0 || at === raw.length - 1) {
    throw new HoldfastError('usage', `${flag} expects NAME=URL, got ${JSON.stringify(redactUrl(raw))}`, {
      hint: `for example ${flag} db=postgres://app@127.0.0.1:5432/app`,
    });
  }
  return [raw.slice(0, at), raw.slice(at + 1)];
}
