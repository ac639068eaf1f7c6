import { describe, expect, test } from 'vitest';
import { calendarBuckets, isoWeek } from '../../src/repository/calendar-buckets.js';
import { applyRetention, describePolicy, UNLIMITED, type RetentionCandidate, type RetentionPolicy } from '../../src/repository/retention-policy.js';

/** A snapshot at an ISO time; its id is the time, so that results read as times. */
function at(iso: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { id: iso, time: new Date(iso), tags: [], ...extra };
}

function kept(list: RetentionCandidate[], policy: RetentionPolicy, timeZone = 'UTC', allowForgetVerified = false): string[] {
  return applyRetention(list, policy, { timeZone, allowForgetVerified })
    .keep.map((d) => d.id)
    .sort();
}

function reasonsOf(list: RetentionCandidate[], policy: RetentionPolicy, timeZone = 'UTC'): Record<string, string[]> {
  return Object.fromEntries(applyRetention(list, policy, { timeZone }).keep.map((d) => [d.id, d.reasons]));
}

function days(from: string, count: number, hour = 'T11:00:00Z'): RetentionCandidate[] {
  const start = Date.parse(`${from}${hour}`);
  return Array.from({ length: count }, (_, i) => at(new Date(start + i * 86_400_000).toISOString()));
}

describe('restic documented examples', () => {
  // "Suppose you have only made one backup every Sunday for 12 weeks" (restic docs, forget).
  const sundays = Array.from({ length: 12 }, (_, i) => at(new Date(Date.parse('2019-09-01T11:00:00Z') + i * 7 * 86_400_000).toISOString()));

  test('--keep-daily 4 on 12 weekly Sunday backups keeps the last four Sundays and removes eight', () => {
    const result = applyRetention(sundays, { daily: 4 }, { timeZone: 'UTC' });
    expect(result.keep.map((d) => d.id.slice(0, 10)).sort()).toEqual(['2019-10-27', '2019-11-03', '2019-11-10', '2019-11-17']);
    expect(result.remove).toHaveLength(8);
    expect(result.keep.every((d) => d.reasons.join() === 'daily snapshot')).toBe(true);
  });

  test('one backup a day for 100 years: --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75', () => {
    // Ends on a Sunday, so the 7 dailies hold 1 weekly: 7 + 4 weekly + 11 monthly + 74 yearly.
    const start = Date.UTC(1925, 0, 1, 12);
    const end = Date.UTC(2024, 11, 29, 12); // Sunday 2024-12-29
    const list: RetentionCandidate[] = [];
    for (let t = start; t <= end; t += 86_400_000) list.push(at(new Date(t).toISOString()));
    expect(list.length).toBeGreaterThan(36_000);
    const result = applyRetention(list, { daily: 7, weekly: 5, monthly: 12, yearly: 75 }, { timeZone: 'UTC' });
    const only = (reason: string) => result.keep.filter((d) => d.reasons.includes(reason)).length;
    expect(only('daily snapshot')).toBe(7);
    expect(only('weekly snapshot')).toBe(5);
    expect(only('monthly snapshot')).toBe(12);
    expect(only('yearly snapshot')).toBe(75);
    expect(result.keep).toHaveLength(7 + 4 + 11 + 74);
    const ids = new Set(result.keep.map((d) => d.id.slice(0, 10)));
    for (const day of ['2024-12-23', '2024-12-29', '2024-12-22', '2024-12-01', '2024-11-30', '2024-01-31', '2023-12-31', '1950-12-31']) expect(ids).toContain(day);
    expect(ids).not.toContain('2024-11-24'); // a sixth Sunday
    expect(ids).not.toContain('1949-12-31'); // a 76th year
    expect(ids).not.toContain('2023-12-30');
  });

  test('the newest snapshot matches every rule, and says so (the results are ORed)', () => {
    const reasons = reasonsOf(sundays, { last: 1, daily: 1, weekly: 1, monthly: 1, yearly: 1 });
    expect(reasons['2019-11-17T11:00:00.000Z']).toEqual(['last snapshot', 'daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot']);
    expect(Object.keys(reasons)).toHaveLength(1);
  });
});

