import { HoldfastError } from '../../src/core/errors.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { helperText, requireImage } from '../../src/docker/docker-helper.js';
import { stateDir } from '../../src/core/state-dir.js';
import { runToolText } from '../../src/core/process.js';

/**
 * Which tar the helper image has, and what it keeps. Checked by running it
 * (`tar --version`, `tar --help`), once per image and process, and recorded
 * in the manifest. GNU tar keeps xattrs, ACLs and sparse files; busybox tar
 * keeps numeric owners, modes, symlinks and hard links but drops xattrs and
 * writes sparse files at full size (fixtures/images/README.md).
 */
export interface TarFlavor {
  image: string;
  kind: 'gnu' | 'busybox' | 'other';
  version: string;
  /** What it keeps, from its own --help: xattrs, acls, sparse, numeric-owner. */
  features: string[];
}

const cache = new Map<string, Promise<TarFlavor>>();

export function probeTar(api: DockerApi, image: string, service?: string): Promise<TarFlavor> {
  const key = `${api.host}#${image}`;
  let found = cache.get(key);
  if (!found) {
    found = probe(api, image, service);
    found.catch(() => cache.delete(key));
    cache.set(key, found);
  }
  return found;
}

/** Probes are kept on disk by image id: an image's tar does not change, and the probe costs a container. */
function cacheFile(): string {
  return join(stateDir(), 'tar-probes.json');
}

async function cached(id: string): Promise<Omit<TarFlavor, 'image'> | undefined> {
  try {
    return (JSON.parse(await readFile(cacheFile(), 'utf8')) as Record<string, Omit<TarFlavor, 'image'>>)[id];
  } catch {
    return undefined;
  }
}

async function remember(id: string, flavor: TarFlavor): Promise<void> {
  try {
    let all: Record<string, unknown> = {};
    try {
      all = JSON.parse(await readFile(cacheFile(), 'utf8')) as Record<string, unknown>;
    } catch {
      // first probe
    }
    all[id] = { kind: flavor.kind, version: flavor.version, features: flavor.features };
    await mkdir(stateDir(), { recursive: true, mode: 0o700 });
    const tmp = `${cacheFile()}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(all), { mode: 0o600 });
    await rename(tmp, cacheFile());
  } catch {
    // A cache only: the next run probes again.
  }
}

async function probe(api: DockerApi, image: string, service?: string): Promise<TarFlavor> {
  const id = await api.imageId(image);
  if (!id) await requireImage(api, image, service);
  const known = id ? await cached(id) : undefined;
  if (known) return { image, ...known };
  const found = await run(api, image, service);
  if (id) await remember(id, found);
  return found;
}

async function run(api: DockerApi, image: string, service?: string): Promise<TarFlavor> {
  // One shell for both calls; the script is fixed text, nothing from users reaches it.
  const out = await helperText(api, 'probe', { image, cmd: ['sh', '-c', 'tar --version 2>&1 | head -n 1; echo ---; tar --help 2>&1'], mounts: [] });
  const [first = '', help = ''] = out.stdout.split('\n---\n');
  if (out.exitCode !== 0 || !/tar/i.test(first + help)) {
    throw new HoldfastError('tool', `the helper image ${image} has no usable tar (sh or tar missing): ${out.stderr.trim().slice(0, 200)}`, {
      service,
      hint: 'set HOLDFAST_HELPER_IMAGE to an image with sh and tar (GNU tar keeps xattrs and sparse files), e.g. debian:stable-slim',
    });
  }
  return flavorOf(image, first, help);
}

/** The flavor from `tar --version` (its first line) and `tar --help`. */
function flavorOf(image: string, first: string, help: string): TarFlavor {
  const kind = /GNU tar/.test(first) ? 'gnu' : /busybox/i.test(first + help) ? 'busybox' : 'other';
  const features = ['xattrs', 'acls', 'sparse', 'numeric-owner'].filter((f) => help.includes(`--${f}`));
  // busybox accepts --numeric-owner without listing it (checked: 1.35 honours it on extract).
  if (kind === 'busybox' && !features.includes('numeric-owner')) features.push('numeric-owner');
  return { image, kind, version: first.trim(), features };
}

let hostTar: Promise<TarFlavor | undefined> | undefined;

/** The tar on this machine's PATH (`image` is `host`), or undefined when there is none; once per process. */
export function probeHostTar(): Promise<TarFlavor | undefined> {
  hostTar ??= (async () => {
    try {
      const [version, help] = await Promise.all([runToolText('tar', ['--version']), runToolText('tar', ['--help'])]);
      return flavorOf(HOST_TAR, version.split('\n')[0] ?? '', help);
    } catch {
      return undefined;
    }
  })();
  return hostTar;
}

/** The `image` of a flavor that is the host's own tar. */
export const HOST_TAR = 'host';

/** What a tar of this flavor drops, for a note in the manifest. */
export function droppedByFlavor(flavor: TarFlavor): string[] {
  const dropped: string[] = [];
  if (!flavor.features.includes('xattrs')) dropped.push('extended attributes');
  if (!flavor.features.includes('acls')) dropped.push('ACLs');
  if (!flavor.features.includes('sparse')) dropped.push('holes of sparse files (stored and restored at full size)');
  return dropped;
}

/** tar arguments to write the tree at `dir` to `file` (stdout by default); `extra` goes before the members (GNU only). */
export function createArgs(flavor: TarFlavor, dir: string, file = '-', extra: string[] = []): string[] {
  if (flavor.kind !== 'gnu') return ['tar', '-c', '-f', file, '-C', dir, '.'];
  const args = ['tar', '--create', `--file=${file}`, `--directory=${dir}`, '--numeric-owner', '--format=posix', '--pax-option=delete=atime,delete=ctime', ...extra];
  if (flavor.features.includes('xattrs')) args.push('--xattrs', '--xattrs-include=*');
  if (flavor.features.includes('acls')) args.push('--acls');
  if (flavor.features.includes('sparse')) args.push('--sparse');
  return [...args, '.'];
}

/** tar arguments to extract `file` (stdin by default) into `dir`, as root, keeping numeric owners and modes. */
export function extractArgs(flavor: TarFlavor, dir: string, file = '-'): string[] {
  if (flavor.kind !== 'gnu') return ['tar', '-x', '-f', file, '-C', dir, '--numeric-owner'];
  // --read-full-records: a named pipe hands out short reads, which GNU tar otherwise takes for a damaged archive.
  const args = ['tar', '--extract', `--file=${file}`, '--read-full-records', `--directory=${dir}`, '--numeric-owner', '--same-owner', '--preserve-permissions'];
  if (flavor.features.includes('xattrs')) args.push('--xattrs', '--xattrs-include=*');
  if (flavor.features.includes('acls')) args.push('--acls');
  return args;
}

/** Can a helper of `flavor` restore what `recorded` wrote without losing anything it kept? */
export function canRestore(recorded: { kind: string; features: string[] }, flavor: TarFlavor): string | undefined {
  if (recorded.kind === 'gnu' && flavor.kind !== 'gnu') return `the archive was written by GNU tar (pax format${recorded.features.includes('sparse') ? ', sparse files' : ''}); ${flavor.image} has ${flavor.kind} tar`;
  return undefined;
}
