import { resolve } from 'node:path';
import { loadConfig, type HoldfastConfig } from '../core/config.js';
import { HoldfastError } from '../core/errors.js';
import type { DriverRegistry } from '../core/registry.js';
import { DirRepository } from '../repository/dir-repository.js';
import { LazyRepository } from '../repository/lazy-repository.js';
import type { RepositorySecrets } from '../repository/repository-key.js';
import type { Repository } from '../repository/repository.js';
import { lazyS3Repository } from '../repository/s3/s3-lazy.js';
import { isS3Location } from '../repository/s3/s3-location.js';
import { createOutput, type Output } from './output.js';
import { repositorySecrets } from './repository-secrets.js';

/** Flags every command accepts. */
export interface GlobalFlags {
  config?: string;
  repo?: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  service: string[];
  keyFile?: string;
}

/** What a command handler works with: output, configuration, repository, drivers, and a stop signal. */
export interface CommandContext {
  out: Output;
  config: HoldfastConfig;
  /** The drivers, loaded on first use: listing or showing snapshots needs none (~30 ms with their Docker helpers). */
  drivers(): Promise<DriverRegistry>;
  signal: AbortSignal;
  repository(): Repository;
}

export function buildContext(flags: GlobalFlags, signal: AbortSignal): CommandContext {
  const out = createOutput(flags);
  const config = loadConfig(flags.config, flags.service ?? []);
  let drivers: Promise<DriverRegistry> | undefined;
  return {
    out,
    config,
    drivers: () => (drivers ??= import('../../drivers/index.js').then(({ defaultRegistry }) => defaultRegistry())),
    signal,
    repository: () => openRepository(repositoryLocation(flags.repo, config.repo), repositorySecrets(flags.keyFile)),
  };
}

/**
 * Where the repository is: --repo, HOLDFAST_REPO or the config's repo:, in
 * that order. Never a default: a backup run by cron in whatever directory
 * must not land in a repository nobody named.
 */
export function repositoryLocation(flag: string | undefined, configured: string | undefined): string {
  const named = [flag, process.env.HOLDFAST_REPO, configured].find((v) => v !== undefined && v !== '');
  if (named === undefined) {
    throw new HoldfastError('config', 'no repository named', {
      hint: 'pass --repo PATH (or s3://bucket/prefix, or restic:REPO), set HOLDFAST_REPO, or add repo: to holdfast.yml; holdfast no longer falls back to ./holdfast-repo',
    });
  }
  return named;
}

function openRepository(location: string, secrets: RepositorySecrets): Repository {
  if (isS3Location(location)) return lazyS3Repository(location);
  if (location.startsWith('restic:')) {
    const restic = location.slice('restic:'.length);
    if (!restic) throw new HoldfastError('config', 'repository restic: names no restic repository', { hint: 'e.g. --repo restic:/srv/restic-repo or --repo restic:sftp:user@host:/srv/restic-repo' });
    return new LazyRepository(`restic:${restic.replace(/:\/\/[^/@\s]*@/g, '://***@')}`, async () => {
      const { ResticRepository } = await import('../repository/restic-repository.js');
      return new ResticRepository(/^[a-z][a-z0-9+]*:/.test(restic) ? restic : resolve(restic));
    });
  }
  if (/^[a-z][a-z0-9+]*:/.test(location) && !location.startsWith('file:')) {
    throw new HoldfastError('config', `repository ${location}: this kind of repository is not supported in this version`, {
      hint: 'use a path (e.g. --repo /var/backups/holdfast), s3://bucket/prefix, or restic:<restic repository>',
    });
  }
  return new DirRepository(resolve(location.replace(/^file:/, '')), secrets);
}
