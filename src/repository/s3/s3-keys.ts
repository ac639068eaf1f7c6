/** Object keys of an S3 repository, relative to its prefix. */
export const snapshotPrefix = (id: string) => `snapshots/${id}/`;
export const manifestKey = (id: string) => `snapshots/${id}/manifest.json`;
export const servicePrefix = (id: string, service: string) => `snapshots/${id}/${service}/`;
export const artifactKey = (id: string, service: string, name: string) => `snapshots/${id}/${service}/${name}`;
export const stagingKey = (id: string) => `staging/${id}.json`;

/** What `staging/<id>.json` holds: a write or a removal in progress (or interrupted). */
export interface StagingMarker {
  kind: 'backup' | 'remove';
  pid: number;
  host: string;
  since: string;
  command: string;
}
