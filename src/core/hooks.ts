/**
 * Hooks: commands run before and after a service's backup or restore, from
 * holdfast.yml (`services: NAME: hooks:`) on the host, or from its
 * container's labels (`holdfast.pre-backup`, ...) inside that container.
 *
 *   hooks:
 *     timeout: 60s                       # default for this service's hooks (60s)
 *     pre-backup: [pg_isready, -q]       # an argv array: spawned as is, no shell
 *     post-backup: "curl -fsS https://hc.example/ping/$HOLDFAST_STATUS"   # a string: run by /bin/sh -c
 *     pre-restore: { run: [systemctl, stop, app], timeout: 5m }
 *     post-restore: { run: "supervisorctl start app", in: container }    # in the service's container
 *
 * A failing pre-hook fails the service and nothing of it is stored (or its
 * target is left alone); a post-hook runs whatever happened and learns the
 * outcome from HOLDFAST_HOOK_PHASE, HOLDFAST_SERVICE, HOLDFAST_STATUS
 * (ok|failed), HOLDFAST_SNAPSHOT and HOLDFAST_ERROR. Nothing is ever added to
 * a hook's argv: no password, no name from a snapshot.
 */
import { HoldfastError } from './errors.js';
import { parseDuration } from './duration.js';
import { lastLines } from './process.js';
import type { Service } from './service.js';

export const HOOK_PHASES = ['pre-backup', 'post-backup', 'pre-restore', 'post-restore'] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];

export interface HookCommand {
  /** argv: the first word is the program; a string hook is [/bin/sh, -c, STRING]. */
  argv: string[];
  where: 'host' | 'container';
  timeoutMs: number;
  /** For messages: `holdfast.yml` or `label holdfast.pre-backup`. */
  from: string;
}

export type ServiceHooks = Partial<Record<HookPhase, HookCommand>>;

export const DEFAULT_HOOK_TIMEOUT_MS = 60_000;

/** What a hook run ended with. */
export interface HookExit {
  code: number | null;
  timedOut: boolean;
  stderr: string;
  /** A timed-out hook: what became of its processes (`was killed in the container (2 processes)`); default `was stopped`. */
  stopped?: string;
}

/** Runs one command; hook-host.ts on this machine, docker-hook.ts in the service's container. */
export type HookRunner = (command: HookCommand, env: Record<string, string>, service: Service) => Promise<HookExit>;

/** Parses `hooks:` of one service in holdfast.yml; a mistake is a config error naming the service and the fix. */
export function parseConfigHooks(raw: unknown, service: string, path: string): ServiceHooks {
  const fail = (what: string) =>
    new HoldfastError('config', `${path}: service ${service}: ${what}`, {
      service,
      hint: 'write hooks: { pre-backup: [program, arg, ...], post-backup: "shell command", timeout: 60s } (pre-/post-backup, pre-/post-restore; a string runs with /bin/sh -c)',
    });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail('hooks must be a mapping of phase to command');
  const doc = raw as Record<string, unknown>;
  const unknown = Object.keys(doc).filter((k) => k !== 'timeout' && !(HOOK_PHASES as readonly string[]).includes(k));
  if (unknown.length) throw fail(`hooks has unknown settings ${unknown.join(', ')}`);
  const timeout = (value: unknown, what: string) => {
    try {
      const ms = parseDuration(value, what);
      if (ms <= 0) throw new Error();
      return ms;
    } catch {
      throw fail(`${what} ${JSON.stringify(value)} is not a duration (e.g. 60s, 5m)`);
    }
  };
  const fallback = doc.timeout === undefined ? DEFAULT_HOOK_TIMEOUT_MS : timeout(doc.timeout, 'hooks.timeout');
  const hooks: ServiceHooks = {};
  for (const phase of HOOK_PHASES) {
    const value = doc[phase];
    if (value === undefined || value === null) continue;
    const mapping = typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { run: value };
    const extra = Object.keys(mapping).filter((k) => !['run', 'in', 'timeout'].includes(k));
    if (extra.length) throw fail(`hooks.${phase} has unknown settings ${extra.join(', ')} (known: run, in, timeout)`);
    const argv = commandArgv(mapping.run);
    if (!argv) throw fail(`hooks.${phase} must be a non-empty argv array of strings, or a string for /bin/sh -c`);
    const where = mapping.in ?? 'host';
    if (where !== 'host' && where !== 'container') throw fail(`hooks.${phase}.in must be host or container`);
    hooks[phase] = { argv, where, timeoutMs: mapping.timeout === undefined ? fallback : timeout(mapping.timeout, `hooks.${phase}.timeout`), from: 'holdfast.yml' };
  }
  return hooks;
}

function commandArgv(run: unknown): string[] | undefined {
  if (typeof run === 'string') return run.trim() ? ['/bin/sh', '-c', run] : undefined;
  if (Array.isArray(run) && run.length > 0 && run.every((a) => typeof a === 'string') && run[0] !== '') return run as string[];
  return undefined;
}

