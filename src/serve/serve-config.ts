/**
 * The `jobs:`, `serve:` and `notify:` sections of holdfast.yml, read and
 * checked whole before `serve` starts anything: a bad cron expression, an
 * unknown job type or a bad URL stops serve with a message naming the job
 * and the setting, never a serve that runs half of its jobs.
 *
 *   jobs:
 *     nightly:
 *       type: backup              # backup | restore-test | forget | check
 *       schedule: "0 30 2 * * *"  # cron, seconds first (6 fields) or 5 fields
 *       timezone: Europe/Berlin   # default: serve.timezone, else TZ / UTC
 *       jitter: 5m                # a random delay up to this, each run
 *       catch_up: true            # run once at start when a run was missed while down
 *       services: [db]            # backup: default all
 *       verify: true              # backup: then restore-test the snapshot
 *     prune:  { type: forget, schedule: "0 0 4 * * *", keep: { daily: 7, weekly: 4 } }
 *     prove:  { type: restore-test, schedule: "0 0 5 * * 0", snapshot: latest }
 *     scrub:  { type: check, schedule: "0 0 6 1 * *", read_data: true }
 *   serve:
 *     state: /var/lib/holdfast/serve-state.json   # default: beside holdfast.yml
 *     grace: 10m                 # SIGTERM: how long a running job may finish
 *     metrics: { host: 127.0.0.1, port: 9464 }   # or metrics: false
 *   notify:
 *     on: [failure, recovery]    # and success
 *     webhook: { url: https://hooks.example/holdfast, timeout: 10s, retries: 3 }
 *     healthchecks: https://hc.example/ping/UUID  # or { start, success, fail }
 *     email: { host: smtp.example, port: 587, from: holdfast@example, to: [ops@example], username: holdfast }
 *                                # password: HOLDFAST_SMTP_PASSWORD[_FILE]
 */
import { dirname, join, resolve } from 'node:path';
import { Cron } from 'croner';
import { parseDuration } from '../core/duration.js';
import { HoldfastError } from '../core/errors.js';
import type { EmailSettings } from './notify-email.js';

export const JOB_TYPES = ['backup', 'restore-test', 'forget', 'check'] as const;
export type JobType = (typeof JOB_TYPES)[number];
export const NOTIFY_EVENTS = ['failure', 'recovery', 'success'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
const KEEP_UNITS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];

export interface PingUrls {
  start?: string;
  success?: string;
  fail?: string;
}

export interface JobSpec {
  name: string;
  type: JobType;
  schedule: string;
  timezone?: string;
  jitterMs: number;
  catchUp: boolean;
  /** backup: the services (empty: all). */
  services: string[];
  /** backup: --verify. */
  verify: boolean;
  /** check: --read-data. */
  readData: boolean;
  /** forget: keep-<unit> counts ("unlimited" allowed) and keep-tag values. */
  keep: Record<string, string>;
  keepTags: string[];
  /** restore-test: which snapshot (default latest). */
  snapshot: string;
  /** healthchecks-style pings for this job (a job's own, or notify.healthchecks). */
  pings?: PingUrls;
}

export interface WebhookSettings {
  url: string;
  timeoutMs: number;
  retries: number;
}

export interface ServeSettings {
  jobs: JobSpec[];
  statePath: string;
  graceMs: number;
  metrics?: { host: string; port: number };
  notify: { on: NotifyEvent[]; webhook?: WebhookSettings; email?: EmailSettings };
}

type Doc = Record<string, unknown>;

function bad(message: string, hint: string): HoldfastError {
  return new HoldfastError('config', message, { hint });
}

function mapping(raw: unknown, what: string, hint: string): Doc {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad(`${what} must be a mapping`, hint);
  return raw as Doc;
}

function noUnknown(doc: Doc, known: readonly string[], what: string): void {
  const unknown = Object.keys(doc).filter((k) => !known.includes(k));
  if (unknown.length) throw bad(`${what} has unknown settings: ${unknown.join(', ')}`, `known: ${known.join(', ')}`);
}

