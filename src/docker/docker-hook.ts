/**
 * Runs a hook inside the service's own container through `docker exec`, with
 * the hook's environment passed as exec Env (never argv). Docker cannot kill
 * an exec: at its timeout holdfast stops waiting and reports it; the command
 * may still be running in the container.
 */
import type { HookCommand, HookExit } from '../core/hooks.js';
import { HoldfastError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import { dockerApi } from './docker-lazy.js';

export async function runContainerHook(command: HookCommand, env: Record<string, string>, service: Service): Promise<HookExit> {
  const container = service.container;
  if (!container) {
    throw new HoldfastError('config', `a hook of ${service.name} runs in: container, but the service has no container`, {
      service: service.name,
      hint: 'use a container:NAME url (or Docker discovery) for it, or run the hook on the host (in: host)',
    });
  }
  const api = await dockerApi();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, command.timeoutMs);
  try {
    const run = await api.exec(container.id, { cmd: command.argv, env: Object.entries(env).map(([k, v]) => `${k}=${v}`), signal: controller.signal });
    run.stdout.resume();
    const exit = await run.done;
    return { code: exit.exitCode, timedOut, stderr: exit.stderr };
  } finally {
    clearTimeout(timer);
  }
}
