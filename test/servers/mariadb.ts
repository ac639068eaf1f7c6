/**
 * Start a REAL, throwaway MariaDB server (Debian's mariadbd) for integration tests.
 *
 *   const db = await startMariadb();
 *   const conn = await mysql.createConnection(db.url);   // mysql://root:<pw>@127.0.0.1:<port>/
 *   ...
 *   await db.stop();                                     // shuts down, removes the temp dir
 *
 * Each call: `mariadb-install-db` into a fresh temp dir, then `mariadbd` bound to 127.0.0.1 on a
 * free port with its own socket, pid file, error log and binary log (`--log-bin`, so a backup can
 * record SHOW MASTER STATUS / binlog coordinates). As root it runs as the `mysql` user (mariadbd
 * refuses to run as root). Root gets a random password, over the socket, and may connect over
 * TCP from 127.0.0.1.
 *
 * With `existingDataDir` (and that directory's root password) it starts on a data directory that
 * already exists instead, e.g. one a physical restore produced.
 *
 * Needs the Debian packages: `bash scripts/install/mariadb.sh`.
 * Needs `mysql2` in node_modules (it is a dependency in package.json).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { chown, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";

export interface MariadbServer {
  /** mysql://root:<password>@127.0.0.1:<port>/ */
  url: string;
  host: "127.0.0.1";
  port: number;
  user: "root";
  rootPassword: string;
  /** unix socket of this instance (root may also log in here with the password) */
  socket: string;
  /** temp dir holding data/, the socket, pid file, error log; removed by stop() */
  dir: string;
  dataDir: string;
  /** binlog base name (files are `${binlogBase}.000001`, ...; index `${binlogBase}.index`) */
  binlogBase: string;
  /** e.g. "10.11.19-MariaDB-0+deb12u1-log" (SELECT VERSION()) */
  version: string;
  pid: number;
  /** how long the start took, in ms */
  timings: { installDbMs: number; startMs: number; setupMs: number; totalMs: number };
  /** last lines of the server's error log */
  errorLogTail(lines?: number): Promise<string>;
  /** graceful shutdown (SIGTERM; SIGKILL after a grace period), then remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface StartMariadbOptions {
  /** readiness deadline for mariadbd, ms (default 60000) */
  timeoutMs?: number;
  /** parent of the temp dir (default os.tmpdir()) */
  tmpRoot?: string;
  /** extra mariadbd arguments, e.g. ["--binlog-format=ROW", "--gtid-strict-mode=1"] */
  extraArgs?: string[];
  /** root password to set (default: random hex) */
  rootPassword?: string;
  /** TCP port (default: a free port found by binding port 0 on 127.0.0.1) */
  port?: number;
  /** keep the data dir on stop() (for debugging) */
  keepDir?: boolean;
  /**
   * Start on an existing data directory (a restored physical backup) instead of a new one:
   * no mariadb-install-db, root keeps the password it has there (pass it as rootPassword),
   * and stop() leaves that directory alone.
   */
  existingDataDir?: string;
}

