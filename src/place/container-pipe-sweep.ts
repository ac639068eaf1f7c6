import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { DockerApi } from '../docker/docker-api.js';
import { pidAlive } from '../docker/docker-helper.js';

/**
 * What a holdfast killed with -9 leaves in a service container when it died
 * in the middle of a dump through a pipe (container-pipe.ts), and how it is
 * cleaned. Measured on the test dockerd: a process that docker exec started
 * is NOT stopped when the client's connection drops. A tool blocked on a lock
 * (or on opening the pipe, when holdfast died before its read end was open)
 * then stays forever, holding its transaction, and the pipe's directory
 * stays in /tmp. What an exec with stdin attached sees, though, is EOF on
 * its stdin (measured too): so the psql session that holds the exported
 * snapshot ends by itself, and the tool writing into the pipe is started
 * with a watcher on stdin (WATCHED_WRITE) that stops it when holdfast goes.
 *
 * Every process that dies by a signal must be reaped by its own parent:
 * one that is orphaned first is reaped by the container's PID 1, and a
 * postmaster as PID 1 takes any child that died by a signal for a crashed
 * backend and restarts the whole server (seen on the test dockerd: "server
 * process (PID 103) was terminated by signal 15", then recovery). So the
 * wrapper waits for what it kills, and the sweep stops a writer while its
 * parent lives (or one the exec started, which the runtime reaps), and
 * leaves, and reports, one orphaned to a postmaster as PID 1.
 *
 * For what is left anyway (a run of an older holdfast, a wrapper killed
 * first), the directory is named after its owner:
 * /tmp/holdfast-io.<host tag>.<pid>.XXXXXX. The next command that works in
 * the container (one sweep per place, before its first command) finds
 * directories whose owner is a pid of this host that is gone, stops the
 * processes whose environment names that pipe (HOLDFAST_PIPE_OUT; an older
 * holdfast's MariaDB dumps named it HOLDFAST_MY_OUT), removes the directory, and says so. A process is
 * stopped only if its environment names the pipe of a dead run of this
 * host: nothing of a live run, another host, or anyone else is touched.
 */

/** This host, in a pipe directory's name: the hostname hashed (a name of any characters, 8 hex digits). */
export function hostTag(): string {
  return createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
}

/** The prefix of this run's pipe directories: mktemp appends six characters. */
export function pipePrefix(): string {
  return `/tmp/holdfast-io.${hostTag()}.${process.pid}.`;
}

/** The owner a pipe directory's name records, undefined for a name without one (an older holdfast's). */
export function pipeOwner(dir: string): { host: string; pid: number } | undefined {
  const m = /^\/tmp\/holdfast-io\.([0-9a-f]{8})\.(\d+)\.[A-Za-z0-9]+$/.exec(dir);
  return m ? { host: m[1]!, pid: Number(m[2]) } : undefined;
}

/**
 * Fixed sh text, run as `sh -c WATCHED name ARGV...` by an exec with stdin
 * attached that holdfast keeps open and never writes: runs ARGV (its stdout
 * the exec's, or with WATCHED_WRITE $HOLDFAST_PIPE_OUT) and stops it when
 * stdin ends (holdfast died or aborted the exec). The exit status is ARGV's.
 * The tool's stdin is /dev/null; the watcher is one shell process, blocked
 * in `read`. Only for a tool that reads no stdin (a dump): one that does sees
 * its input end with holdfast anyway.
 */
/**
 * Fixed sh text: a background watcher that reads fd 3 (a copy of the exec's stdin) until it ends, then stops the
 * tool whose pid is $p. TERM first; a tool that takes TERM as "finish up" gets KILL a second later (mongodump ran
 * on 5.5 s after TERM, measured in test/integration/mongodb-container-kill.test.ts). The tool is still the
 * shell's child, so the shell reaps it (see above why that matters).
 */
export const STOP_WITH_STDIN = '{ while read -r _ <&3; do :; done; kill -TERM "$p" 2>/dev/null && sleep 1 && kill -KILL "$p" 2>/dev/null; } &';

