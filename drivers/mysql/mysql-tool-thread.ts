import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rows, type Connection } from './mysql-connection.js';

/**
 * Finds the server thread of a dump tool that holdfast started, and tells
 * when the tool's own snapshot transaction is open.
 *
 * Which thread: exact where it can be. The tool is the local process whose
 * command line holds its private option-file path (unique per run); its TCP
 * socket's local port is matched against PROCESSLIST.HOST (`127.0.0.1:54321`).
 * When that cannot work (a Unix socket, a NAT in between, no /proc), it is
 * the first connection of the same user opened after the tool started: good
 * enough unless another client of that user connects during the hold.
 *
 * When its snapshot is open: mysqldump and mariadb-dump connect without a
 * database, run START TRANSACTION WITH CONSISTENT SNAPSHOT, and only then
 * select the database they dump (COM_INIT_DB); so PROCESSLIST.DB turning to
 * that database means the snapshot is open (seen in the general log of
 * MariaDB 10.11; the same order in MySQL's mysqldump.cc). INNODB_TRX would
 * say it too, but it is a cache that InnoDB refreshes only after 100 ms
 * without readers (a poll every few milliseconds never sees a new
 * transaction there) and it needs the PROCESS privilege; PROCESSLIST is
 * live, and shows a user's own threads without any privilege.
 */
export type ThreadCheck = 'client-port' | 'connection-order';

export interface ToolThread {
  id: number;
  /** Its snapshot transaction is open. */
  inTransaction: boolean;
  how: ThreadCheck;
}

/** How long to keep trying the exact match before accepting the connection order. */
const EXACT_GRACE_MS = 2000;

interface ThreadRow {
  id: string;
  user: string;
  host: string;
  db: string | null;
}

/**
 * Call before starting the tool (it records the newest connection id), then
 * poll the returned function. `exact` is false when no match by port can
 * work (a Unix socket): then the connection order decides at once.
 */
export async function toolThreadFinder(c: Connection, o: { marker: string; user: string; database: string; exact: boolean }) {
  const [base] = await rows<{ id: string | null }>(c, 'SELECT MAX(ID) AS id FROM information_schema.PROCESSLIST');
  const baseline = Number(base?.id ?? 0);
  const started = Date.now();
  const tryExact = o.exact && existsSync('/proc/self/fd');
  let ports = new Set<number>();
  let found: { id: number; how: ThreadCheck } | undefined;
  const open = (t: ThreadRow) => t.db === o.database;
  const select = (where: string, value: number) =>
    rows<ThreadRow>(c, `SELECT ID AS id, USER AS user, HOST AS host, DB AS db FROM information_schema.PROCESSLIST WHERE ${where} ORDER BY ID`, [value]);
  return async (): Promise<ToolThread | undefined> => {
    if (found) {
      const [t] = await select('ID = ?', found.id);
      return { ...found, inTransaction: !!t && open(t) };
    }
    const threads = await select('ID > ?', baseline);
    if (tryExact) {
      // The port is read once: /proc/<pid>/net/tcp lists every socket of the host and is slow to read.
      if (ports.size === 0) ports = localTcpPorts(processesWith(o.marker));
      const mine = threads.find((t) => ports.has(Number(/:(\d+)$/.exec(t.host)?.[1])));
      if (mine) {
        found = { id: Number(mine.id), how: 'client-port' };
        return { ...found, inTransaction: open(mine) };
      }
      if (Date.now() - started < EXACT_GRACE_MS) return undefined;
    }
    const candidate = threads.find((t) => t.user === o.user && open(t));
    return candidate ? { id: Number(candidate.id), inTransaction: true, how: 'connection-order' } : undefined;
  };
}

/**
 * Local ports of the TCP sockets of these processes (Linux /proc). Reads are
 * synchronous on purpose: procfs answers from memory, and a scan of a few
 * hundred processes takes ~2 ms this way against ~15 ms through promises,
 * which counts while commits are held.
 */
export function localTcpPorts(pids: readonly string[]): Set<number> {
  const ports = new Set<number>();
  for (const pid of pids) {
    const inodes = new Set<string>();
    for (const fd of tryRead(() => readdirSync(`/proc/${pid}/fd`), [] as string[])) {
      const m = /^socket:\[(\d+)\]$/.exec(tryRead(() => readlinkSync(`/proc/${pid}/fd/${fd}`), ''));
      if (m) inodes.add(m[1]!);
    }
    if (inodes.size === 0) continue;
    for (const table of ['tcp', 'tcp6']) {
      for (const line of tryRead(() => readFileSync(`/proc/${pid}/net/${table}`, 'latin1'), '').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':').pop()!, 16));
      }
    }
  }
  return ports;
}

/** Processes whose command line contains `marker`. */
export function processesWith(marker: string): string[] {
  return tryRead(() => readdirSync('/proc'), [] as string[]).filter((pid) => /^\d+$/.test(pid) && tryRead(() => readFileSync(`/proc/${pid}/cmdline`, 'latin1'), '').includes(marker));
}

function tryRead<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback; // the process has gone, or /proc is not there
  }
}