/** Resolve a MariaDB binary: $HOLDFAST_<NAME>, /usr/sbin, /usr/bin, then PATH. */
export function mariadbBinary(name: "mariadbd" | "mariadb-install-db" | "mariadb" | "mariadb-dump" | "mariadb-backup"): string {
  const env = process.env[`HOLDFAST_${name.toUpperCase().replace(/-/g, "_")}`];
  if (env) return env;
  for (const d of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** True when the MariaDB server packages are installed (for `describe.skipIf(!mariadbAvailable())`). */
export function mariadbAvailable(): boolean {
  return existsSync(mariadbBinary("mariadbd")) && existsSync(mariadbBinary("mariadb-install-db"));
}

/** A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr && typeof addr === "object") {
        const p = addr.port;
        srv.close(() => resolvePort(p));
      } else {
        srv.close(() => reject(new Error("could not read bound port")));
      }
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function tail(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.split("\n").slice(-lines - 1).join("\n").trimEnd();
  } catch {
    return "(no error log)";
  }
}

/** The `mysql` system user, when we are root (mariadbd refuses to run as root without --user). */
function mysqlUser(): { name: string; uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const r = spawnSync("id", ["-u", "mysql"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "mysql"], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0) {
    throw new Error("running as root but there is no `mysql` user; run: bash scripts/install/mariadb.sh");
  }
  return { name: "mysql", uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
    child.stderr.on("data", (b: Buffer) => (out += b.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

// Every live instance, so a crashing test process does not leave mariadbd running.
const live = new Map<ChildProcess, string | undefined>(); // child -> dir to remove
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [c, dir] of live) {
      c.kill("SIGKILL");
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
}

export async function startMariadb(opts: StartMariadbOptions = {}): Promise<MariadbServer> {
  const t0 = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const rootPassword = opts.rootPassword ?? randomBytes(12).toString("hex");
  const mariadbd = mariadbBinary("mariadbd");
  const installDb = mariadbBinary("mariadb-install-db");
  if (!existsSync(mariadbd) && mariadbd.startsWith("/")) {
    throw new Error(`${mariadbd} not found; run: bash scripts/install/mariadb.sh`);
  }
  const asUser = mysqlUser();

  const dir = await mkdtemp(join(opts.tmpRoot ?? tmpdir(), "holdfast-mariadb-"));
  const existing = opts.existingDataDir;
  if (existing && opts.rootPassword === undefined) throw new Error("existingDataDir needs the rootPassword stored in that data directory");
  const dataDir = existing ?? join(dir, "data");
  const tmp = join(dir, "tmp");
  if (!existing) await mkdir(dataDir);
  await mkdir(tmp);
  if (asUser) {
    for (const p of existing ? [dir, tmp] : [dir, dataDir, tmp]) await chown(p, asUser.uid, asUser.gid);
  }
  const socket = join(dir, "mariadb.sock");
  const pidFile = join(dir, "mariadb.pid");
  const errorLog = join(dir, "error.log");
  const binlogBase = join(dir, "binlog");
  const userArgs = asUser ? [`--user=${asUser.name}`] : [];
  const cleanupDir = () => (opts.keepDir ? Promise.resolve() : rm(dir, { recursive: true, force: true }));

  // 1) system tables (not for an existing data directory)
  const tInstall = Date.now();
  const inst = existing ? { code: 0, out: "" } : await run(
    installDb,
    [
      "--no-defaults",
      `--datadir=${dataDir}`,
      ...userArgs,
      "--auth-root-authentication-method=normal", // root@localhost, empty password, no unix_socket auth
      "--skip-test-db",
      "--skip-name-resolve",
      `--tmpdir=${tmp}`,
    ],
    120_000,
  ).catch(async (e: Error) => {
    await cleanupDir();
    throw new Error(`could not run ${installDb}: ${e.message} (run: bash scripts/install/mariadb.sh)`);
  });
  if (inst.code !== 0) {
    await cleanupDir();
    throw new Error(`${installDb} failed (exit ${inst.code}):\n${inst.out.split("\n").slice(-30).join("\n")}`);
  }
  const installDbMs = Date.now() - tInstall;

  // 2) the server; retry on a port taken between freePort() and bind
  installExitHook();
  const tStart = Date.now();
  let child: ChildProcess | undefined;
  let port = 0;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  // read through a function: set by an event handler, which flow analysis cannot see
  const exitNow = () => exitInfo;
  let exited: Promise<void> = Promise.resolve();
  let args: string[] = [];
  for (let attempt = 1; ; attempt++) {
    port = opts.port ?? (await freePort());
    args = [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--pid-file=${pidFile}`,
      `--log-error=${errorLog}`,
      `--tmpdir=${tmp}`,
      "--bind-address=127.0.0.1",
      `--port=${port}`,
      `--log-bin=${binlogBase}`,
      "--server-id=1",
      "--skip-name-resolve",
      "--innodb-buffer-pool-size=64M",
      "--character-set-server=utf8mb4", // the compiled-in default is latin1
      "--collation-server=utf8mb4_unicode_ci",
      ...userArgs,
      ...(opts.extraArgs ?? []),
    ];
    exitInfo = undefined;
    const c = spawn(mariadbd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    c.stderr!.on("data", (b: Buffer) => (stderr = (stderr + b.toString("utf8")).slice(-4000)));
    exited = new Promise<void>((res) =>
      c.once("exit", (code, signal) => {
        exitInfo = { code, signal };
        live.delete(c);
        res();
      }),
    );
    let spawnError: Error | undefined;
    c.once("error", (e) => (spawnError = e));
    live.set(c, opts.keepDir ? undefined : dir);
    child = c;

    // 3) bounded readiness wait: a socket login as root (empty password at this point)
    const deadline = Date.now() + timeoutMs;
    let lastErr = "";
    let ready = false;
    while (Date.now() < deadline) {
      if (spawnError) break;
      if (exitNow()) break;
      if (existsSync(socket)) {
        try {
          const conn = await mysql.createConnection({ socketPath: socket, user: "root", password: existing ? rootPassword : "", connectTimeout: 2000 });
          await conn.end();
          ready = true;
          break;
        } catch (e) {
          lastErr = (e as Error).message;
        }
      }
      await sleep(50);
    }
    if (ready) break;

    const log = await tail(errorLog, 40);
    const portTaken = /Address already in use|Can't start server: Bind on TCP\/IP port/i.test(log);
    if (!exitNow()) {
      c.kill("SIGKILL");
      await exited;
    }
    if (portTaken && opts.port === undefined && attempt < 3) {
      await rm(socket, { force: true });
      continue;
    }
    await cleanupDir();
    const why = spawnError
      ? `could not spawn ${mariadbd}: ${spawnError.message}`
      : exitNow()
        ? `mariadbd exited early (code ${exitNow()?.code}, signal ${exitNow()?.signal})`
        : `not ready within ${timeoutMs} ms (last error: ${lastErr || "socket not created"})`;
    throw new Error(
      `MariaDB did not become ready: ${why}\ncommand: ${mariadbd} ${args.join(" ")}\n` +
        `--- error log tail ---\n${log}\n${stderr ? `--- stderr ---\n${stderr}` : ""}`,
    );
  }
  const startMs = Date.now() - tStart;
  const server = child!;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exitNow()) {
      server.kill("SIGTERM"); // mariadbd: clean shutdown
      const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000).unref());
      if ((await Promise.race([exited.then(() => "exited" as const), grace])) === "timeout") {
        server.kill("SIGKILL");
        await exited;
      }
    }
    await cleanupDir();
  };

  // 4) root password over the socket; root over TCP from 127.0.0.1
  const tSetup = Date.now();
  let version = "";
  try {
    const conn = existing ? undefined : await mysql.createConnection({ socketPath: socket, user: "root", password: "" });
    if (conn) try {
      // mariadb-install-db creates root@localhost, and (depending on version/flags) root@127.0.0.1,
      // root@::1 and root@<hostname>, all without a password: give every root the password.
      await conn.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'");
      await conn.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
      const [hosts] = await conn.query("SELECT Host AS h FROM mysql.global_priv WHERE User = 'root'");
      const loopback = new Set(["localhost", "127.0.0.1", "::1"]);
      let deleted = false;
      for (const { h } of hosts as Array<{ h: string }>) {
        if (loopback.has(h)) {
          await conn.query("ALTER USER 'root'@? IDENTIFIED BY ?", [h, rootPassword]);
        } else {
          // root@<hostname> is unusable under --skip-name-resolve (and ALTER/DROP refuse it)
          await conn.query("DELETE FROM mysql.global_priv WHERE User = 'root' AND Host = ?", [h]);
          await conn.query("DELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host = ?", [h]);
          deleted = true;
        }
      }
      if (deleted) await conn.query("FLUSH PRIVILEGES");
      // anonymous accounts would shadow root@127.0.0.1 logins on some setups
      const [anon] = await conn.query("SELECT Host AS h FROM mysql.global_priv WHERE User = ''");
      for (const { h } of anon as Array<{ h: string }>) await conn.query("DROP USER ''@?", [h]);
      const [rows] = await conn.query("SELECT VERSION() AS v");
      version = String((rows as Array<{ v: string }>)[0]?.v ?? "");
    } finally {
      await conn.end();
    }
    // prove TCP login works before handing it out
    const tcp = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", password: rootPassword });
    if (existing) {
      const [rows] = await tcp.query("SELECT VERSION() AS v");
      version = String((rows as Array<{ v: string }>)[0]?.v ?? "");
    }
    await tcp.end();
  } catch (e) {
    const log = await tail(errorLog, 30);
    await stop();
    throw new Error(`MariaDB started but setting up root failed: ${(e as Error).message}\n--- error log tail ---\n${log}`);
  }
  const setupMs = Date.now() - tSetup;

  return {
    url: `mysql://root:${encodeURIComponent(rootPassword)}@127.0.0.1:${port}/`,
    host: "127.0.0.1",
    port,
    user: "root",
    rootPassword,
    socket,
    dir,
    dataDir,
    binlogBase,
    version,
    pid: server.pid ?? -1,
    timings: { installDbMs, startMs, setupMs, totalMs: Date.now() - t0 },
    errorLogTail: (lines = 40) => tail(errorLog, lines),
    stop,
  };
}
