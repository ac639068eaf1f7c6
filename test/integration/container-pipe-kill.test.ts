import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { mariadbContainer, mariadbSql, ensureMariadbImage } from '../support/mariadb-container.js';

interface Doc {
  services: Array<{ service: string; status: string; notes?: string[] }>;
}

// kill -9 of holdfast in the middle of a dump through a container (issue 14): the tool in the
// container (blocked here on a lock another session holds, so "mid-dump" is certain, not timed)
// must not stay behind holding its transaction, the pipe directory must go, and the next
// command says what it cleaned. Only holdfast's pid is killed, as the OOM killer would.
describe.runIf(process.getuid?.() === 0)('kill -9 mid-dump through a container pipe', () => {
  const lab = new DockerLab();
  let repo: string;
  const lockers: ChildProcess[] = [];

  /** Pids and command names of processes in the container that write into a holdfast pipe. */
  const pipeWriters = (name: string) =>
    docker(['exec', name, 'sh', '-c', 'for p in /proc/[0-9]*; do if grep -aq "HOLDFAST_[A-Z_]*=/tmp/holdfast-io" $p/environ 2>/dev/null; then echo "${p#/proc/} $(cat $p/comm)"; fi; done']);
  const pipeDirs = (name: string) => docker(['exec', name, 'sh', '-c', 'ls -d /tmp/holdfast-io.* 2>/dev/null || true']);

  /** A session that holds `sql` (a lock) open until the test ends it; resolves once the lock is taken. */
  async function holdOpen(argv: string[], sql: string): Promise<ChildProcess> {
    const child = spawn('docker', ['exec', '-i', ...argv], { env: process.env, stdio: ['pipe', 'pipe', 'inherit'] });
    lockers.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin!.write(`${sql}\nSELECT 'locked';\n`);
    await waitFor('the lock', async () => (out.includes('locked') ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    return child;
  }

  /** Starts a backup, waits until its tool sits in the container writing into a pipe, kills holdfast with -9. */
  async function killMidDump(args: string[], container: string, tool: string): Promise<number> {
    let pid = 0;
    const running = holdfast(['--repo', repo, 'backup', ...args, '--json'], lab.env(), { onSpawn: (p) => (pid = p) });
    let ended = false;
    void running.then((r) => {
      ended = true;

    });
    await waitFor(`${tool} writing into a pipe`, async () => (ended || (await pipeWriters(container)).includes(tool) ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
    process.kill(pid, 'SIGKILL');
    await running;
    return pid;
  }

  beforeAll(async () => {
    await lab.init();
    ensureMariadbImage();
    repo = join(await lab.dir('repo'), 'repo');
  }, 120_000);

  afterAll(async () => {
    for (const l of lockers) l.kill();
    await lab.cleanup();
  });

  test('PostgreSQL: pg_dump and the snapshot session go with holdfast; the next backup removes the pipe and says so', async () => {
    const pg = await lab.postgres('pg', await freePort());
    await lab.psql(pg, 'CREATE DATABASE shop');
    await lab.psql(pg, "CREATE TABLE orders (id int PRIMARY KEY, what text); INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 100) g", 'shop');
    // A process in the container that dies by a signal after its parent is gone is reaped by PID 1, the postmaster,
    // which then restarts the server as after a crash: nothing holdfast does may cause that.
    const started = await lab.psql(pg, 'SELECT pg_postmaster_start_time()');
    const locker = await holdOpen([pg, 'psql', '-X', '-q', '-U', 'postgres', '-d', 'shop'], 'BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;');
    const pid = await killMidDump(['--service', `db=container:${pg}`, '--fingerprint', 'none'], pg, 'pg_dump');

    // Nothing of the dead run may go on holding a snapshot or a lock in the database.
    const holdfastSessions = () => lab.psql(pg, "SELECT coalesce(string_agg(state || ': ' || left(query, 60), ' | '), '') FROM pg_stat_activity WHERE application_name = 'holdfast' AND pid <> pg_backend_pid()");
    await waitFor('no session of the dead run', async () => ((await holdfastSessions()) === '' ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 }).catch(() => undefined);
    expect(await holdfastSessions()).toBe('');
    expect(await pipeWriters(pg)).toBe('');

    locker.stdin!.end('COMMIT;\n');
    const next = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${pg}`, '--fingerprint', 'none', '--json'], lab.env());
    expect(next.code, next.stderr + next.stdout).toBe(0);
    const notes = next.json<Doc>().services[0]!.notes ?? [];
    expect(notes.join('\n')).toMatch(new RegExp(`removed the pipe /tmp/holdfast-io\\.[^ ]+ in container ${pg} left by holdfast pid ${pid} \\(that run died\\)`));
    expect(await pipeDirs(pg)).toBe('');
    expect(await pipeWriters(pg)).toBe('');
    expect(await lab.psql(pg, 'SELECT pg_postmaster_start_time()')).toBe(started);
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  }, 180_000);
});