function duration(raw: unknown, what: string): number {
  try {
    return parseDuration(raw, what);
  } catch (error) {
    throw bad((error as HoldfastError).message, (error as HoldfastError).hint ?? '');
  }
}

function bool(raw: unknown, fallback: boolean, what: string): boolean {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'boolean') throw bad(`${what} must be true or false`, `write ${what.split('.').pop()}: true`);
  return raw;
}

/** An http(s) URL, or a clear error naming the setting. */
export function httpUrl(raw: unknown, what: string): string {
  const text = String(raw ?? '');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(`${what} ${JSON.stringify(text)} is not a URL`, 'write a full http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`${what} ${JSON.stringify(text)} is not an http(s) URL`, 'write a full http:// or https:// URL');
  return url.toString();
}

/** A time zone Intl knows (IANA name), or a clear error. */
function timeZone(raw: unknown, what: string): string {
  const zone = String(raw);
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw bad(`${what} ${JSON.stringify(zone)} is not a time zone`, 'write an IANA zone name such as UTC, Europe/Berlin or America/New_York');
  }
  return zone;
}

/** A croner schedule for a job; throws a clear error for a bad expression. */
export function cronOf(job: Pick<JobSpec, 'name' | 'schedule' | 'timezone'>, callback?: () => void): Cron {
  try {
    const options = { ...(job.timezone ? { timezone: job.timezone } : {}), paused: !callback };
    return callback ? new Cron(job.schedule, options, callback) : new Cron(job.schedule, options);
  } catch (error) {
    throw bad(`job ${job.name}: schedule ${JSON.stringify(job.schedule)} is not a valid cron expression: ${(error as Error).message}`, 'six fields with seconds first ("0 30 2 * * *": 02:30:00 every day) or five without ("*/15 * * * *")');
  }
}

function pingUrls(raw: unknown, what: string): PingUrls | undefined {
  if (raw === undefined || raw === null) return undefined;
  // A healthchecks.io ping URL: /start and /fail beside it.
  if (typeof raw === 'string') {
    const base = httpUrl(raw, what).replace(/\/$/, '');
    return { start: `${base}/start`, success: base, fail: `${base}/fail` };
  }
  const doc = mapping(raw, what, 'a ping URL, or { start, success, fail }');
  noUnknown(doc, ['start', 'success', 'fail'], what);
  const out: PingUrls = {};
  for (const k of ['start', 'success', 'fail'] as const) if (doc[k] !== undefined) out[k] = httpUrl(doc[k], `${what}.${k}`);
  return out;
}