function watched(redirect: string): string {
  return [
    'exec 3<&0 </dev/null',
    `"$@"${redirect} 3<&- &`,
    'p=$!',
    STOP_WITH_STDIN,
    'w=$!',
    'exec 3<&-',
    'wait "$p"; s=$?',
    // Reaped here, not orphaned to the container's PID 1 (a postmaster restarts on a child killed by a signal).
    'kill "$w" 2>/dev/null; wait "$w" 2>/dev/null',
    'exit "$s"',
  ].join('\n');
}

export const WATCHED = watched('');
export const WATCHED_WRITE = watched(' > "$HOLDFAST_PIPE_OUT"');

// Fixed text: the pipe directories in /tmp, then every process whose environment names a holdfast pipe. The sweep's
// own exec runs LISTING; a container's first probe runs it too (service-place.ts: LISTING at its end; mysql-container.ts:
// LISTING_LINES in a subshell, as they set $p, the wrapper's password) and leaves the answer here (rememberListing) for
// the sweep that follows.
export const LISTING_LINES = [
  'for d in /tmp/holdfast-io.*; do if [ -d "$d" ] && [ ! -L "$d" ]; then echo "dir $d"; fi; done',
  'for p in /proc/[0-9]*; do',
  '  for e in $(grep -ao "HOLDFAST_[A-Z_]*=/tmp/holdfast-io\\.[A-Za-z0-9.]*/pipe" "$p/environ" 2>/dev/null); do',
  '    echo "proc ${p#/proc/} ${e#*=} $(cat "$p/comm" 2>/dev/null)"',
  '  done',
  'done',
].join('\n');
export const LISTING = `${LISTING_LINES}\nexit 0`;

// A listing younger than this, made by a probe of the same container, stands in for the sweep's own (an exec, 40-50 ms).
// A dead run's pipe stays dead in between; one that dies in these seconds is found by the next command.
const LISTING_TTL_MS = 10_000;
const listings = new Map<string, { at: number; text: string }>();

/** Keeps the output of a probe that ran LISTING in container `id`, for the sweep that follows (used once). */
export function rememberListing(containerId: string, text: string): void {
  listings.set(containerId, { at: Date.now(), text });
}

function recentListing(containerId: string): string | undefined {
  const known = listings.get(containerId);
  listings.delete(containerId);
  return known && Date.now() - known.at < LISTING_TTL_MS ? known.text : undefined;
}

// Fixed text, `sh -c CLEAN name DIR PID...`: a PID is stopped only if its environment still names DIR's pipe (a
// pid reused since the listing is left alone). First those whose parent lives (it reaps them: the wrapper's tool and
// watcher), then those the exec started (parent 0 in the container: the runtime reaps them) or orphaned to PID 1;
// one orphaned to a postmaster as PID 1 is left and reported (its death by a signal restarts the server). Then the
// directory goes. Prints "stopped PID" / "left PID".
const CLEAN = [
  'd=$1; shift',
  // grep -o, not -q: busybox grep matches no fixed string across the NULs of an environ file; -o picks each variable.
  'ours() { for e in $(grep -ao "HOLDFAST_[A-Z_]*=/tmp/holdfast-io\\.[A-Za-z0-9.]*/pipe" "/proc/$1/environ" 2>/dev/null); do [ "${e#*=}" = "$d/pipe" ] && return 0; done; return 1; }',
  'parent() { sed -n "s/^PPid:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null; }',
  'init=$(cat /proc/1/comm 2>/dev/null)',
  'for round in child exec; do',
  '  for p; do',
  '    ours "$p" || continue',
  '    pp=$(parent "$p")',
  '    case "$round:$pp" in',
  '      child:0|child:1|child:|exec:) continue ;;',
  '      exec:1) if [ "$init" = postgres ]; then echo "left $p"; continue; fi ;;',
  '      exec:0) ;;',
  '      exec:*) continue ;;',
  '    esac',
  '    if kill -KILL "$p" 2>/dev/null; then echo "stopped $p"; fi',
  '  done',
  '  sleep 0.2',
  'done',
  'rm -rf -- "$d"',
].join('\n');

