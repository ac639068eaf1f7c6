import { chmod, copyFile, mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoldfastError } from '../core/errors.js';
import { runTool } from '../core/process.js';
import type { DockerApi } from './docker-api.js';
import { BUILT_HELPER_IMAGE } from './docker-helper.js';

/**
 * `holdfast image build`: a tiny helper / sidecar image made FROM scratch
 * of this machine's static busybox (Debian's busybox-static), built
 * through the Docker API's build endpoint with no network and no
 * registry. It has sh, nc (for sidecar tunnels) and busybox tar (which
 * keeps owners and modes, not xattrs or ACLs: for volumes GNU tar is better).
 */
export const DEFAULT_IMAGE_TAG = BUILT_HELPER_IMAGE;

export interface BuiltImage {
  image: string;
  id: string;
  /** `BusyBox v1.36.1 (Debian 1:1.36.1-9)` */
  busybox: string;
  applets: number;
  bytes: number;
}

const INSTALL_HINT = 'install a static busybox (Debian/Ubuntu: apt-get install busybox-static) or name one with --busybox PATH';

export async function buildHelperImage(api: DockerApi, options: { tag?: string; busybox?: string } = {}): Promise<BuiltImage> {
  const tag = options.tag ?? DEFAULT_IMAGE_TAG;
  const busybox = options.busybox ?? '/bin/busybox';
  await assertStatic(busybox);
  const version = (await hostText(busybox, [])).split('\n')[0]!.replace(/ multi-call binary\.?$/, '').trim();
  const applets = (await hostText(busybox, ['--list'])).split('\n').map((a) => a.trim()).filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  const dir = await mkdtemp(join(tmpdir(), 'holdfast-image-'));
  try {
    const root = join(dir, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'root']) await mkdir(join(root, d), { recursive: true });
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile(busybox, join(root, 'bin', 'busybox'));
    await chmod(join(root, 'bin', 'busybox'), 0o755);
    for (const a of applets) await symlink('busybox', join(root, 'bin', a)).catch(() => undefined);
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    await writeFile(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    await writeFile(join(dir, 'Dockerfile'), ['# holdfast image build: sh, nc and tar of a static busybox, nothing else.', 'FROM scratch', 'COPY rootfs/ /', 'ENV PATH=/bin', 'CMD ["sh"]', ''].join('\n'));
    // The build context as a tar stream, written by this machine's tar (argument array, no shell).
    const tar = runTool('tar', ['-C', dir, '--numeric-owner', '-cf', '-', 'Dockerfile', 'rootfs'], { stdout: 'pipe' });
    const id = await api.buildImage(tar.stdout!, { tag, labels: { 'holdfast.image': 'helper', 'holdfast.busybox': version } });
    const exit = await tar.done;
    if (exit.code !== 0) throw new HoldfastError('tool', `tar of the build context failed (exit ${exit.code}): ${exit.stderr.trim()}`, { hint: 'holdfast image build needs tar on this machine' });
    return { image: tag, id, busybox: version, applets: applets.length, bytes: (await stat(busybox)).size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A static ELF (no PT_INTERP program header): it runs in an image with no libc. */
async function assertStatic(path: string): Promise<void> {
  const file = await open(path, 'r').catch((cause: unknown) => {
    throw new HoldfastError('not-found', `there is no busybox at ${path}`, { hint: INSTALL_HINT, cause });
  });
  try {
    const head = Buffer.alloc(64);
    await file.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) throw new HoldfastError('config', `${path} is not a 64-bit ELF program`, { hint: INSTALL_HINT });
    const little = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const phoff = Number(little ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32));
    const size = u16(head, 54);
    const count = u16(head, 56);
    const table = Buffer.alloc(size * count);
    await file.read(table, 0, table.length, phoff);
    for (let i = 0; i < count; i++) {
      const type = little ? table.readUInt32LE(i * size) : table.readUInt32BE(i * size);
      if (type === 3) throw new HoldfastError('config', `${path} is linked dynamically, so it cannot run in an image with no libc`, { hint: INSTALL_HINT });
    }
  } finally {
    await file.close();
  }
}

async function hostText(command: string, args: string[]): Promise<string> {
  const run = runTool(command, args, { stdout: 'pipe' });
  let out = '';
  run.stdout!.setEncoding('utf8');
  run.stdout!.on('data', (d: string) => (out += d));
  await run.done;
  return out;
}
