import { formatBytes } from '../../core/progress.js';
import type { HoldfastCommand } from '../command.js';
import { applyDockerHost } from '../docker-context.js';
import { imageUsage } from './image-usage.js';

/** `holdfast image build`: docker-image-build.ts does the work; this prints what was built and how to use it. */
export const imageCommand: HoldfastCommand = {
  ...imageUsage,
  async run(ctx, args) {
    applyDockerHost(ctx.config.docker);
    const [{ dockerApi }, { buildHelperImage }] = await Promise.all([import('../../docker/docker-lazy.js'), import('../../docker/docker-image-build.js')]);
    const api = await dockerApi();
    const built = await buildHelperImage(api, {
      ...(typeof args.tag === 'string' ? { tag: args.tag } : {}),
      ...(typeof args.busybox === 'string' ? { busybox: args.busybox } : {}),
    });
    if (ctx.out.json) {
      ctx.out.document({ status: 'ok', ...built, docker: { host: api.host } });
      return 0;
    }
    ctx.out.line(`built ${built.image} (${built.id.slice(0, 19)}) on ${api.host}: ${built.busybox}, ${built.applets} applets, ${formatBytes(built.bytes)}`);
    ctx.out.line(`use it for sidecars: export HOLDFAST_SIDECAR_IMAGE=${built.image} (or the label holdfast.sidecar-image=${built.image})`);
    return 0;
  },
};
