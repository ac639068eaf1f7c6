import { HoldfastError } from '../../core/errors.js';
import type { Repository } from '../repository.js';
import { parseS3Location } from './s3-location.js';

/**
 * An s3:// repository whose module (and the AWS SDK, ~0.5 s to import) is
 * loaded on first use, so that commands on a local repository never pay for
 * it. The location is checked at once: a malformed one is a usage error
 * before anything runs.
 */
export function lazyS3Repository(location: string): Repository {
  const where = parseS3Location(location);
  const shown = location.replace(/\/+$/, '');
  let real: Repository | undefined;
  let loading: Promise<Repository> | undefined;
  const load = () =>
    (loading ??= import('./s3-repository.js').then((m) => {
      real = new m.S3Repository(shown, where);
      return real;
    }));
  const opened = () => {
    if (!real) throw new HoldfastError('internal', 'repository used before open()');
    return real;
  };
  return {
    location: shown,
    init: async (options) => {
      if (options?.encrypt) {
        throw new HoldfastError('usage', `encryption at rest is not available for S3 repositories in this version (${location})`, {
          hint: 'use server-side encryption of the bucket, or an encrypted directory repository (holdfast init --encrypt --repo PATH)',
        });
      }
      return (await load()).init();
    },
    open: async (options) => (await load()).open(options),
    lock: (command, options) => opened().lock(command, options),
    beginSnapshot: async (command, options) => (await load()).beginSnapshot(command, options),
    list: async () => (await load()).list(),
    load: async (id) => (await load()).load(id),
    resolve: async (ref) => (await load()).resolve(ref),
    artifacts: (id, service, records, signal) => opened().artifacts(id, service, records, signal),
    verifyArtifact: async (id, service, record, signal, onStoredBytes) => (await load()).verifyArtifact(id, service, record, signal, onStoredBytes),
    openStored: (id, service, record, signal) => opened().openStored(id, service, record, signal),
    storedSize: async (id, service, record) => (await load()).storedSize(id, service, record),
    remove: async (id) => (await load()).remove(id),
    annotate: async (id, kind, value) => (await load()).annotate(id, kind, value),
    annotations: async (id) => (await load()).annotations(id),
  };
}
