import { createHash } from 'node:crypto';
import type { ArtifactRecord, Manifest } from './manifest.js';

/**
 * A bundle is one tar stream that carries a committed snapshot to another
 * repository, in this order (import reads it front to back, once):
 *   holdfast-bundle.json   BundleHeader: format, snapshot id, sha256 of the next two parts
 *   manifest.json          the manifest, byte for byte as hashed in the header
 *   annotations.json       the snapshot's annotations ({} when none)
 *   artifacts/<service>/<name>   each artifact's stored bytes, in manifest order,
 *                          checked against the manifest's sha256 and size
 *   two zero blocks        the end: a bundle without them was cut short
 */
export const BUNDLE_FORMAT = 1;
export const BUNDLE_KIND = 'holdfast-bundle';
export const HEADER_ENTRY = 'holdfast-bundle.json';
export const MANIFEST_ENTRY = 'manifest.json';
export const ANNOTATIONS_ENTRY = 'annotations.json';

export interface BundleHeader {
  kind: typeof BUNDLE_KIND;
  format: number;
  snapshot: string;
  manifestSha256: string;
  annotationsSha256: string;
  artifacts: number;
  storedBytes: number;
  createdAt: string;
  holdfastVersion: string;
}

export function artifactEntry(service: string, record: ArtifactRecord): string {
  return `artifacts/${service}/${record.name}`;
}

/** Every artifact of a snapshot with its service, in the order a bundle carries them. */
export function bundleArtifacts(manifest: Manifest): Array<{ service: string; record: ArtifactRecord }> {
  return Object.entries(manifest.services).flatMap(([service, s]) => s.artifacts.map((record) => ({ service, record })));
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2) + '\n');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
