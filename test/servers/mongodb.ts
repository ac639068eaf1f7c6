/**
 * Start a throwaway MongoDB-wire server for integration tests.
 *
 *   const m = await startMongo();
 *   const client = new MongoClient(m.url);          // mongodb://127.0.0.1:<port>/?directConnection=true
 *   ...
 *   await m.stop();                                  // SIGTERM, then removes the data dir
 *
 * No real `mongod` can be obtained from the registries this project may use (mongodb-memory-server
 * downloads one from fastdl.mongodb.org at run time, which fails here), so the server is
 * FerretDB v1.24 with its embedded SQLite backend: a real MongoDB wire-protocol server (OP_MSG,
 * hello, SCRAM, cursors, ...) that stores into SQLite files. It is NOT MongoDB: see
 * MONGO_KNOWN_GAPS below, and keep tests that need those features on a real mongod (skipped when
 * absent).
 *
 * By default the instance:
 *  - advertises a replica set (`--repl-set-name=rs0`: hello has setName and isWritablePrimary),
 *    which drivers need before they will even try sessions/transactions (FerretDB still rejects
 *    transactions, see below);
 *  - has a capped `local.oplog.rs`: FerretDB then appends an oplog entry ({op,ns,ts,o,o2,...}) for
 *    every insert/update/delete, so `mongodump --oplog` works and a driver can read the oplog
 *    (tailable cursors on it work; `$natural` sort works only because it is capped).
 *
 * Binaries come from `bash scripts/install/mongodb.sh` ($HOLDFAST_TEST_CACHE/bin, default
 * /opt/holdfast-test/bin); `mongoToolPath("mongodump")` etc. give the matching Database Tools.
 * Listens on 127.0.0.1 only; telemetry and the debug HTTP listener are off.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MongoClient } from "mongodb";

export interface MongoServer {
  /** mongodb://127.0.0.1:<port>/?directConnection=true (works for drivers and the Database Tools) */
  url: string;
  host: "127.0.0.1";
  port: number;
  /** which server this is, e.g. "ferretdb-v1.24.0-sqlite" (a real mongod would say "mongod-<ver>") */
  kind: string;
  /** version the server claims in buildInfo (FerretDB v1.24 claims "7.0.42") */
  reportedVersion: string;
  /** replica-set name advertised in hello, or undefined */
  replSetName: string | undefined;
  /** true when local.oplog.rs exists (capped) and the server writes to it */
  oplog: boolean;
  /** temp dir (SQLite files in data/, server log); removed by stop() */
  dir: string;
  pid: number;
  timings: { startMs: number; totalMs: number };
  logTail(lines?: number): Promise<string>;
  /** SIGTERM (SIGKILL after a grace period), then remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface StartMongoOptions {
  /** replica-set name to advertise; false = plain standalone (default "rs0") */
  replSetName?: string | false;
  /** create a capped local.oplog.rs so the server records an oplog (default true) */
  oplog?: boolean;
  /** oplog size in bytes (default 64 MiB) */
  oplogSizeBytes?: number;
  /** readiness deadline in ms (default 30000) */
  timeoutMs?: number;
  /** parent of the temp dir (default os.tmpdir()) */
  tmpRoot?: string;
  /** TCP port (default: a free port found by binding port 0 on 127.0.0.1) */
  port?: number;
  /** extra ferretdb flags */
  extraArgs?: string[];
  /**
   * Require SCRAM authentication: FerretDB's `--test-enable-new-auth`, with this first user created
   * in `admin` at start-up (passed through FERRETDB_SETUP_* environment variables, not argv).
   * Without it FerretDB v1 (SQLite) accepts any or no credentials.
   */
  auth?: { user: string; password: string };
  /** path to the ferretdb binary (default: $HOLDFAST_FERRETDB, then the install cache) */
  ferretdb?: string;
  keepDir?: boolean;
}

/**
 * What FerretDB v1.24 (SQLite) does NOT do that a backup driver may reach for. Measured against
 * it with the `mongodb` driver (6.22 and 7.9) and mongo-tools 100.9.5+ / 100.12.2+; see
 * test/servers/servers-smoke.ts for the round trip that does work.
 */