function jobSpec(name: string, raw: unknown, defaults: { timezone?: string; pings?: PingUrls }): JobSpec {
  const what = `job ${name}`;
  const doc = mapping(raw, what, 'e.g. nightly: { type: backup, schedule: "0 30 2 * * *" }');
  noUnknown(doc, ['type', 'schedule', 'timezone', 'jitter', 'catch_up', 'services', 'verify', 'read_data', 'keep', 'snapshot', 'healthchecks'], what);
  if (!JOB_TYPES.includes(doc.type as JobType)) {
    throw bad(`${what}: ${doc.type === undefined ? 'no type' : `unknown job type ${JSON.stringify(doc.type)}`}`, `type is one of ${JOB_TYPES.join(', ')}`);
  }
  const type = doc.type as JobType;
  if (typeof doc.schedule !== 'string' || doc.schedule.trim() === '') throw bad(`${what}: no schedule`, 'add schedule: "0 30 2 * * *" (cron, seconds first)');
  const spec: JobSpec = {
    name,
    type,
    schedule: doc.schedule.trim(),
    jitterMs: doc.jitter === undefined ? 0 : duration(doc.jitter, `${what}: jitter`),
    catchUp: bool(doc.catch_up, false, `${what}.catch_up`),
    services: [],
    verify: bool(doc.verify, false, `${what}.verify`),
    readData: bool(doc.read_data, false, `${what}.read_data`),
    keep: {},
    keepTags: [],
    snapshot: doc.snapshot === undefined ? 'latest' : String(doc.snapshot),
  };
  const zone = doc.timezone ?? defaults.timezone;
  if (zone !== undefined) spec.timezone = timeZone(zone, `${what}: timezone`);
  const pings = pingUrls(doc.healthchecks, `${what}.healthchecks`) ?? defaults.pings;
  if (pings) spec.pings = pings;
  const only = (key: string, types: JobType[]) => {
    if (doc[key] !== undefined && !types.includes(type)) throw bad(`${what}: ${key} is not a setting of a ${type} job`, `${key} belongs to ${types.join(' and ')} jobs`);
  };
  only('services', ['backup']);
  only('verify', ['backup']);
  only('read_data', ['check']);
  only('keep', ['forget']);
  only('snapshot', ['restore-test']);
  if (doc.services !== undefined) {
    const list = Array.isArray(doc.services) ? doc.services : [doc.services];
    spec.services = list.map(String).filter((s) => s !== 'all');
  }
  if (type === 'forget') {
    const keep = mapping(doc.keep, `${what}.keep`, 'e.g. keep: { daily: 7, weekly: 4, tags: [pre-upgrade] }');
    noUnknown(keep, [...KEEP_UNITS, 'tags'], `${what}.keep`);
    for (const unit of KEEP_UNITS) {
      if (keep[unit] === undefined) continue;
      const v = String(keep[unit]);
      if (!/^(\d+|unlimited)$/.test(v)) throw bad(`${what}.keep.${unit} ${JSON.stringify(v)} is not a count`, 'a whole number of at least 0, or unlimited');
      spec.keep[unit] = v;
    }
    if (keep.tags !== undefined) spec.keepTags = (Array.isArray(keep.tags) ? keep.tags : [keep.tags]).map(String);
    if (Object.values(spec.keep).every((v) => v === '0') && spec.keepTags.length === 0) {
      throw bad(`${what}: a forget job needs a keep policy`, 'with none it would remove every snapshot; e.g. keep: { daily: 7, weekly: 4 }');
    }
  }
  cronOf(spec); // throws on a bad expression or zone
  return spec;
}

