import { describe, expect, test } from 'vitest';
import { formatAge, parseDuration } from '../../src/core/duration.js';
import { serviceFreshness, type SnapshotWithVerdict } from '../../src/core/status-report.js';
import type { Manifest, ServiceRecord } from '../../src/repository/manifest.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');

function record(status: 'ok' | 'failed', rawBytes = 100): ServiceRecord {
  return {
    engine: 'postgres', driver: 'postgres', strategy: 'pg_dump', consistency: 'transactional', reason: '', status, options: {}, startedAt: '', durationMs: 5, details: {}, notes: [],
    artifacts: status === 'ok' ? [{ name: 'a', kind: 'pg_dump', compression: 'zstd', sha256: '', storedBytes: rawBytes / 2, rawBytes }] : [],
    ...(status === 'failed' ? { error: { code: 'connect', message: 'refused' } } : {}),
  };
}

function snap(id: string, hoursAgo: number, services: Record<string, 'ok' | 'failed'>, restoreTest?: SnapshotWithVerdict['restoreTest']): SnapshotWithVerdict {
  const createdAt = new Date(NOW - hoursAgo * 3_600_000).toISOString();
  const manifest = { id, createdAt, services: Object.fromEntries(Object.entries(services).map(([n, s]) => [n, record(s)])) } as unknown as Manifest;
  return { manifest, ...(restoreTest ? { restoreTest } : {}) };
}

describe('serviceFreshness', () => {
  const history = [
    snap('s1', 50, { db: 'ok', files: 'ok' }, { at: new Date(NOW - 49 * 3_600_000).toISOString(), passed: true, services: { db: { verdict: 'ok' }, files: { verdict: 'ok' } } }),
    snap('s2', 30, { db: 'ok', files: 'failed' }),
    snap('s3', 2, { db: 'failed', files: 'failed' }),
  ];

  test('the last good snapshot is the newest where the service is ok, not the newest snapshot', () => {
    const rows = serviceFreshness(history, [], { maxAgeMs: 26 * 3_600_000 }, NOW);
    expect(rows.map((r) => [r.service, r.lastGood?.snapshot, Math.round(r.lastGood!.ageMs / 3_600_000), r.problems])).toEqual([
      ['db', 's2', 30, ['last good snapshot too old']],
      ['files', 's1', 50, ['last good snapshot too old']],
    ]);
    expect(rows[0]!.lastFailed).toEqual({ snapshot: 's3', at: history[2]!.manifest.createdAt, error: 'refused' });
    expect(rows[0]!.restoreTest).toMatchObject({ snapshot: 's1', verdict: 'ok' });
  });

  test('within the bound every service is fresh; a configured service never backed up is not', () => {
    expect(serviceFreshness(history, [], { maxAgeMs: 60 * 3_600_000 }, NOW).map((r) => r.problems)).toEqual([[], []]);
    const rows = serviceFreshness(history, ['db', 'search'], {}, NOW);
    expect(rows.map((r) => [r.service, r.problems])).toEqual([['db', []], ['search', ['no good snapshot']]]);
  });

  test('a restore-test bound flags a missing, failed or old verdict', () => {
    const rows = serviceFreshness([...history, snap('s4', 1, { db: 'ok' }, { at: new Date(NOW).toISOString(), passed: false, services: { db: { verdict: 'mismatch' } } })], ['db', 'files'], { maxRestoreTestAgeMs: 24 * 3_600_000 }, NOW);
    expect(rows.map((r) => r.problems)).toEqual([['last restore test mismatch'], ['last restore test too old']]);
  });
});

describe('durations', () => {
  test('parse the forms people write, refuse the rest with a hint', () => {
    expect(parseDuration('26h', 'x')).toBe(26 * 3_600_000);
    expect(parseDuration('1h30m', 'x')).toBe(90 * 60_000);
    expect(parseDuration('90', 'x')).toBe(90_000);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(() => parseDuration('26 hours', '--max-age')).toThrow(/--max-age "26 hours" is not a duration/);
    expect(() => parseDuration('', '--max-age')).toThrow(/not a duration/);
    expect(formatAge(30 * 3_600_000)).toBe('30h');
    expect(formatAge(50 * 3_600_000)).toBe('2d 2h');
  });
});
