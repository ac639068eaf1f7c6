/**
 * Runs a hook inside the service's own container through `docker exec`, with
 * the hook's environment passed as exec Env (never argv). Docker cannot kill
 * an exec, so each run carries a random HOLDFAST_HOOK_RUN marker in its
 * environment (its children inherit it): at the timeout a second exec, as
 * root in the same container, kills every process whose environment holds
 * that marker (needs sh, tr and grep there, as any shell hook does).
 */
import { randomBytes } from 'node:crypto';
import type { HookCommand, HookExit } from '../core/hooks.js';
import { HoldfastError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import type { DockerApi } from './docker-api.js';
import { dockerApi } from './docker-lazy.js';

/** Kills (KILL) the processes whose environment holds HOLDFAST_HOOK_RUN=$1 and prints how many; its own env has no marker. */
const KILL_SCRIPT = [
  'n=0',
  'for d in /proc/[0-9]*; do',
  '  p=${d#/proc/}',
  '  if tr "\\000" "\\n" < "$d/environ" 2>/dev/null | grep -qxF "HOLDFAST_HOOK_RUN=$1"; then kill -KILL "$p" 2>/dev/null && n=$((n+1)); fi',
  'done',
  'echo "$n"',
].join('\n');

export async function runContainerHook(command: HookCommand, env: Record<string, string>, service: Service): Promise<HookExit> {
  const container = service.container;
  if (!container) {
    throw new HoldfastError('config', `a hook of ${service.name} runs in: container, but the service has no container`, {
      service: service.name,
      hint: 'use a container:NAME url (or Docker discovery) for it, or run the hook on the host (in: host)',
    });
  }
  const api = await dockerApi();
  const marker = randomBytes(8).toString('hex');
  const controller = new AbortController();
  let timedOut = false;
  let onTimeout: () => void = () => undefined;
  const timeout = new Promise<void>((resolve) => (onTimeout = resolve));
  const timer = setTimeout(() => {
    timedOut = true;
    onTimeout();
  }, command.timeoutMs);
  try {
    const envList = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), `HOLDFAST_HOOK_RUN=${marker}`];
    const run = await api.exec(container.id, { cmd: command.argv, env: envList, signal: controller.signal });
    run.stdout.resume();
    const exit = await Promise.race([run.done, timeout.then(() => undefined)]);
    if (exit && !timedOut) return { code: exit.exitCode, timedOut: false, stderr: exit.stderr };
    const stopped = await killMarked(api, container.id, marker);
    controller.abort();
    run.abort();
    return { code: null, timedOut: true, stderr: '', stopped };
  } finally {
    clearTimeout(timer);
  }
}

/** What became of a timed-out hook's processes, for the service's error. */
async function killMarked(api: DockerApi, containerId: string, marker: string): Promise<string> {
  try {
    const kill = await api.exec(containerId, { cmd: ['sh', '-c', KILL_SCRIPT, 'holdfast-hook-kill', marker], user: '0' });
    let out = '';
    kill.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exit = await kill.done;
    const count = Number.parseInt(out.trim(), 10);
    if (exit.exitCode !== 0 || !Number.isFinite(count)) return `could not be killed in the container (sh, tr and grep are needed there): ${exit.stderr.trim() || `exit ${exit.exitCode}`}`;
    return `was killed in the container (${count} process${count === 1 ? '' : 'es'})`;
  } catch (error) {
    return `could not be killed in the container: ${(error as Error).message}`;
  }
}
