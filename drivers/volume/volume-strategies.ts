import type { OfferPlace, Requirement, StrategyOffer } from '../../src/core/driver.js';
import { toHoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { helperImage } from '../../src/docker/docker-helper.js';
import { localTarWithoutHelper } from './volume-local-tar.js';
import { droppedByFlavor, probeTar, type TarFlavor } from './volume-tar-flavor.js';
import { findWriters, mountLabel, quiesceLabel, stateMounts } from './volume-mounts.js';

/** The volume strategies and how each holds the writers. */
export const VOLUME_STRATEGIES = { tar: 'stop', 'tar-pause': 'pause', 'tar-live': 'none' } as const;
export type VolumeStrategy = keyof typeof VOLUME_STRATEGIES;

export function isVolumeStrategy(name: string): name is VolumeStrategy {
  return name in VOLUME_STRATEGIES;
}

/** Where the tar of the volumes runs, and why (StrategyOffer.place, details.place): this machine's tar, else a helper container. */
export function volumePlace(local: TarFlavor | undefined, helper?: TarFlavor): OfferPlace {
  if (local) return { kind: 'host', where: 'on this host', reason: `the daemon's files are here and ${local.version} reads them (no helper)` };
  return { kind: 'sidecar', where: `in a helper container of ${helper!.image}`, reason: `${helper!.version} reads the volumes, mounted read-only` };
}

/**
 * `tar` (writers stopped: quiesced), `tar-pause` (writers frozen:
 * crash-consistent, fine only for engines that recover from a crash with all
 * their state on the copied volumes), `tar-live` (nothing held: inconsistent,
 * never chosen unless pinned). A writer labelled holdfast.quiesce=pause rules
 * out `tar`; holdfast.quiesce=none rules out both holds.
 */
export async function volumeOffers(service: Service): Promise<StrategyOffer[]> {
  const api = await dockerApi();
  const mounts = stateMounts(service);
  const names = mounts.map(mountLabel).join(', ') || 'none';
  const common: Requirement[] = [
    { what: 'a read-write volume or bind mount', met: mounts.length > 0, detail: names, hint: 'mount the data as a volume; read-only mounts are not state' },
  ];
  const image = helperImage(typeof service.options.helper_image === 'string' ? service.options.helper_image : undefined);
  // Use no helper when none is needed: the daemon's files are here and this machine's GNU tar reads them (as the backup does).
  const local = mounts.length > 0 ? await localTarWithoutHelper(api, service, mounts) : undefined;
  let place: OfferPlace;
  try {
    const flavor = await probeTar(api, image, service.name);
    const dropped = droppedByFlavor(flavor);
    common.push({ what: `tar in the helper image ${image}`, met: true, detail: `${flavor.version}${dropped.length ? `; drops ${dropped.join(', ')}` : ''}` });
    place = volumePlace(local, flavor);
  } catch (error) {
    const e = toHoldfastError(error);
    if (local) common.push({ what: 'tar on this machine (no helper needed)', met: true, detail: `${local.version}; the helper image ${image} is not on the daemon, a restore needs it` });
    else common.push({ what: `tar in the helper image ${image}`, met: false, detail: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    place = local ? volumePlace(local) : { kind: 'sidecar', where: `in a helper container of ${image}`, reason: 'the image is not on the daemon' };
  }
  const writers = await findWriters(api, mounts, service);
  // A writer's own label wins; `quiesce:` in holdfast.yml covers the rest.
  const effective = (w: (typeof writers)[number]) => quiesceLabel(w) ?? (typeof service.options.quiesce === 'string' ? service.options.quiesce : 'stop');
  const labelled = (values: string[]) => writers.filter((w) => values.includes(effective(w)));
  const writerList = writers.map((w) => w.name).join(', ') || 'none running';
  const noStop = labelled(['pause', 'none']);
  const noPause = labelled(['none']);
  return [
    {
      name: 'tar',
      consistency: 'quiesced',
      summary: `tar of ${names} with the writers stopped`,
      requirements: [
        ...common,
        { what: 'every writer may be stopped', met: noStop.length === 0, detail: noStop.length ? noStop.map((w) => `${w.name} has quiesce=${effective(w)}`).join(', ') : `writers: ${writerList}`, hint: 'remove the holdfast.quiesce label to allow a stop' },
      ],
      place,
      restoresIntoNewer: false,
      physical: true,
    },
    {
      name: 'tar-pause',
      consistency: 'crash-consistent',
      summary: `tar of ${names} with the writers paused`,
      requirements: [
        ...common,
        { what: 'every writer may be paused', met: noPause.length === 0, detail: noPause.length ? noPause.map((w) => `${w.name} has quiesce=none`).join(', ') : `writers: ${writerList}`, hint: 'remove the holdfast.quiesce=none label to allow a pause' },
      ],
      place,
      restoresIntoNewer: false,
      physical: true,
    },
    {
      name: 'tar-live',
      consistency: 'inconsistent',
      summary: `tar of ${names} while the writers run (a live copy)`,
      requirements: common,
      place,
      restoresIntoNewer: false,
      physical: true,
    },
  ];
}

/** The volume offers of a fallback, each summary saying why the engine's own method was passed over. */
export function fallingBackBecause(offers: readonly StrategyOffer[], why: string): StrategyOffer[] {
  return offers.map((o) => ({ ...o, summary: `${o.summary} (${why})` }));
}
