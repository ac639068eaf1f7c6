import { HoldfastError } from '../core/errors.js';

/**
 * Calendar buckets for retention: the hour, day, ISO week, month and year a
 * moment falls in, on the wall clock of one time zone (the local one unless
 * told). Natural boundaries, as restic has them: weeks run Monday 00:00 to
 * Sunday 23:59, days 00:00 to 23:59, hours :00 to :59.
 */
export type CalendarUnit = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

export interface CalendarBuckets {
  /** Per unit, a key equal for two moments exactly when they fall in the same bucket. */
  keysOf(at: Date): Record<CalendarUnit, string>;
  readonly timeZone: string;
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function calendarBuckets(timeZone: string = localTimeZone()): CalendarBuckets {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' });
  } catch (cause) {
    throw new HoldfastError('usage', `unknown time zone ${JSON.stringify(timeZone)}`, { hint: 'use an IANA name such as Europe/Berlin or UTC (TZ=...)', cause });
  }
  return {
    timeZone,
    keysOf(at) {
      const parts: Record<string, number> = {};
      for (const p of format.formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
      const { year, month, day, hour } = parts as { year: number; month: number; day: number; hour: number };
      const week = isoWeek(year, month, day);
      return {
        hourly: `${year}-${month}-${day}T${hour}`,
        daily: `${year}-${month}-${day}`,
        weekly: `${week.year}-W${week.week}`,
        monthly: `${year}-${month}`,
        yearly: `${year}`,
      };
    },
  };
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const DAY = 86_400_000;
  const date = Date.UTC(year, month - 1, day);
  const weekday = ((new Date(date).getUTCDay() + 6) % 7) + 1; // Monday 1 .. Sunday 7
  const thursday = new Date(date + (4 - weekday) * DAY);
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / DAY / 7) + 1;
  return { year: isoYear, week };
}
