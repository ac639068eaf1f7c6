/** Durations as people write them in flags and holdfast.yml: `90s`, `15m`, `26h`, `7d`, `1h30m`, or plain seconds. */
import { HoldfastError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a duration; `what` names the flag or setting in the error. */
export function parseDuration(text: unknown, what: string): number {
  const raw = String(text ?? '').trim();
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  const parts = [...raw.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  if (raw === '' || parts.length === 0 || parts.map((p) => p[0]).join('') !== raw) {
    throw new HoldfastError('usage', `${what} ${JSON.stringify(raw)} is not a duration`, { hint: 'write e.g. 90s, 15m, 26h, 7d or 1h30m (a plain number is seconds)' });
  }
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_MS[p[2]!]!, 0));
}

/** `26h`, `3d 4h`, `12m`, `40s`: a short age for people. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