export const MONGO_KNOWN_GAPS = [
  "BSON types Decimal128, MinKey, MaxKey, JavaScript code (with or without scope), Symbol, and NaN doubles: the server " +
    "DROPS THE CONNECTION on insert (driver: 'connection N to 127.0.0.1:P closed'); Infinity, DBRef ($ref keys), " +
    "field names containing '.' or starting with '$', and nesting deeper than ~80 levels are rejected",
  "createCollection: validator, collation, timeseries, viewOn (views) -> NotImplemented (238)",
  "createIndexes: partialFilterExpression, expireAfterSeconds (TTL), text, collation, hidden -> NotImplemented; " +
    "`sparse` is accepted but silently ignored (not reported by listIndexes)",
  "createIndexes rejects unknown options even with ignoreUnknownIndexOptions: mongorestore's index specs carry `ns` " +
    "-> BadValue 'Index option \"ns\" is unknown': restore with --noIndexRestore",
  "insert with bypassEmptyTsReplacement (mongorestore >= 100.10 against a server claiming >= 7.0.13) -> FailedToParse",
  "applyOps missing -> mongorestore --oplogReplay fails",
  "transactions (autocommit/startTransaction) -> FailedToParse 'unknown field \"autocommit\"'",
  "change streams ($changeStream) -> NotImplemented",
  "fsync / fsyncUnlock, replSetGetStatus, usersInfo/createUser (without --test-enable-new-auth) -> CommandNotFound (59)",
  "renameCollection: no dropTarget (NotImplemented), no rename across databases, and no rename from or to a " +
    "collection name holding a '.' (InvalidNamespace, 73)",
  "an update command with 100 or more upserting statements (bulkWrite replaceOne upsert) never answers; 80 pass",
  "updates and deletes by _id scan the whole collection (~50 ms each on 20k documents; finds use the index)",
  "without auth (the default here) any credentials are accepted; with `auth` (--test-enable-new-auth) SCRAM is " +
    "enforced, but createUser with roles is NotImplemented",
] as const;

/** Directory where scripts/install/mongodb.sh puts the binaries. */
export function mongoBinDir(): string {
  return join(process.env.HOLDFAST_TEST_CACHE ?? "/opt/holdfast-test", "bin");
}

/** Path of a MongoDB Database Tool built by scripts/install/mongodb.sh (falls back to PATH). */
export function mongoToolPath(tool: "mongodump" | "mongorestore" | "bsondump"): string {
  const p = join(mongoBinDir(), tool);
  return existsSync(p) ? p : tool;
}

function ferretdbPath(): string {
  if (process.env.HOLDFAST_FERRETDB) return resolve(process.env.HOLDFAST_FERRETDB);
  return join(mongoBinDir(), "ferretdb");
}

/** True when the server binary has been built (for `describe.skipIf(!mongoAvailable())`). */
export function mongoAvailable(): boolean {
  return existsSync(ferretdbPath());
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", rej);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const a = srv.address();
      const p = a && typeof a === "object" ? a.port : 0;
      srv.close(() => (p ? res(p) : rej(new Error("could not read bound port"))));
    });
  });
}

/** true when something accepts a TCP connection on 127.0.0.1:port */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, "utf8")).split("\n").slice(-lines - 1).join("\n").trimEnd();
  } catch {
    return "(no log)";
  }
}

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

