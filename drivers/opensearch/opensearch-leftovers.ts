/**
 * The engine snapshot a backup leaves on the node while it copies the
 * repository out: journalled (src/core/leftover-journal.ts) before it is
 * taken and crossed out once deleted, so that a run killed in between (kill
 * -9, a crash) does not leave it there for every later backup to copy again;
 * the next command that touches the service deletes it and says so.
 */
import { leftoverJournal, type Leftover } from '../../src/core/leftover-journal.js';
import type { OpenSearchApi } from './opensearch-connection.js';
import { statusOf } from './opensearch-connection.js';
import { BACKUP_REPO, registerRepository, unregisterRepository } from './opensearch-repository.js';

export const SERVER_SNAPSHOT = 'server-snapshot';
/** The names backupWithSnapshot gives its snapshots: nothing else is ever deleted from a journal entry. */
const OURS = /^holdfast-\d{14}-[0-9a-f]{6}$/;

/** Records the snapshot about to be taken; `at` is the service's leftover endpoint (its container, not a tunnel's passing port). */
export function journalServerSnapshot(service: string, at: string, snapshot: string, location: string): Promise<Leftover> {
  return leftoverJournal().add({ kind: SERVER_SNAPSHOT, name: snapshot, driver: 'opensearch', service, endpoint: at, data: { location } });
}

export function crossOut(entry: Leftover): Promise<void> {
  return leftoverJournal().remove(entry);
}

/** Deletes a dead run's snapshot from holdfast's repository on the node; false for another kind. */
export async function removeServerSnapshot(os: OpenSearchApi, leftover: Leftover): Promise<string | false> {
  const location = leftover.data?.location;
  if (leftover.kind !== SERVER_SNAPSHOT || !OURS.test(leftover.name) || !location) return false;
  await registerRepository(os, BACKUP_REPO, location, false);
  try {
    await os.call('DELETE', `/_snapshot/${BACKUP_REPO}/${leftover.name}`).catch((error) => {
      // Killed before the node took it: nothing to delete.
      if (statusOf(error) !== 404) throw error;
    });
  } finally {
    await unregisterRepository(os, BACKUP_REPO);
  }
  return `deleted the engine snapshot from the repository ${location} on the node`;
}
