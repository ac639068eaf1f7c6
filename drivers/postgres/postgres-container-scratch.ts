import { randomBytes } from 'node:crypto';
import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { HoldfastError, toHoldfastError } from '../../src/core/errors.js';
import { parseEndpoint } from '../../src/core/service.js';
import { waitFor } from '../../src/core/wait.js';
import type { DockerApi, StreamRun } from '../../src/docker/docker-api.js';
import { helperLabels } from '../../src/docker/docker-helper.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { removeLeftoverScratch, scratchVolumeLabels } from '../../src/docker/docker-scratch.js';

const DEFAULT_DATA = '/var/lib/postgresql/data';

/**
 * A restore test of a `pg_dump` snapshot of PostgreSQL in a container: a
 * throwaway container from the same image (so the same server and tools),
 * with a fresh volume `holdfast_scratch_<run>_pgdata` at the source's data
 * mount, no network, and trust on its own socket; the ordinary in-container
 * restore runs into it (globals included: it is a server of its own), and
 * cleanup removes the container and the volume. The container carries the
 * helper labels, so a holdfast killed meanwhile has it removed by the next
 * run, like any helper.
 */
export async function containerScratchTarget(ctx: ScratchContext): Promise<ScratchTarget> {
  const api = await dockerApi();
  await removeLeftoverScratch(api);
  const ref = ctx.source.container?.id ?? ctx.source.endpoint?.path;
  const source = ref ? await api.inspectContainer(ref) : undefined;
  if (!source) throw new HoldfastError('not-found', `the container of ${ctx.source.name} is gone: its image is what the restore test runs`, { service: ctx.source.name, driver: 'postgres', hint: 'check docker ps -a' });
  const dataAt = source.mounts.find((m) => m.type === 'volume' && m.destination.startsWith('/var/lib/postgresql'))?.destination ?? DEFAULT_DATA;
  const volume = `${ctx.prefix}pgdata`;
  const labels = scratchVolumeLabels(ctx.run, ctx.source.name);
  let run: StreamRun | undefined;
  const cleanup = async () => {
    if (run) {
      run.abort();
      await run.done.catch(() => undefined);
    }
    await removeVolume(api, volume);
  };
  try {
    await api.createVolume({ name: volume, labels });
    run = await api.run({
      image: source.image,
      cmd: [],
      imageEntrypoint: true,
      // A password nobody needs (the restore connects on the socket, where the image trusts): the image insists on one.
      env: [`POSTGRES_PASSWORD=${randomBytes(18).toString('base64url')}`],
      labels: { ...helperLabels('restore-test'), ...labels },
      mounts: [{ type: 'volume', source: volume, target: dataAt, readOnly: false }],
    });
    run.stdout.resume();
    const id = run.containerId!;
    const exited = run.done.then((exit) => {
      throw new HoldfastError('tool', `the throwaway ${source.image} container exited (${exit.exitCode}) before its server was ready: ${exit.stderr.trim().split('\n').slice(-3).join(' | ')}`, { service: ctx.source.name, driver: 'postgres' });
    });
    exited.catch(() => undefined);
    // TCP on its own loopback answers only once the image's init is done (its temporary server listens on the socket only).
    await Promise.race([exited, waitFor(`the throwaway ${source.image} container`, async () => ((await execCode(api, id, ['pg_isready', '-q', '-h', '127.0.0.1'])) === 0 ? true : undefined), { timeoutMs: 120_000, intervalMs: 300, signal: ctx.signal })]);
    return {
      target: { name: ctx.source.name, engine: 'postgres', endpoint: parseEndpoint(`container:${id}`, false, ctx.source.name), options: {}, origin: 'flag' },
      // throwaway: its working copies are not journaled, the container and its volume are (postgres-restore.ts).
      options: { throwaway: true },
      describe: `a throwaway ${source.image} container with volume ${volume}`,
      cleanup,
    };
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw toHoldfastError(error, { service: ctx.source.name, driver: 'postgres' });
  }
}

async function execCode(api: DockerApi, id: string, cmd: string[]): Promise<number | null> {
  const run = await api.exec(id, { cmd });
  run.stdout.resume();
  return (await run.done).exitCode;
}

/** A volume its container still holds for a moment after removal: a few retries. */
async function removeVolume(api: DockerApi, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.removeVolume(name);
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
