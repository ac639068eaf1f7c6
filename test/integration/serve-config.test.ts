import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo } from '../support/cli.js';
import { freePort } from '../support/free-port.js';

const SERVICES = 'services:\n  db: postgres://postgres@127.0.0.1:5432/app\n';

describe('serve --check and bad serve configurations', () => {
  let work: string;
  let repo: string;
  let n = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-serve-config-'));
    repo = join(work, 'repo');
    await initRepo(repo);
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function serveWith(yml: string, ...args: string[]) {
    const dir = join(work, `c${n++}`);
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const config = join(dir, 'holdfast.yml');
    await writeFile(config, yml);
    const result = await holdfast(['--config', config, '--repo', repo, 'serve', ...args], {});
    // A refused configuration starts nothing: no state file is written.
    if (result.code !== 0) expect(existsSync(join(dir, 'holdfast-serve-state.json'))).toBe(false);
    return result;
  }

  test('--check prints the next run times of every job, in its time zone', async () => {
    const r = await serveWith(
      `${SERVICES}jobs:\n  nightly: { type: backup, schedule: "0 30 2 * * *", timezone: Asia/Tokyo, verify: true }\n  prune: { type: forget, schedule: "0 0 4 * * *", keep: { daily: 7, weekly: 4 } }\n  prove: { type: restore-test, schedule: "0 0 5 * * 0" }\n  scrub: { type: check, schedule: "0 0 6 1 * *", read_data: true }\n`,
      '--check',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json<{ jobs: Array<{ job: string; type: string; next: string[]; what: string }> }>();
    expect(doc.jobs.map((j) => [j.job, j.type, j.what])).toEqual([
      ['nightly', 'backup', 'all services + verify'],
      ['prune', 'forget', 'daily=7 weekly=4'],
      ['prove', 'restore-test', 'latest'],
      ['scrub', 'check', 'read-data'],
    ]);
    // 02:30 in Tokyo is 17:30 UTC, every day.
    expect(doc.jobs[0]!.next).toHaveLength(3);
    for (const t of doc.jobs[0]!.next) expect(t).toMatch(/T17:30:00\.000Z$/);
    expect(new Date(doc.jobs[2]!.next[0]!).getUTCDay()).toBe(0);
    const text = await serveWith(`${SERVICES}jobs:\n  nightly: { type: backup, schedule: "*/5 * * * *" }\n`, '--check');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/nightly\s+backup\s+\*\/5 \* \* \* \*\s+all services/);
    expect(text.stdout).toMatch(/configuration ok: 1 jobs/);
  });

  const bad: Array<[string, string, RegExp, RegExp]> = [
    ['an invalid cron expression', `${SERVICES}jobs:\n  nightly: { type: backup, schedule: "61 * * * * *" }\n`, /job nightly: schedule "61 \* \* \* \* \*" is not a valid cron expression/, /six fields with seconds first/],
    ['an unknown job type', `${SERVICES}jobs:\n  nightly: { type: bakup, schedule: "0 0 3 * * *" }\n`, /job nightly: unknown job type "bakup"/, /type is one of backup, restore-test, forget, check/],
    ['a webhook URL that is not one', `${SERVICES}jobs:\n  nightly: { type: backup, schedule: "0 0 3 * * *" }\nnotify:\n  webhook: { url: "hooks.example/x" }\n`, /notify.webhook.url "hooks.example\/x" is not a URL/, /http:\/\/ or https:\/\//],
    ['an unknown time zone', `${SERVICES}jobs:\n  nightly: { type: backup, schedule: "0 0 3 * * *", timezone: Mars/Olympus }\n`, /timezone "Mars\/Olympus" is not a time zone/, /IANA zone name/],
    ['a forget job without a policy', `${SERVICES}jobs:\n  prune: { type: forget, schedule: "0 0 3 * * *" }\n`, /a forget job needs a keep policy/, /keep: \{ daily: 7/],
    ['a setting of another job type', `${SERVICES}jobs:\n  scrub: { type: check, schedule: "0 0 3 * * *", verify: true }\n`, /job scrub: verify is not a setting of a check job/, /belongs to backup jobs/],
    ['a backup job naming an unknown service', `${SERVICES}jobs:\n  nightly: { type: backup, schedule: "0 0 3 * * *", services: [dbb] }\n`, /job nightly: no service named "dbb"/, /configured: db/],
    ['no jobs at all', SERVICES, /has no jobs: serve would have nothing to do/, /add a jobs: section/],
    ['a bad jitter', `${SERVICES}jobs:\n  nightly: { type: backup, schedule: "0 0 3 * * *", jitter: soon }\n`, /job nightly: jitter "soon" is not a duration/, /90s, 15m/],
  ];
  for (const [what, yml, message, hint] of bad) {
    test(`${what}: exit 2, a clear message and hint, nothing started`, async () => {
      for (const args of [['--check'], []]) {
        const r = await serveWith(yml, ...args);
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toMatch(hint);
        expect(r.stdout).not.toMatch(/job scheduled/);
      }
    });
  }

  test('a metrics port in use stops serve before any job is scheduled', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    try {
      const r = await serveWith(`${SERVICES}jobs:\n  nightly: { type: backup, schedule: "* * * * * *" }\nserve:\n  metrics: { port: ${port} }\n`);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`the metrics endpoint cannot listen on 127.0.0.1:${port}: the port is in use`));
      expect(r.stdout).not.toMatch(/run started/);
    } finally {
      blocker.close();
    }
  });

  test('a repository that does not exist stops serve with the usual hint', async () => {
    const r = await holdfast(['--repo', join(work, 'nope'), '--config', join(work, 'c0', 'holdfast.yml'), 'serve', '--check'], {});
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/init/);
  });
});