describe('calendar buckets', () => {
  test('only days that have snapshots count, not days back from now', () => {
    const list = [at('2026-01-01T10:00:00Z'), at('2026-01-05T10:00:00Z'), at('2026-01-20T10:00:00Z')];
    expect(kept(list, { daily: 2 })).toEqual(['2026-01-05T10:00:00Z', '2026-01-20T10:00:00Z']);
    expect(kept(list, { daily: 3 })).toEqual(list.map((s) => s.id));
  });

  test('the newest snapshot of each day is kept, not the first', () => {
    const list = [at('2026-02-01T18:00:00Z'), at('2026-02-02T09:00:00Z'), at('2026-02-02T13:00:00Z'), at('2026-02-02T18:00:00Z')];
    expect(kept(list, { daily: 2 })).toEqual(['2026-02-01T18:00:00Z', '2026-02-02T18:00:00Z']);
  });

  test('hourly buckets run :00 to :59', () => {
    const list = [at('2026-02-02T09:59:59Z'), at('2026-02-02T10:05:00Z'), at('2026-02-02T10:55:00Z'), at('2026-02-02T11:01:00Z')];
    expect(kept(list, { hourly: 2 })).toEqual(['2026-02-02T10:55:00Z', '2026-02-02T11:01:00Z']);
    expect(kept(list, { hourly: 3 })).toEqual(['2026-02-02T09:59:59Z', '2026-02-02T10:55:00Z', '2026-02-02T11:01:00Z']);
  });

  test('weeks run Monday 00:00 to Sunday 23:59', () => {
    // Mon 23 Nov .. Sun 29 Nov 2026 is one week; Mon 30 Nov starts the next.
    const list = [at('2026-11-23T00:00:00Z'), at('2026-11-29T23:59:00Z'), at('2026-11-30T00:01:00Z')];
    expect(kept(list, { weekly: 2 })).toEqual(['2026-11-29T23:59:00Z', '2026-11-30T00:01:00Z']);
    expect(kept(list, { weekly: 1 })).toEqual(['2026-11-30T00:01:00Z']);
  });

  test('ISO weeks across a year boundary', () => {
    expect(isoWeek(2024, 12, 30)).toEqual({ year: 2025, week: 1 });
    expect(isoWeek(2021, 1, 3)).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(2026, 11, 30)).toEqual({ year: 2026, week: 49 });
    expect(isoWeek(2026, 1, 1)).toEqual({ year: 2026, week: 1 });
    // Sun 3 Jan 2021 and Mon 28 Dec 2020 share ISO week 2020-W53: one weekly bucket.
    expect(kept([at('2020-12-28T12:00:00Z'), at('2021-01-03T12:00:00Z')], { weekly: 1 })).toEqual(['2021-01-03T12:00:00Z']);
  });

  test('months and years', () => {
    const list = [at('2025-12-31T23:00:00Z'), at('2026-01-01T01:00:00Z'), at('2026-01-31T22:00:00Z'), at('2026-02-01T00:30:00Z')];
    expect(kept(list, { monthly: 2 })).toEqual(['2026-01-31T22:00:00Z', '2026-02-01T00:30:00Z']);
    expect(kept(list, { yearly: 2 })).toEqual(['2025-12-31T23:00:00Z', '2026-02-01T00:30:00Z']);
  });

  test('buckets follow the wall clock of the time zone, not UTC', () => {
    // 23:30 UTC on the 10th and 00:30 UTC on the 11th are both the evening of 10 March in New York.
    const list = [at('2026-03-09T12:00:00Z'), at('2026-03-10T23:30:00Z'), at('2026-03-11T00:30:00Z')];
    expect(kept(list, { daily: 2 }, 'UTC')).toEqual(['2026-03-10T23:30:00Z', '2026-03-11T00:30:00Z']);
    expect(kept(list, { daily: 2 }, 'America/New_York')).toEqual(['2026-03-09T12:00:00Z', '2026-03-11T00:30:00Z']);
    // 22:30 UTC on 31 March is already April in Berlin.
    expect(calendarBuckets('Europe/Berlin').keysOf(new Date('2026-03-31T22:30:00Z')).monthly).toBe('2026-4');
    expect(calendarBuckets('UTC').keysOf(new Date('2026-03-31T22:30:00Z')).monthly).toBe('2026-3');
  });

  test('the repeated hour when clocks go back is one hourly bucket, as on the wall clock', () => {
    // 1 Nov 2026, New York: 01:30 EDT (05:30Z) and 01:30 EST (06:30Z).
    const list = [at('2026-11-01T05:30:00Z'), at('2026-11-01T06:30:00Z')];
    expect(kept(list, { hourly: 1 }, 'America/New_York')).toEqual(['2026-11-01T06:30:00Z']);
    expect(kept(list, { hourly: 1 }, 'UTC')).toEqual(['2026-11-01T06:30:00Z']);
    expect(kept(list, { hourly: 2 }, 'UTC')).toEqual(list.map((s) => s.id));
  });

  test('an unknown time zone is a usage error', () => {
    expect(() => applyRetention([at('2026-01-01T00:00:00Z')], { daily: 1 }, { timeZone: 'Mars/Olympus' })).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe('counts', () => {
  test('--keep-last keeps the n newest; equal times keep the id order', () => {
    const list = [at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'), at('2026-01-03T00:00:00Z')];
    expect(kept(list, { last: 2 })).toEqual(['2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z']);
    const same = new Date('2026-01-01T00:00:00Z');
    const twins = [{ id: '20260101T000000Z-aaaa', time: same, tags: [] }, { id: '20260101T000000Z-bbbb', time: same, tags: [] }];
    expect(kept(twins, { last: 1 })).toEqual(['20260101T000000Z-bbbb']);
  });

  test('a count left over when the oldest snapshot is reached keeps the oldest too (restic >= 0.17)', () => {
    const list = [at('2026-02-02T09:00:00Z'), at('2026-02-02T13:00:00Z'), at('2026-02-02T18:00:00Z')];
    const reasons = reasonsOf(list, { daily: 3 });
    expect(reasons).toEqual({ '2026-02-02T18:00:00Z': ['daily snapshot'], '2026-02-02T09:00:00Z': ['oldest daily snapshot'] });
    // A used-up count does not.
    expect(kept(list, { daily: 1 })).toEqual(['2026-02-02T18:00:00Z']);
  });

  test('"unlimited" keeps the newest of every bucket', () => {
    const list = days('2026-01-01', 40).flatMap((s) => [s, at(new Date(s.time.getTime() + 3_600_000).toISOString())]);
    const result = applyRetention(list, { daily: UNLIMITED }, { timeZone: 'UTC' });
    // 40 days' newest, plus the very oldest snapshot.
    expect(result.keep).toHaveLength(41);
    expect(describePolicy({ daily: UNLIMITED, weekly: 4 })).toBe('keep all daily, 4 weekly snapshots');
  });

  test('an empty policy, all zeros or a negative count is refused', () => {
    const list = [at('2026-01-01T00:00:00Z')];
    expect(() => applyRetention(list, {})).toThrow(/no retention policy/);
    expect(() => applyRetention(list, { last: 0, daily: 0, tags: [] })).toThrow(/no retention policy/);
    expect(() => applyRetention(list, { daily: -3 })).toThrow(/--keep-daily must be a whole number/);
    expect(() => applyRetention(list, { weekly: 1.5 })).toThrow(/--keep-weekly/);
  });

  test('no snapshots: nothing to keep or remove', () => {
    expect(applyRetention([], { last: 1 }, { timeZone: 'UTC' })).toMatchObject({ keep: [], remove: [] });
  });
});

describe('tags', () => {
  const list = [
    at('2026-01-01T00:00:00Z', { tags: ['pre-upgrade'] }),
    at('2026-01-02T00:00:00Z', { tags: ['pre-upgrade', 'pg16'] }),
    at('2026-01-03T00:00:00Z', { tags: ['pg16'] }),
    at('2026-01-04T00:00:00Z'),
    at('2026-01-05T00:00:00Z'),
  ];

  test('--keep-tag keeps every snapshot with the tag, beside the counts', () => {
    const reasons = reasonsOf(list, { last: 1, tags: [['pre-upgrade']] });
    expect(reasons).toEqual({
      '2026-01-05T00:00:00Z': ['last snapshot'],
      '2026-01-02T00:00:00Z': ['has tags [pre-upgrade]'],
      '2026-01-01T00:00:00Z': ['has tags [pre-upgrade]'],
    });
  });

  test('a tag list needs every tag; several lists are alternatives; an empty list matches untagged snapshots', () => {
    expect(kept(list, { tags: [['pre-upgrade', 'pg16']] })).toEqual(['2026-01-02T00:00:00Z']);
    expect(kept(list, { tags: [['pg16'], ['pre-upgrade']] })).toEqual(['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z']);
    expect(kept(list, { tags: [[]] })).toEqual(['2026-01-04T00:00:00Z', '2026-01-05T00:00:00Z']);
    expect(describePolicy({ last: 2, tags: [['a', 'b'], ['c']] })).toBe('keep 2 latest snapshots and all snapshots with tags [a,b] or [c]');
  });

  test('tags that match nothing would remove every snapshot: refused', () => {
    expect(() => applyRetention(list, { tags: [['nope']] }, { timeZone: 'UTC' })).toThrow(/forget would remove every snapshot/);
  });
});

describe('the newest snapshot that passed a restore test', () => {
  const list = [
    at('2026-01-01T00:00:00Z', { restoreTestPassedAt: '2026-01-01T01:00:00Z' }),
    at('2026-01-02T00:00:00Z', { restoreTestPassedAt: '2026-01-02T01:00:00Z' }),
    at('2026-01-03T00:00:00Z'),
    at('2026-01-04T00:00:00Z'),
  ];

  test('is kept although the policy would remove it, and says why', () => {
    const result = applyRetention(list, { last: 1 }, { timeZone: 'UTC' });
    expect(result.keep.map((d) => d.id).sort()).toEqual(['2026-01-02T00:00:00Z', '2026-01-04T00:00:00Z']);
    const verified = result.keep.find((d) => d.id === '2026-01-02T00:00:00Z')!;
    expect(verified.protectedAsVerified).toBe(true);
    expect(verified.reasons.join()).toMatch(/newest snapshot that passed a restore test \(2026-01-02T01:00:00Z\).*--allow-forget-verified/);
    // Only the newest verified one: the older is removed.
    expect(result.remove.map((d) => d.id)).toContain('2026-01-01T00:00:00Z');
  });

  test('is removed when allowed', () => {
    expect(kept(list, { last: 1 }, 'UTC', true)).toEqual(['2026-01-04T00:00:00Z']);
  });

  test('kept by the policy anyway: no protection needed, none claimed', () => {
    const result = applyRetention(list, { last: 3 }, { timeZone: 'UTC' });
    expect(result.keep.find((d) => d.id === '2026-01-02T00:00:00Z')).toMatchObject({ protectedAsVerified: false, reasons: ['last snapshot'] });
    expect(result.remove.map((d) => d.id)).toEqual(['2026-01-01T00:00:00Z']);
  });
});
