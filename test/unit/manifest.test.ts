import { describe, expect, test } from 'vitest';
import { parseManifest, totalBytes } from '../../src/repository/manifest.js';
import { newSnapshotId, SNAPSHOT_ID } from '../../src/repository/snapshot-id.js';
import { manifest, serviceRecord } from './helpers/temp-repo.js';

const artifact = (storedBytes: number, rawBytes: number) => ({ name: `a${storedBytes}`, kind: 'dump', compression: 'zstd' as const, sha256: 'x', storedBytes, rawBytes });

describe('parseManifest', () => {
  test('a manifest survives a JSON round trip', () => {
    const m = manifest('20260101T000000Z-abcd', { tags: ['t'] });
    expect(parseManifest(JSON.stringify(m), 'of test')).toEqual(m);
  });

  test('truncated JSON: integrity error naming the manifest', () => {
    const text = JSON.stringify(manifest('20260101T000000Z-abcd'));
    expect(() => parseManifest(text.slice(0, text.length / 2), 'of snapshot X')).toThrow(
      expect.objectContaining({ code: 'integrity', message: expect.stringContaining('of snapshot X is not valid JSON') }),
    );
  });

  test.each([
    ['another format', { ...manifest('20260101T000000Z-abcd'), format: 2 }],
    ['no id', { ...manifest('20260101T000000Z-abcd'), id: 5 }],
    ['no services', { ...manifest('20260101T000000Z-abcd'), services: null }],
    ['a JSON array', []],
    ['a JSON string', 'hello'],
  ])('%s: integrity error', (_what, data) => {
    expect(() => parseManifest(JSON.stringify(data), 'of test')).toThrow(expect.objectContaining({ code: 'integrity' }));
  });

  test('a service without an artifact list: integrity error naming the service', () => {
    const m = manifest('20260101T000000Z-abcd', { services: { db: { ...serviceRecord(), artifacts: undefined as never } } });
    expect(() => parseManifest(JSON.stringify(m), 'of test')).toThrow(expect.objectContaining({ code: 'integrity', message: expect.stringContaining('db') }));
  });
});

describe('totalBytes', () => {
  test('sums stored and raw bytes over all services', () => {
    const m = manifest('20260101T000000Z-abcd', {
      services: { a: serviceRecord({ artifacts: [artifact(10, 100), artifact(5, 50)] }), b: serviceRecord({ artifacts: [artifact(1, 2)] }) },
    });
    expect(totalBytes(m)).toEqual({ stored: 16, raw: 152 });
  });
});

describe('snapshot ids', () => {
  test('a UTC time stamp and a random suffix', () => {
    const id = newSnapshotId(new Date('2026-11-23T09:31:00.456Z'));
    expect(id).toMatch(/^20261123T093100Z-[0-9a-f]{4}$/);
    expect(id).toMatch(SNAPSHOT_ID);
  });

  test('ids of different seconds sort by time', () => {
    const ids = ['2026-01-02T00:00:00Z', '2025-12-31T23:59:59Z', '2026-01-01T00:00:01Z'].map((t) => newSnapshotId(new Date(t)));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });

  test('SNAPSHOT_ID rejects anything that could be a path', () => {
    for (const bad of ['../20260101T000000Z-abcd', '20260101T000000Z-abcd/..', '20260101T000000Z-ABCD', 'latest', '']) expect(bad).not.toMatch(SNAPSHOT_ID);
  });
});