export async function startMongo(opts: StartMongoOptions = {}): Promise<MongoServer> {
  const t0 = Date.now();
  const bin = opts.ferretdb ?? ferretdbPath();
  if (!existsSync(bin)) {
    throw new Error(`FerretDB not found at ${bin}; build it with: bash scripts/install/mongodb.sh`);
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const replSetName = opts.replSetName === false ? undefined : (opts.replSetName ?? "rs0");
  const wantOplog = opts.oplog ?? true;

  const dir = await mkdtemp(join(opts.tmpRoot ?? tmpdir(), "holdfast-mongo-"));
  const dataDir = join(dir, "data");
  await mkdir(dataDir);
  const logFile = join(dir, "ferretdb.log");
  const cleanupDir = () => (opts.keepDir ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  installExitHook();

  let child!: ChildProcess;
  let port = 0;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  // read through a function: set by an event handler, which flow analysis cannot see
  const exitNow = () => exitInfo;
  let exited: Promise<void> = Promise.resolve();
  let args: string[] = [];
  let url = "";
  for (let attempt = 1; ; attempt++) {
    port = opts.port ?? (await freePort());
    url = `mongodb://127.0.0.1:${port}/?directConnection=true`;
    args = [
      "--handler=sqlite",
      // throwaway data: no fsync per commit (measured ~45 ms per single-document update with it)
      `--sqlite-url=file:${dataDir}/?_pragma=synchronous(off)`,
      `--state-dir=${dir}`,
      `--listen-addr=127.0.0.1:${port}`,
      "--debug-addr=-", // no HTTP debug/metrics listener
      "--telemetry=disable",
      "--test-telemetry-url=http://127.0.0.1:1/", // belt and braces: never report anywhere
      "--log-level=info",
      "--log-format=text",
      ...(replSetName ? [`--repl-set-name=${replSetName}`] : []),
      ...(opts.auth ? ["--test-enable-new-auth"] : []),
      ...(opts.extraArgs ?? []),
    ];
    exitInfo = undefined;
    const fh = await open(logFile, "a");
    const c = spawn(bin, args, {
      stdio: ["ignore", fh.fd, fh.fd],
      env: {
        ...process.env,
        DO_NOT_TRACK: "1",
        ...(opts.auth
          ? { FERRETDB_SETUP_DATABASE: "admin", FERRETDB_SETUP_USERNAME: opts.auth.user, FERRETDB_SETUP_PASSWORD: opts.auth.password }
          : {}),
      },
    });
    await fh.close(); // the child keeps its own copy of the descriptor
    exited = new Promise<void>((r) =>
      c.once("exit", (code, signal) => {
        exitInfo = { code, signal };
        live.delete(c);
        r();
      }),
    );
    let spawnError: Error | undefined;
    c.once("error", (e) => (spawnError = e));
    live.set(c, opts.keepDir ? undefined : dir);
    child = c;

    // bounded readiness wait: first the TCP port (cheap, 25 ms steps: a driver that meets a
    // refused connection waits ~500 ms before its next try), then a driver `ping`
    const deadline = Date.now() + timeoutMs;
    let lastErr = "";
    let ready = false;
    while (Date.now() < deadline && !spawnError && !exitNow() && !(await tcpOpen(port))) await sleep(25);
    while (Date.now() < deadline && !spawnError && !exitNow()) {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
      try {
        await client.db("admin").command({ ping: 1 });
        ready = true;
      } catch (e) {
        lastErr = (e as Error).message;
      } finally {
        await client.close().catch(() => undefined);
      }
      if (ready) break;
      await sleep(100);
    }
    if (ready) break;

    const log = await tail(logFile, 40);
    if (!exitNow()) {
      c.kill("SIGKILL");
      await exited;
    }
    if (/address already in use/i.test(log) && opts.port === undefined && attempt < 3) continue;
    await cleanupDir();
    const why = spawnError
      ? `could not spawn ${bin}: ${spawnError.message}`
      : exitNow()
        ? `ferretdb exited early (code ${exitNow()?.code}, signal ${exitNow()?.signal})`
        : `no ping answer within ${timeoutMs} ms (last error: ${lastErr})`;
    throw new Error(`MongoDB-wire server did not become ready: ${why}\ncommand: ${bin} ${args.join(" ")}\n--- log tail ---\n${log}`);
  }
  const startMs = Date.now() - t0;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exitNow()) {
      child.kill("SIGTERM");
      const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 10_000).unref());
      if ((await Promise.race([exited.then(() => "exited" as const), grace])) === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
    }
    await cleanupDir();
  };

  let reportedVersion = "";
  let kind = "ferretdb";
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5_000,
    ...(opts.auth ? { auth: { username: opts.auth.user, password: opts.auth.password }, authSource: "admin" } : {}),
  });
  try {
    const info = await client.db("admin").command({ buildInfo: 1 });
    reportedVersion = String(info.version ?? "");
    const fv = (info as { ferretdbVersion?: string }).ferretdbVersion;
    kind = fv ? `ferretdb-${fv}-sqlite` : `mongod-${reportedVersion}`;
    if (wantOplog) {
      const local = client.db("local");
      const exists = (await local.listCollections({ name: "oplog.rs" }).toArray()).length > 0;
      if (!exists) {
        await local.createCollection("oplog.rs", { capped: true, size: opts.oplogSizeBytes ?? 64 * 1024 * 1024 });
      }
    }
  } catch (e) {
    const log = await tail(logFile, 30);
    await client.close().catch(() => undefined);
    await stop();
    throw new Error(`MongoDB-wire server started but setup failed: ${(e as Error).message}\n--- log tail ---\n${log}`);
  }
  await client.close();

  return {
    url,
    host: "127.0.0.1",
    port,
    kind,
    reportedVersion,
    replSetName,
    oplog: wantOplog,
    dir,
    pid: child.pid ?? -1,
    timings: { startMs, totalMs: Date.now() - t0 },
    logTail: (lines = 40) => tail(logFile, lines),
    stop,
  };
}
