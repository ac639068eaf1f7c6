import type { CommandUsage } from '../command.js';

export const imageUsage: CommandUsage = {
  command: 'image <action>',
  describe: 'Build the helper / sidecar image: sh, nc and tar of this machine\'s static busybox, FROM scratch, with no registry',
  builder: (y) =>
    y
      .positional('action', { choices: ['build'] as const, describe: 'build: make the image on the Docker daemon (DOCKER_HOST)' })
      .option('tag', { type: 'string', describe: 'the image name (default holdfast/helper:busybox)' })
      .option('busybox', { type: 'string', describe: 'a static busybox to build from (default /bin/busybox; Debian: apt-get install busybox-static)' })
      .example('$0 image build && export HOLDFAST_SIDECAR_IMAGE=holdfast/helper:busybox', 'sidecars to engines in containers with no published port, without pulling an image')
      .epilogue('The image has busybox sh, nc (what a sidecar tunnel needs) and tar; busybox tar keeps owners and modes, not xattrs or ACLs, so for volume copies an image with GNU tar (HOLDFAST_HELPER_IMAGE) is better.'),
};
