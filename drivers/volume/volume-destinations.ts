import { HoldfastError } from '../../src/core/errors.js';
import { renameOption, type RestoreContext } from '../../src/core/driver.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import type { RecordedVolume } from './volume-backup.js';

/** Where one archived mount is restored to. */
export interface Destination {
  recorded: RecordedVolume;
  type: 'volume' | 'bind';
  /** Volume name or host path. */
  source: string;
  /** Set once a non-empty destination may be emptied (--force). */
  wipe?: boolean;
}

/**
 * Maps each archived mount to its destination:
 * - in place (no --target): the volume or bind path it came from;
 * - `--target S=volume:NAME`: one archived mount into the volume NAME;
 * - `--target S=volume:OLD=NEW,/old/path=/new/path`: several, by source
 *   (a destination starting with `/` is a host directory);
 * - `--target S=container:NAME`: into the mounts of another container, matched
 *   by the path they are mounted at (the container is stopped meanwhile);
 * - `--target S=/absolute/dir`: one archived mount into a host directory;
 * - the restore option `rename` (a restore test): each archived mount, by
 *   source, into the named volume.
 */
export async function resolveDestinations(api: DockerApi, ctx: RestoreContext, recorded: RecordedVolume[]): Promise<Destination[]> {
  const service = ctx.source.name;
  const rename = renameOption(ctx.options);
  if (rename) {
    return recorded.map((r) => {
      const to = rename[r.source];
      if (!to) throw new HoldfastError('usage', `the restore option rename has no volume for ${r.source}`, { service });
      return { recorded: r, type: 'volume', source: to };
    });
  }
  const e = ctx.target.endpoint;
  if (ctx.inPlace || !e) return confirmedInPlace(ctx, recorded.map((r) => ({ recorded: r, type: r.type, source: r.source })));
  if (e.scheme === 'file') return [single(recorded, service, 'bind', e.path)];
  if (e.scheme === 'volume') {
    if (!e.path.includes('=')) return [single(recorded, service, 'volume', e.path)];
    const map = new Map(
      e.path.split(',').map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at), pair.slice(at + 1)] as const;
      }),
    );
    return recorded.map((r) => {
      const to = map.get(r.source);
      if (!to) {
        throw new HoldfastError('usage', `the target mapping has no destination for ${r.source}`, {
          service,
          hint: `map every archived mount: volume:${recorded.map((x) => `${x.source}=NEW`).join(',')}`,
        });
      }
      return { recorded: r, type: to.startsWith('/') ? 'bind' : 'volume', source: to };
    });
  }
  if (e.scheme === 'container') {
    const c = await api.inspectContainer(e.path);
    if (!c) throw new HoldfastError('not-found', `there is no container ${JSON.stringify(e.path)} on ${api.host}`, { service, hint: 'create it first (with its volumes), or restore into volumes: --target NAME=volume:NEW' });
    return recorded.map((r) => {
      const m = c.mounts.find((x) => x.destination === r.destination && (x.type === 'volume' || x.type === 'bind'));
      if (!m) {
        throw new HoldfastError('target', `container ${c.name} mounts nothing at ${r.destination}, where ${r.source} was mounted`, {
          service,
          hint: `create it with -v NEWVOLUME:${r.destination}, or restore into a volume: --target ${service}=volume:NEW`,
        });
      }
      return { recorded: r, type: m.type === 'bind' ? 'bind' : 'volume', source: m.source };
    });
  }
  throw new HoldfastError('usage', `a volume backup cannot be restored into ${e.scheme}: targets`, {
    service,
    hint: `use --target ${service}=volume:NEW, container:NAME or an absolute directory`,
  });
}

/**
 * In place, a bind mount's host path comes from the manifest, which is
 * untrusted input (a snapshot may come from another host or a bundle): it
 * is written to only when the current configuration names it too (a
 * container of the service mounts it now), or with --force; either way it
 * is shown.
 */
function confirmedInPlace(ctx: RestoreContext, destinations: Destination[]): Destination[] {
  const service = ctx.source.name;
  const mounted = (path: string) => [ctx.target, ctx.source].some((s) => s.container?.mounts.some((m) => m.type === 'bind' && m.source === path));
  const unnamed = destinations.filter((d) => d.type === 'bind' && !mounted(d.source)).map((d) => d.source);
  if (unnamed.length === 0) return destinations;
  const list = unnamed.join(', ');
  if (!ctx.force) {
    throw new HoldfastError('target', `the snapshot restores ${service} into the host path${unnamed.length > 1 ? 's' : ''} ${list}, which the current configuration does not name`, {
      service,
      hint: `check that this is where the data belongs, then pass --force to write there; or restore elsewhere: --target ${service}=volume:${destinations.map((d) => `${d.recorded.source}=${d.type === 'bind' ? '/new/dir' : 'NEW'}`).join(',')}`,
    });
  }
  ctx.note(`restoring into the host path${unnamed.length > 1 ? 's' : ''} ${list}, named by the snapshot only (--force)`);
  return destinations;
}

function single(recorded: RecordedVolume[], service: string, type: 'volume' | 'bind', source: string): Destination {
  if (recorded.length !== 1) {
    throw new HoldfastError('usage', `the snapshot holds ${recorded.length} mounts of ${service} (${recorded.map((r) => r.source).join(', ')}); one target cannot take them all`, {
      service,
      hint: `map each: --target ${service}=volume:${recorded.map((r) => `${r.source}=NEW`).join(',')}`,
    });
  }
  return { recorded: recorded[0]!, type, source };
}