export interface CleanedPipe {
  dir: string;
  /** The holdfast that made it (dead). */
  owner: number;
  /** The processes stopped that wrote into it, with their command names. */
  stopped: Array<{ pid: number; name: string }>;
  /** Writers left running: orphaned to a postmaster as the container's PID 1, which would take their death for a crash. */
  left: Array<{ pid: number; name: string }>;
}

async function execText(api: DockerApi, id: string, cmd: string[], signal?: AbortSignal): Promise<string> {
  const run = await api.exec(id, { cmd, ...(signal ? { signal } : {}) });
  let out = '';
  run.stdout.setEncoding('utf8');
  run.stdout.on('data', (d: string) => (out += d));
  const exit = await run.done;
  return exit.exitCode === 0 ? out : '';
}

/**
 * Finds the pipes of dead holdfast runs of this host in a container and
 * cleans them (see above). Never throws: an image without sh or grep has
 * nothing holdfast could have left (it makes no pipe there either).
 */
export async function sweepDeadPipes(api: DockerApi, containerId: string, signal?: AbortSignal): Promise<CleanedPipe[]> {
  const listed = recentListing(containerId) ?? (await execText(api, containerId, ['sh', '-c', LISTING, 'holdfast-sweep'], signal).catch(() => ''));
  const here = hostTag();
  const dead = new Map<string, CleanedPipe>();
  const writers = new Map<string, Array<{ pid: number; name: string }>>();
  for (const line of listed.split('\n')) {
    const [kind, ...rest] = line.split(' ');
    if (kind === 'dir' && rest.length === 1) {
      const owner = pipeOwner(rest[0]!);
      if (owner && owner.host === here && owner.pid !== process.pid && !pidAlive(owner.pid)) dead.set(rest[0]!, { dir: rest[0]!, owner: owner.pid, stopped: [], left: [] });
    } else if (kind === 'proc' && rest.length >= 2) {
      const dir = rest[1]!.replace(/\/pipe$/, '');
      writers.set(dir, [...(writers.get(dir) ?? []), { pid: Number(rest[0]), name: rest.slice(2).join(' ') || 'a process' }]);
    }
  }
  const cleaned: CleanedPipe[] = [];
  for (const pipe of dead.values()) {
    const candidates = (writers.get(pipe.dir) ?? []).filter((w) => Number.isInteger(w.pid) && w.pid > 0);
    const out = await execText(api, containerId, ['sh', '-c', CLEAN, 'holdfast-sweep', pipe.dir, ...candidates.map((w) => String(w.pid))], signal).catch(() => undefined);
    if (out === undefined) continue;
    const said = (word: string) => new Set(out.split('\n').filter((l) => l.startsWith(`${word} `)).map((l) => Number(l.slice(word.length + 1))));
    const [stopped, left] = [said('stopped'), said('left')];
    cleaned.push({ ...pipe, stopped: candidates.filter((w) => stopped.has(w.pid)), left: candidates.filter((w) => left.has(w.pid)) });
  }
  return cleaned;
}

/** One line for the command's notes: what was cleaned and whose it was. */
export function describeCleaned(c: CleanedPipe, containerName: string): string {
  const stopped = c.stopped.length ? `, and stopped ${c.stopped.map((w) => `${w.name} (pid ${w.pid} in the container)`).join(', ')} still writing into it` : '';
  const left = c.left.length ? `; left ${c.left.map((w) => `${w.name} (pid ${w.pid})`).join(', ')} running: its parent is PostgreSQL's postmaster (the container's PID 1), which restarts the server when a child of it is killed (end it with pg_terminate_backend on its session, or a restart of the container)` : '';
  return `removed the pipe ${c.dir} in container ${containerName} left by holdfast pid ${c.owner} (that run died)${stopped}${left}`;
}
