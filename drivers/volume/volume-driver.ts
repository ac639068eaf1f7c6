import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { helperImage } from '../../src/docker/docker-helper.js';
import { backupVolumes } from './volume-backup.js';
import { detectVolume, VOLUME_SCHEMES } from './volume-detect.js';
import { fingerprintMount } from './volume-fingerprint.js';
import { mountLabel, stateMounts } from './volume-mounts.js';
import { restoreVolumes } from './volume-restore.js';
import { isVolumeStrategy, volumeOffers } from './volume-strategies.js';
import { probeTar } from './volume-tar-flavor.js';
import { volumeScratchTarget } from './volume-scratch.js';

/**
 * Plain Docker volumes and bind mounts: the fallback for any container with
 * state, and the method for containers no engine driver claims. Quiesced tar
 * through a helper container (see volume-backup.ts).
 */
export const volumeDriver: Driver = {
  engine: 'volume',
  title: 'Docker volume',
  schemes: VOLUME_SCHEMES,

  detect: detectVolume,

  strategies(service) {
    return volumeOffers(service);
  },

  async inspect(service) {
    return { version: 'n/a', objects: stateMounts(service).map((m) => ({ name: mountLabel(m), kind: m.type })), details: {} };
  },

  async fingerprint(service, scope) {
    const api = await dockerApi();
    const flavor = await probeTar(api, helperImage(typeof service.options.helper_image === 'string' ? service.options.helper_image : undefined), service.name);
    const items: Record<string, { count: number; checksum: string }> = {};
    for (const m of stateMounts(service)) {
      const scan = await fingerprintMount(api, flavor, { type: m.type === 'bind' ? 'bind' : 'volume', source: m.source }, scope === 'full');
      items[mountLabel(m)] = { count: scan.entries, checksum: scan.checksum };
    }
    return { scope: 'full', items };
  },

  backup(ctx) {
    if (!isVolumeStrategy(ctx.strategy)) throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'volume' });
    return backupVolumes(ctx, ctx.strategy);
  },

  scratchTarget: volumeScratchTarget,

  restore(ctx) {
    if (!isVolumeStrategy(ctx.strategy)) throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'volume' });
    return restoreVolumes(ctx);
  },
};
