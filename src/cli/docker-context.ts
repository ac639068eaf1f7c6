import type { DockerSettings } from '../core/config.js';
import type { Service } from '../core/service.js';
import type { DiscoveredStack } from '../docker/docker-discovery.js';
import { journalFiles, rollbackFiles } from '../docker/docker-journal.js';
import type { CommandContext } from './context.js';

/** Docker-related flags every command accepts. */
export interface DockerFlags {
  docker?: boolean;
  project?: string;
}

const stacks = new WeakMap<CommandContext, DiscoveredStack>();

/** The stack discovery found for this command, if it ran. */
export function dockerStackOf(ctx: CommandContext): DiscoveredStack | undefined {
  return stacks.get(ctx);
}

/**
 * Discovery is opt-in: --docker, --project NAME, HOLDFAST_DOCKER=1 or a
 * `docker:` section in holdfast.yml, so that a plain run never backs up a
 * whole Docker host by surprise. `--docker=false` turns it off.
 */
export function dockerWanted(flags: DockerFlags, settings?: DockerSettings): boolean {
  if (flags.docker === false) return false;
  return !!flags.docker || !!flags.project || /^(1|true|yes)$/i.test(process.env.HOLDFAST_DOCKER ?? '') || !!settings?.discover;
}

/**
 * holdfast.yml's docker.host stands in for DOCKER_HOST when that is not set,
 * for discovery and for every driver's Docker work in this run (the
 * environment wins, as for every setting: flags, then environment, then file).
 */
export function applyDockerHost(settings?: DockerSettings): void {
  if (settings?.host && !process.env.DOCKER_HOST) process.env.DOCKER_HOST = settings.host;
}

/**
 * Runs before every command:
 * 1. resumes containers that a run which died left stopped or paused, and says so;
 * 2. with discovery on, merges the discovered services into the configured ones;
 * 3. fills in the container of configured `container:NAME` services.
 * Costs nothing (no Docker connection) when none of this applies.
 */
export async function prepareDocker(ctx: CommandContext, flags: DockerFlags): Promise<void> {
  // dockerode costs ~170 ms to load: only when there is Docker work to do.
  if ((await journalFiles()).length > 0 || (await rollbackFiles()).length > 0) {
    const { resumeLeftovers } = await import('../docker/docker-resume.js');
    await resumeLeftovers((line) => process.stderr.write(`${line}\n`));
  }
  applyDockerHost(ctx.config.docker);
  const wanted = dockerWanted(flags, ctx.config.docker);
  const project = flags.project ?? ctx.config.docker?.project;
  const lookups = ctx.config.services.some((s) => s.endpoint?.scheme === 'container' && !s.container);
  if (!wanted && !lookups) return;
  const [{ connectDocker }, { discoverStack }, { mergeServices, resolveContainerService, stackServices }] = await Promise.all([
    import('../docker/docker-client.js'),
    import('../docker/docker-discovery.js'),
    import('../docker/docker-services.js'),
  ]);
  const api = connectDocker();
  const registry = await ctx.drivers();
  const detect = (c: Parameters<typeof registry.detect>[0]) => registry.detect(c);
  let discovered: Service[] = [];
  if (wanted) {
    const stack = await discoverStack(api, detect, project ? { project } : {});
    stacks.set(ctx, stack);
    discovered = stackServices(stack);
  }
  const merged = mergeServices(ctx.config.services, discovered);
  ctx.config.services = await Promise.all(merged.map((s) => resolveContainerService(api, s, detect)));
}