/**
 * The hooks of a container's labels, run inside it: `holdfast.pre-backup=CMD`
 * (a string for /bin/sh -c, or a JSON array of argv), `holdfast.hook-timeout=60s`.
 */
export function labelHooks(service: Service): ServiceHooks {
  const labels = service.container?.labels ?? {};
  const fail = (what: string) =>
    new HoldfastError('config', `container ${service.container?.name} has ${what}`, {
      service: service.name,
      hint: 'write holdfast.pre-backup=shell command (run by /bin/sh -c in the container) or a JSON array such as ["redis-cli","save"]; holdfast.hook-timeout=60s',
    });
  let timeoutMs = DEFAULT_HOOK_TIMEOUT_MS;
  const rawTimeout = labels['holdfast.hook-timeout'];
  if (rawTimeout !== undefined) {
    try {
      timeoutMs = parseDuration(rawTimeout, 'holdfast.hook-timeout');
    } catch {
      throw fail(`holdfast.hook-timeout=${JSON.stringify(rawTimeout)}, which is not a duration`);
    }
  }
  const hooks: ServiceHooks = {};
  for (const phase of HOOK_PHASES) {
    const raw = labels[`holdfast.${phase}`];
    if (raw === undefined || raw.trim() === '') continue;
    let argv: string[] | undefined;
    if (raw.trim().startsWith('[')) {
      try {
        argv = commandArgv(JSON.parse(raw));
      } catch {
        argv = undefined;
      }
    } else argv = commandArgv(raw);
    if (!argv) throw fail(`holdfast.${phase}=${JSON.stringify(raw)}, which is not a command`);
    hooks[phase] = { argv, where: 'container', timeoutMs, from: `label holdfast.${phase}` };
  }
  return hooks;
}

/** The commands of one phase: holdfast.yml's first, then the container label's. */
export function hooksFor(service: Service, phase: HookPhase): HookCommand[] {
  return [service.hooks?.[phase], labelHooks(service)[phase]].filter((h): h is HookCommand => h !== undefined);
}

export interface HookFacts {
  snapshot: string;
  /** Post-hooks only: how the phase went. */
  status?: 'ok' | 'failed';
  error?: string;
}

/** The environment a hook learns its situation from (on top of holdfast's own). */
export function hookEnv(service: Service, phase: HookPhase, facts: HookFacts): Record<string, string> {
  const env: Record<string, string> = { HOLDFAST_HOOK_PHASE: phase, HOLDFAST_SERVICE: service.name, HOLDFAST_SNAPSHOT: facts.snapshot };
  if (facts.status) env.HOLDFAST_STATUS = facts.status;
  if (facts.error) env.HOLDFAST_ERROR = facts.error;
  return env;
}

/** Runs the hooks of one phase in order; the first that fails throws a HoldfastError naming the service, the hook and why. */
export async function runHooks(service: Service, phase: HookPhase, facts: HookFacts): Promise<void> {
  for (const command of hooksFor(service, phase)) {
    const env = hookEnv(service, phase, facts);
    const runner: HookRunner = command.where === 'host' ? (await import('./hook-host.js')).runHostHook : (await import('../docker/docker-hook.js')).runContainerHook;
    const exit = await runner(command, env, service);
    if (exit.code === 0 && !exit.timedOut) continue;
    const how = exit.timedOut ? `did not finish within ${formatSeconds(command.timeoutMs)} and ${exit.stopped ?? 'was stopped'}` : `exited with status ${exit.code}`;
    const tail = lastLines(exit.stderr, 6);
    const where = command.where === 'container' ? ` in container ${service.container?.name}` : '';
    throw new HoldfastError(exit.timedOut ? 'timeout' : 'hook', `${phase} hook (${command.from}: ${command.argv[0]}${where}) ${how}${tail ? `: ${tail}` : ''}`, {
      service: service.name,
      hint: phase.startsWith('pre-')
        ? `fix the hook or remove it; nothing of ${service.name} was ${phase === 'pre-backup' ? 'stored' : 'restored'}`
        : exit.timedOut
          ? 'raise the hook timeout (hooks.timeout, or holdfast.hook-timeout) or make the hook faster'
          : 'fix the hook; the data itself was handled as reported',
    });
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Runs a post-hook phase; a failure does not change the outcome it reports on, it comes back as a note. */
export async function runPostHooks(service: Service, phase: HookPhase, facts: HookFacts): Promise<string | undefined> {
  try {
    await runHooks(service, phase, facts);
    return undefined;
  } catch (error) {
    const message = error instanceof HoldfastError ? error.message : String((error as Error)?.message ?? error);
    return `${message.replace(/ hook /, ' hook FAILED ')}`;
  }
}
