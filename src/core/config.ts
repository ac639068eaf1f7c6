import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { HoldfastError } from './errors.js';
import { parseConfigHooks } from './hooks.js';
import { assertServiceName, parseEndpoint, splitAssignment, type Service } from './service.js';

/**
 * holdfast.yml:
 *
 *   repo: ./holdfast-repo          # or --repo / HOLDFAST_REPO
 *   services:
 *     db:
 *       url: postgres://app@127.0.0.1:5432/app
 *       strategy: pg_dump          # optional pin
 *       databases: [app, audit]    # engine options
 *       timeout: 3600              # seconds
 *       password_file: /run/secrets/db   # or password_env: NAME
 *     search:
 *       url: container:shop-search-1
 *       place: sidecar             # host | container | sidecar (src/place/service-place.ts)
 *       sidecar_image: busybox     # the sidecar's image (sh + nc, or bash)
 *       port: 9200                 # the engine's port inside the container, when not its default
 *       secret_env: NAME           # or secret_file: PATH, inside the container: the password / api key
 *   docker:                      # Docker discovery, as --docker / --project / DOCKER_HOST
 *     host: unix:///var/run/docker.sock   # DOCKER_HOST wins when set
 *     project: shop              # only this compose project (--project wins)
 *     discover: true             # default true once a docker: section exists
 */
export interface HoldfastConfig {
  path?: string;
  repo?: string;
  services: Service[];
  docker?: DockerSettings;
  /** The whole parsed file, for sections only some commands read (serve's jobs:, serve:, notify:). */
  document?: Record<string, unknown>;
}

export interface DockerSettings {
  host?: string;
  project?: string;
  /** Add the services of the daemon's containers (as --docker). */
  discover: boolean;
}

export function loadConfig(explicitPath: string | undefined, serviceFlags: readonly string[]): HoldfastConfig {
  const path = explicitPath ?? process.env.HOLDFAST_CONFIG ?? (existsSync('holdfast.yml') ? 'holdfast.yml' : undefined);
  const config: HoldfastConfig = { services: [] };
  if (path) {
    config.path = path;
    const doc = readYaml(path);
    config.document = doc;
    if (doc.repo !== undefined) config.repo = String(doc.repo);
    if (doc.docker !== undefined && doc.docker !== null) config.docker = dockerSettings(doc.docker, path);
    const services = doc.services ?? {};
    if (typeof services !== 'object' || Array.isArray(services)) {
      throw new HoldfastError('config', `${path}: services must be a mapping of name to settings`, { hint: 'see the README for an example' });
    }
    for (const [name, raw] of Object.entries(services as Record<string, unknown>)) {
      config.services.push(serviceFromConfig(name, raw, path));
    }
  }
  for (const flag of serviceFlags) {
    const [name, url] = splitAssignment(flag, '--service');
    assertServiceName(name);
    const service: Service = { name, endpoint: parseEndpoint(url, false, name), options: {}, origin: 'flag' };
    const existing = config.services.findIndex((s) => s.name === name);
    if (existing >= 0) config.services[existing] = { ...config.services[existing]!, endpoint: service.endpoint, origin: 'flag' };
    else config.services.push(service);
  }
  return config;
}

const DOCKER_KEYS = ['host', 'project', 'discover'];

function dockerSettings(raw: unknown, path: string): DockerSettings {
  const hint = 'for example docker: { host: unix:///var/run/docker.sock, project: shop }';
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new HoldfastError('config', `${path}: docker must be a mapping (host, project, discover)`, { hint });
  const doc = raw as Record<string, unknown>;
  const unknown = Object.keys(doc).filter((k) => !DOCKER_KEYS.includes(k));
  if (unknown.length > 0) throw new HoldfastError('config', `${path}: docker has unknown settings ${unknown.join(', ')}`, { hint: `known: ${DOCKER_KEYS.join(', ')}; ${hint}` });
  const settings: DockerSettings = { discover: true };
  if (doc.host !== undefined) {
    const host = String(doc.host);
    if (!/^(unix:\/\/\/.+|tcp:\/\/[^/]+)$/.test(host)) throw new HoldfastError('config', `${path}: docker.host ${JSON.stringify(host)} is not a Docker address`, { hint: 'write unix:///path/to/docker.sock or tcp://host:2375' });
    settings.host = host;
  }
  if (doc.project !== undefined) {
    if (typeof doc.project !== 'string' || doc.project === '') throw new HoldfastError('config', `${path}: docker.project must be a compose project name`, { hint });
    settings.project = doc.project;
  }
  if (doc.discover !== undefined) {
    if (typeof doc.discover !== 'boolean') throw new HoldfastError('config', `${path}: docker.discover must be true or false`, { hint });
    settings.discover = doc.discover;
  }
  return settings;
}

/**
 * yaml is loaded only when there is a file to read: ~25 ms that runs without a
 * holdfast.yml (--service flags only, as in the benchmarks) need not pay. It is
 * a CommonJS package for Node, so require() loads the very module an import would.
 */
function parseYaml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return parse(text);
}

function readYaml(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new HoldfastError('config', `cannot read the configuration ${path}`, { hint: 'check the --config path', cause });
  }
  try {
    const doc = parseYaml(text);
    if (doc === null || doc === undefined) return {};
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the top level must be a mapping');
    return doc as Record<string, unknown>;
  } catch (cause) {
    throw new HoldfastError('config', `${path} is not valid YAML: ${(cause as Error).message}`, { hint: 'fix the file', cause });
  }
}

function serviceFromConfig(name: string, raw: unknown, path: string): Service {
  assertServiceName(name);
  const settings = typeof raw === 'string' ? { url: raw } : raw;
  if (typeof settings !== 'object' || settings === null) {
    throw new HoldfastError('config', `${path}: service ${name} must be a URL or a mapping`, { service: name });
  }
  const { url, engine, strategy, hooks, ...options } = settings as Record<string, unknown>;
  const service: Service = { name, options, origin: 'config' };
  // Kept out of options: options go into the manifest, and a manifest must never choose what runs.
  if (hooks !== undefined && hooks !== null) service.hooks = parseConfigHooks(hooks, name, path);
  if (url !== undefined) service.endpoint = parseEndpoint(String(url), true, name);
  if (engine !== undefined) service.engine = String(engine);
  if (strategy !== undefined) service.strategy = String(strategy);
  if (!service.endpoint && !service.engine) {
    throw new HoldfastError('config', `${path}: service ${name} has neither url nor engine`, { service: name, hint: 'add url: scheme://host:port/...' });
  }
  return service;
}

/** Picks services by name; an unknown name is a usage error that lists the known ones. */
export function selectServices(all: Service[], names: readonly string[]): Service[] {
  if (names.length === 0) return all;
  return names.map((name) => {
    const found = all.find((s) => s.name === name);
    if (!found) {
      throw new HoldfastError('usage', `no service named ${JSON.stringify(name)}`, {
        hint: all.length ? `configured: ${all.map((s) => s.name).join(', ')}` : 'define services in holdfast.yml or with --service NAME=URL',
      });
    }
    return found;
  });
}
