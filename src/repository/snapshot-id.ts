import { randomBytes } from 'node:crypto';

/** Ids sort by time: `20261123T093100Z-3fa2`. */
export function newSnapshotId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export const SNAPSHOT_ID = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;
