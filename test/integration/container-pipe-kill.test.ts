import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { connectDocker } from '../../src/docker/docker-client.js';
import { ContainerPlace } from '../../src/place/container-place.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { mariadbContainer, mariadbSql, ensureMariadbImage } from '../support/mariadb-container.js';

interface Doc {
  services: Array<{ service: string; status: string; notes?: string[] }>;
}

// kill -9 of holdfast in the middle of a dump through a container pipe (issue 14,
// src/place/container-pipe-sweep.ts): the tool in the container must not stay behind holding its
// transaction (PostgreSQL: pg_dump blocked on a lock another session holds, so "mid-dump" is certain),
// no session of the dead run may stay (MariaDB: its tunnel's connection), the pipe directory must go,
// and the next command says what it cleaned. Only holdfast's pid is killed, as the OOM killer would.
describe.runIf(process.getuid?.() === 0)('kill -9 mid-dump through a container pipe', () => {
  const lab = new DockerLab();
  let repo: string;
  const lockers: ChildProcess[] = [];

  /** Pids and command names of processes in the container that write into a holdfast pipe. */
  const pipeWriters = (name: string) =>
    docker(['exec', name, 'sh', '-c', 'for p in /proc/[0-9]*; do if grep -aq "HOLDFAST_[A-Z_]*=/tmp/holdfast-io" $p/environ 2>/dev/null; then echo "${p#/proc/} $(cat $p/comm)"; fi; done']);
  /** Pids of the processes in the container named `tool`, whatever they write into. */
  const toolPids = (name: string, tool: string) => docker(['exec', name, 'sh', '-c', 'for p in /proc/[0-9]*; do if [ "$(cat $p/comm 2>/dev/null)" = "$1" ]; then echo "${p#/proc/}"; fi; done', 'list', tool]);
  const pipeDirs = (name: string) => docker(['exec', name, 'sh', '-c', 'ls -d /tmp/holdfast-io.* 2>/dev/null || true']);

  /** A session that holds `sql` (a lock) open until the test ends it; resolves once the lock is taken. */
  async function holdOpen(argv: string[], sql: string): Promise<ChildProcess> {
    const child = spawn(process.env.HOLDFAST_DOCKER_CLI ?? '/usr/bin/docker', ['exec', '-i', ...argv], { env: process.env, stdio: ['pipe', 'pipe', 'inherit'] });
    lockers.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin!.write(`${sql}\nSELECT 'locked';\n`);
    await waitFor('the lock', async () => (out.includes('locked') ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    return child;
  }

  const tag = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  /** A pid of this host that is gone: the owner of a dead run's pipe. */
  async function deadPid(): Promise<number> {
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    return gone.pid!;
  }

  /**
   * Starts a backup, waits until its tool sits in the container writing into a pipe while `busy` says it is
   * in the data (a dump of another database may come and go first), kills holdfast with -9.
   */
  async function killMidDump(args: string[], container: string, tool: string, busy: () => Promise<boolean>, env = lab.env()): Promise<number> {
    let pid = 0;
    const running = holdfast(['--repo', repo, 'backup', ...args, '--json'], env, { onSpawn: (p) => (pid = p) });
    let ended = '';
    void running.then((r) => (ended = `the backup ended first (${r.code}): ${r.stdout}${r.stderr}`));
    await waitFor(`${tool} writing into a pipe`, async () => (ended || ((await toolPids(container, tool)) !== '' && (await busy())) ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
    expect(ended).toBe('');
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

  test('PostgreSQL: pg_dump, its pipe and the snapshot session go with holdfast; an orphaned writer is named, not signalled', async () => {
    const pg = await lab.postgres('pg', await freePort());
    await lab.psql(pg, 'CREATE DATABASE shop');
    await lab.psql(pg, "CREATE TABLE orders (id int PRIMARY KEY, what text); INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 100) g", 'shop');
    // A process in the container that dies by a signal after its parent is gone is reaped by PID 1, the postmaster,
    // which then restarts the server as after a crash: nothing holdfast does may cause that.
    const started = await lab.psql(pg, 'SELECT pg_postmaster_start_time()');
    const locker = await holdOpen([pg, 'psql', '-X', '-q', '-U', 'postgres', '-d', 'shop'], 'BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;');
    const blocked = async () => (await lab.psql(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'holdfast' AND wait_event_type = 'Lock'")) !== '0';
    await killMidDump(['--service', `db=container:${pg}`, '--fingerprint', 'none'], pg, 'pg_dump', blocked);

    // Nothing of the dead run may go on holding a snapshot or a lock in the database.
    const holdfastSessions = () => lab.psql(pg, "SELECT coalesce(string_agg(state || ': ' || left(query, 60), ' | '), '') FROM pg_stat_activity WHERE application_name = 'holdfast' AND pid <> pg_backend_pid()");
    await waitFor('no session of the dead run', async () => ((await holdfastSessions()) === '' ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 }).catch(() => undefined);
    expect(await holdfastSessions()).toBe('');
    expect(await pipeWriters(pg)).toBe('');
    // The exec that ran pg_dump also made its pipe, and removes it when holdfast's side ends (container-pipe.ts
    // RUN_INTO_PIPE): nothing is left for the next command to sweep (the orphan below is what a sweep is for).
    await waitFor('the dead run\'s pipe removed by its own exec', async () => ((await pipeDirs(pg)) === '' ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 }).catch(() => undefined);
    expect(await pipeDirs(pg)).toBe('');

    locker.stdin!.end('COMMIT;\n');
    const next = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${pg}`, '--fingerprint', 'none', '--json'], lab.env());
    expect(next.code, next.stderr + next.stdout).toBe(0);
    expect((next.json<Doc>().services[0]!.notes ?? []).join('\n'), next.stdout).not.toMatch(/removed the pipe/);
    expect(await pipeDirs(pg)).toBe('');
    expect(await pipeWriters(pg)).toBe('');
    expect(await lab.psql(pg, 'SELECT pg_postmaster_start_time()')).toBe(started);
    expect(await lab.helpers()).toEqual([]);

    // A writer orphaned to the postmaster (the container's PID 1) is left, and said: its death by a signal would restart the server.
    const owner = await deadPid();
    const orphaned = `/tmp/holdfast-io.${tag}.${owner}.orphan`;
    await docker(['exec', pg, 'sh', '-c', `mkdir -m 700 ${orphaned} && mkfifo ${orphaned}/pipe`]);
    await docker(['exec', '-e', `HOLDFAST_PIPE_OUT=${orphaned}/pipe`, pg, 'sh', '-c', 'sleep 600 > "$HOLDFAST_PIPE_OUT" & exit 0']);
    await waitFor('the orphan', async () => ((await pipeWriters(pg)) !== '' ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    const third = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${pg}`, '--fingerprint', 'none', '--json'], lab.env());
    expect(third.code, third.stderr + third.stdout).toBe(0);
    expect((third.json<Doc>().services[0]!.notes ?? []).join('\n')).toMatch(
      new RegExp(`removed the pipe ${orphaned.replace(/\./g, '\\.')} in container ${pg} left by holdfast pid ${owner} \\(that run died\\); left sh \\(pid \\d+\\) running: its parent is PostgreSQL's postmaster`),
    );
    expect(await pipeWriters(pg)).not.toBe('');
    expect(await lab.psql(pg, 'SELECT pg_postmaster_start_time()')).toBe(started);

    // Through the exec's own stream (no pipe: another machine, not root), pg_dump goes with holdfast too.
    const again = await holdOpen([pg, 'psql', '-X', '-q', '-U', 'postgres', '-d', 'shop'], 'BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;');
    await killMidDump(['--service', `db=container:${pg}`, '--fingerprint', 'none'], pg, 'pg_dump', blocked, lab.env({ HOLDFAST_EXEC_STREAM: '1' }));
    await waitFor('no session of the dead run', async () => ((await holdfastSessions()) === '' ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 }).catch(() => undefined);
    expect(await holdfastSessions()).toBe('');
    expect(await toolPids(pg, 'pg_dump')).toBe('');
    again.stdin!.end('COMMIT;\n');
    expect(await lab.psql(pg, 'SELECT pg_postmaster_start_time()')).toBe(started);
    expect(await lab.held()).toEqual([]);
  }, 180_000);

  test('MariaDB: mariadb-dump goes with holdfast, no commit hold stays, and its exec removes the pipe (nothing left to sweep)', async () => {
    const maria = await mariadbContainer(lab, 'maria', { env: ['-e', 'MARIADB_ROOT_PASSWORD=kill-test-pw'] });
    // Any lock that would stop mariadb-dump mid-way also stops the commit hold before it (BACKUP STAGE): so enough
    // rows (~120 MB of dump) that the dump is still running when holdfast is killed.
    await mariadbSql(maria, "SET SESSION max_recursive_iterations = 100000; CREATE DATABASE shop; CREATE TABLE shop.orders (id int PRIMARY KEY, what text) ENGINE=InnoDB; INSERT INTO shop.orders WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 60000) SELECT n, concat(n, repeat(md5(n), 60)) FROM s");
    const reading = async () => (await mariadbSql(maria, "SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%FROM `orders`%'")) !== '0';
    const pid = await killMidDump(['--service', `db=container:${maria}`, '--strategy', 'db=dump', '--fingerprint', 'none'], maria, 'mariadb-dump', reading);

    // No connection of the dead run may stay (a dump's snapshot, a BACKUP STAGE hold): only root's own two (the lock, this query).
    const others = () => mariadbSql(maria, "SELECT count(*) FROM information_schema.processlist WHERE id <> connection_id() AND command <> 'Daemon' AND NOT (user = 'root' AND host = 'localhost')");
    await waitFor('no connection of the dead run', async () => ((await others()) === '0' ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 }).catch(() => undefined);
    expect(await mariadbSql(maria, "SELECT coalesce(group_concat(concat(user, '@', host, ': ', command, ' ', coalesce(state, ''), ' ', left(coalesce(info, ''), 50)) SEPARATOR ' | '), '') FROM information_schema.processlist WHERE id <> connection_id() AND command <> 'Daemon' AND NOT (user = 'root' AND host = 'localhost')")).toBe('');
    expect(await pipeWriters(maria)).toBe('');
    // The dump's exec made its pipe and removes it when holdfast's side ends (RUN_INTO_PIPE, as for PostgreSQL);
    // a pipe made by an exec of its own used to stay for the next command's sweep.
    await waitFor('the dead run\'s pipe removed by its own exec', async () => ((await pipeDirs(maria)) === '' ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 }).catch(() => undefined);
    expect(await pipeDirs(maria)).toBe('');

    const next = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${maria}`, '--strategy', 'db=dump', '--fingerprint', 'none', '--json'], lab.env());
    expect(next.code, next.stderr + next.stdout).toBe(0);
    const notes = next.json<Doc>().services[0]!.notes ?? [];
    expect(notes.join('\n'), `the run of pid ${pid} left nothing`).not.toMatch(/removed the pipe/);
    expect(await pipeDirs(maria)).toBe('');
    expect(await lab.helpers()).toEqual([]);

    // What an older holdfast (or a wrapper killed first) could leave: the next backup's sweep removes it, from the
    // listing its probe made (mysql-container.ts: no exec of its own), and stops the writer.
    const owner = await deadPid();
    const left = `/tmp/holdfast-io.${tag}.${owner}.maria1`;
    await docker(['exec', maria, 'sh', '-c', `mkdir -m 700 ${left} && mkfifo ${left}/pipe`]);
    await docker(['exec', '-e', `HOLDFAST_PIPE_OUT=${left}/pipe`, maria, 'sh', '-c', 'sleep 600 > "$HOLDFAST_PIPE_OUT" & exit 0']);
    await waitFor('the leftover writer', async () => ((await pipeWriters(maria)) !== '' ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    const swept = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${maria}`, '--strategy', 'db=dump', '--fingerprint', 'none', '--json'], lab.env());
    expect(swept.code, swept.stderr + swept.stdout).toBe(0);
    expect((swept.json<Doc>().services[0]!.notes ?? []).join('\n')).toMatch(new RegExp(`removed the pipe ${left.replace(/\./g, '\\.')} in container ${maria} left by holdfast pid ${owner} \\(that run died\\), and stopped sh \\(pid \\d+ in the container\\)`));
    expect(await pipeDirs(maria)).toBe('');
    expect(await pipeWriters(maria)).toBe('');

    // Through the exec's own stream the dump is watched the same way (the wrapper's HOLDFAST_MY_WATCH branch): it works.
    // (Its kill -9 is not asserted here: with no lock to block it, an orphaned dump also ends by itself within ~1 s.)
    const streamed = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${maria}`, '--strategy', 'db=dump', '--fingerprint', 'none', '--json'], lab.env({ HOLDFAST_EXEC_STREAM: '1' }));
    expect(streamed.code, streamed.stderr + streamed.stdout).toBe(0);
    expect(streamed.json<{ services: Array<{ bytes: number }> }>().services[0]!.bytes).toBeGreaterThan(100_000_000);
    expect(await toolPids(maria, 'mariadb-dump')).toBe('');
  }, 180_000);

  test('the sweep stops and removes only what a dead run of this host left; a live run, another host and anyone else are untouched', async () => {
    const box = await lab.run('box', [IMAGES.busybox, 'sleep', '600']);
    const gone = { pid: await deadPid() };
    const dead = `/tmp/holdfast-io.${tag}.${gone.pid}.aaaaaa`;
    const live = `/tmp/holdfast-io.${tag}.${process.pid}.bbbbbb`;
    const elsewhere = `/tmp/holdfast-io.${tag === '00000000' ? '11111111' : '00000000'}.${gone.pid}.cccccc`;
    await docker(['exec', box, 'sh', '-c', `for d in ${dead} ${live} ${elsewhere}; do mkdir -m 700 $d && mkfifo $d/pipe; done`]);
    // Writers blocked on opening their pipe (nobody reads): one started by the exec itself, one as a child of a waiting shell.
    for (const dir of [dead, live, elsewhere]) {
      await docker(['exec', '-d', '-e', `HOLDFAST_PIPE_OUT=${dir}/pipe`, box, 'sh', '-c', 'exec sleep 600 > "$HOLDFAST_PIPE_OUT"']);
      await docker(['exec', '-d', '-e', `HOLDFAST_PIPE_OUT=${dir}/pipe`, box, 'sh', '-c', 'sleep 600 > "$HOLDFAST_PIPE_OUT" & wait']);
    }
    // And one orphaned to the container's PID 1 (sleep here, not a postmaster: it is stopped).
    await docker(['exec', '-e', `HOLDFAST_PIPE_OUT=${dead}/pipe`, box, 'sh', '-c', 'sleep 600 > "$HOLDFAST_PIPE_OUT" & exit 0']);
    await docker(['exec', '-d', box, 'sleep', '600']);
    const sleepers = () => docker(['exec', box, 'sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done | grep -c "^sleep 600 $"']);
    await waitFor('the writers', async () => ((await pipeWriters(box)).split('\n').length === 10 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    expect(await sleepers()).toBe('2');

    const notes: string[] = [];
    const place = await ContainerPlace.open(box, { service: 'box', engine: 'test', api: connectDocker(), note: (t: string) => notes.push(t) });
    expect((await (await place.run(['true'])).done).exitCode).toBe(0);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(new RegExp(`^removed the pipe ${dead.replace(/\./g, '\\.')} in container ${box} left by holdfast pid ${gone.pid} \\(that run died\\), and stopped sh \\(pid \\d+ in the container\\)(, sh \\(pid \\d+ in the container\\))+ still writing into it$`));
    expect((await pipeDirs(box)).split('\n').sort()).toEqual([elsewhere, live].sort());
    // The dead run's four writers (three shells and a child) are gone; the live run's and the other host's six stay, and so does anyone else's sleep.
    expect((await pipeWriters(box)).split('\n')).toHaveLength(6);
    expect(await sleepers()).toBe('2');
    // A second place of the same run sweeps again and finds nothing more.
    const again: string[] = [];
    const second = await ContainerPlace.open(box, { service: 'box', engine: 'test', api: connectDocker(), note: (t: string) => again.push(t) });
    await (await second.run(['true'])).done;
    expect(again).toEqual([]);
  }, 60_000);
});