/** Reads and checks everything serve needs from holdfast.yml; throws before anything starts. */
export function serveSettings(document: Doc | undefined, configPath: string | undefined): ServeSettings {
  const file = configPath ?? 'holdfast.yml';
  const jobsDoc = document?.jobs;
  if (jobsDoc === undefined || jobsDoc === null || (typeof jobsDoc === 'object' && Object.keys(jobsDoc).length === 0)) {
    throw bad(`${file} has no jobs: serve would have nothing to do`, 'add a jobs: section, e.g. jobs: { nightly: { type: backup, schedule: "0 30 2 * * *" } } (see the README, "serve")');
  }
  const serve = mapping(document?.serve, 'serve', 'e.g. serve: { grace: 10m, metrics: { port: 9464 } }');
  noUnknown(serve, ['state', 'grace', 'metrics', 'timezone'], 'serve');
  const notify = mapping(document?.notify, 'notify', 'e.g. notify: { on: [failure, recovery], webhook: { url: https://... } }');
  noUnknown(notify, ['on', 'webhook', 'healthchecks', 'email'], 'notify');
  const defaults: { timezone?: string; pings?: PingUrls } = {};
  if (serve.timezone !== undefined) defaults.timezone = timeZone(serve.timezone, 'serve.timezone');
  const pings = pingUrls(notify.healthchecks, 'notify.healthchecks');
  if (pings) defaults.pings = pings;
  const jobs = Object.entries(mapping(jobsDoc, 'jobs', 'a mapping of job name to settings')).map(([name, raw]) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw bad(`job name ${JSON.stringify(name)} is not allowed`, 'letters, digits, "_", ".", "-"');
    return jobSpec(name, raw, defaults);
  });
  const settings: ServeSettings = {
    jobs,
    statePath: serve.state !== undefined ? resolve(String(serve.state)) : join(dirname(resolve(file)), 'holdfast-serve-state.json'),
    graceMs: serve.grace === undefined ? 10 * 60_000 : duration(serve.grace, 'serve.grace'),
    notify: { on: ['failure', 'recovery'] },
  };
  if (serve.metrics !== false) {
    const m = mapping(serve.metrics, 'serve.metrics', 'e.g. metrics: { host: 127.0.0.1, port: 9464 }, or metrics: false');
    noUnknown(m, ['host', 'port'], 'serve.metrics');
    const port = m.port === undefined ? 9464 : Number(m.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad(`serve.metrics.port ${JSON.stringify(m.port)} is not a port`, 'a whole number from 1 to 65535');
    settings.metrics = { host: m.host === undefined ? '127.0.0.1' : String(m.host), port };
  }
  if (notify.on !== undefined) {
    const on = (Array.isArray(notify.on) ? notify.on : [notify.on]).map(String);
    const unknown = on.filter((e) => !NOTIFY_EVENTS.includes(e as NotifyEvent));
    if (unknown.length) throw bad(`notify.on: unknown events ${unknown.join(', ')}`, `events: ${NOTIFY_EVENTS.join(', ')}`);
    settings.notify.on = on as NotifyEvent[];
  }
  if (notify.webhook !== undefined) {
    const w = typeof notify.webhook === 'string' ? { url: notify.webhook } : mapping(notify.webhook, 'notify.webhook', 'a URL, or { url, timeout, retries }');
    noUnknown(w, ['url', 'timeout', 'retries'], 'notify.webhook');
    const retries = w.retries === undefined ? 3 : Number(w.retries);
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw bad(`notify.webhook.retries ${JSON.stringify(w.retries)} is not a count from 0 to 10`, 'e.g. retries: 3');
    settings.notify.webhook = { url: httpUrl(w.url, 'notify.webhook.url'), timeoutMs: w.timeout === undefined ? 10_000 : duration(w.timeout, 'notify.webhook.timeout'), retries };
  }
  if (notify.email !== undefined) settings.notify.email = emailSettings(notify.email);
  return settings;
}

function emailSettings(raw: unknown): EmailSettings {
  const hint = 'e.g. email: { host: smtp.example.org, port: 587, from: holdfast@example.org, to: [ops@example.org] }';
  const e = mapping(raw, 'notify.email', hint);
  noUnknown(e, ['host', 'port', 'secure', 'from', 'to', 'username', 'timeout', 'retries'], 'notify.email');
  if (typeof e.host !== 'string' || e.host === '') throw bad('notify.email has no host', hint);
  const secure = bool(e.secure, false, 'notify.email.secure');
  const port = e.port === undefined ? (secure ? 465 : 587) : Number(e.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`notify.email.port ${JSON.stringify(e.port)} is not a port`, hint);
  const address = (v: unknown, what: string) => {
    const text = String(v ?? '');
    if (!/^[^\s@]+@[^\s@]+$/.test(text.replace(/^.*<(.+)>$/, '$1'))) throw bad(`${what} ${JSON.stringify(text)} is not an email address`, hint);
    return text;
  };
  const to = (Array.isArray(e.to) ? e.to : e.to === undefined ? [] : [e.to]).map((t, i) => address(t, `notify.email.to[${i}]`));
  if (to.length === 0) throw bad('notify.email has no recipient (to)', hint);
  const retries = e.retries === undefined ? 2 : Number(e.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw bad(`notify.email.retries ${JSON.stringify(e.retries)} is not a count from 0 to 10`, hint);
  return {
    host: e.host,
    port,
    secure,
    from: address(e.from, 'notify.email.from'),
    to,
    ...(e.username !== undefined ? { username: String(e.username) } : {}),
    timeoutMs: e.timeout === undefined ? 10_000 : duration(e.timeout, 'notify.email.timeout'),
    retries,
  };
}
