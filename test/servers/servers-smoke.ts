/**
 * Smoke test for the throwaway test servers (not part of the vitest suite: no `.test.ts`).
 *
 *   bash scripts/install/mariadb.sh && bash scripts/install/mongodb.sh
 *   npx tsx test/servers/servers-smoke.ts
 *
 * Starts a MariaDB and a MongoDB-wire (FerretDB) server side by side, writes and reads a little,
 * round-trips each through its dump tool (mariadb-dump | mariadb, mongodump --archive |
 * mongorestore --archive --drop), then stops both. Also re-checks the known FerretDB gaps that
 * matter for backups and reports them as INFO (they do not fail the run; if one starts passing,
 * the list in mongodb.ts is out of date).
 * Prints timings and ends with a line "N passed, N failed"; exits 1 on any failure.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Binary, Decimal128, Long, MongoClient, ObjectId, Timestamp } from "mongodb";
import mysql from "mysql2/promise";
import { mariadbBinary, startMariadb, type MariadbServer } from "./mariadb.js";
import { mongoToolPath, startMongo, type MongoServer } from "./mongodb.js";

let passed = 0;
let failed = 0;
const check = (name: string, ok: boolean, detail = "") => {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${detail ? ` - ${detail}` : ""}`);
};
const info = (msg: string) => console.log(`INFO ${msg}`);

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}
/** spawn with an argument array (no shell); optional stdin text */
function run(cmd: string, args: string[], input?: string, timeoutMs = 120_000): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const c = spawn(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout!.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
    c.stderr!.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const timer = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
    c.once("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
    c.once("close", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, ms: Date.now() - t0 });
    });
    if (input !== undefined) c.stdin!.end(input);
  });
}
const lastLines = (s: string, n = 6) => s.trim().split("\n").slice(-n).join("\n");

async function mariadbRoundTrip(db: MariadbServer, work: string): Promise<void> {
  const conn = await mysql.createConnection({ host: "127.0.0.1", port: db.port, user: "root", password: db.rootPassword });
  try {
    await conn.query("CREATE DATABASE shop");
    await conn.query(
      "CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, sku VARCHAR(32) NOT NULL, qty INT NOT NULL, " +
        "price DECIMAL(10,2), note TEXT, created DATETIME(6), blob_col VARBINARY(16), KEY sku_idx (sku)) ENGINE=InnoDB",
    );
    const rows = Array.from({ length: 200 }, (_, i) => [
      `SKU-${i % 17}`,
      i,
      (i * 1.25).toFixed(2),
      i % 3 === 0 ? null : `note ${i} 'quoted' "dq" \\ back\nnewline ☃`,
      new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
      Buffer.from([i & 255, 0, 255, 10]),
    ]);
    await conn.query("INSERT INTO shop.orders (sku, qty, price, note, created, blob_col) VALUES ?", [rows]);
    const [cnt] = await conn.query("SELECT COUNT(*) AS n, SUM(qty) AS s FROM shop.orders");
    const c0 = (cnt as Array<{ n: number; s: string }>)[0]!;
    check("mariadb write/read", c0.n === 200 && Number(c0.s) === 19900, `count=${c0.n} sum=${c0.s}`);

    const [ms] = await conn.query("SHOW MASTER STATUS");
    const master = (ms as Array<{ File: string; Position: number }>)[0];
    check("mariadb binlog position available", !!master?.File && master.Position > 0, `${master?.File}:${master?.Position}`);

    const checksum = async () => {
      const [r] = await conn.query("CHECKSUM TABLE shop.orders");
      return String((r as Array<{ Checksum: string | number }>)[0]?.Checksum);
    };
    const before = await checksum();

    // credentials through a 0600 option file, not argv
    const cnf = join(work, "client.cnf");
    await writeFile(cnf, `[client]\nuser=root\npassword=${db.rootPassword}\nhost=127.0.0.1\nport=${db.port}\nprotocol=TCP\n`, { mode: 0o600 });
    const dump = await run(mariadbBinary("mariadb-dump"), [
      `--defaults-extra-file=${cnf}`,
      "--single-transaction",
      "--master-data=2",
      "--routines",
      "--events",
      "--triggers",
      "--hex-blob",
      "--databases",
      "shop",
    ]);
    check("mariadb-dump", dump.code === 0 && dump.stdout.includes("CREATE TABLE `orders`"), `${dump.ms} ms, ${dump.stdout.length} bytes${dump.code ? `\n${lastLines(dump.stderr)}` : ""}`);
    const pos = /CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)/.exec(dump.stdout);
    check("mariadb-dump recorded binlog coordinates", !!pos, pos ? `${pos[1]}:${pos[2]}` : "no CHANGE MASTER line");

    await conn.query("DROP DATABASE shop");
    const restore = await run(mariadbBinary("mariadb"), [`--defaults-extra-file=${cnf}`], dump.stdout);
    check("mariadb restore (mariadb < dump)", restore.code === 0, `${restore.ms} ms${restore.code ? `\n${lastLines(restore.stderr)}` : ""}`);
    const after = await checksum();
    check("mariadb round trip identical (CHECKSUM TABLE)", before === after, `${before} vs ${after}`);
  } finally {
    await conn.end();
  }
}

async function mongoRoundTrip(m: MongoServer, work: string): Promise<void> {
  const client = new MongoClient(m.url);
  try {
    const hello = await client.db("admin").command({ hello: 1 });
    check("mongo hello", hello.isWritablePrimary === true, `setName=${hello.setName} maxWireVersion=${hello.maxWireVersion} kind=${m.kind}`);

    const col = client.db("shop").collection("orders");
    const docs = Array.from({ length: 200 }, (_, i) => ({
      _id: new ObjectId(),
      i,
      sku: `SKU-${i % 17}`,
      qty: i,
      big: Long.fromString("9007199254740993"),
      price: i * 1.25, // Decimal128 would make FerretDB drop the connection (checked below)
      when: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
      ts: new Timestamp({ t: 1_700_000_000 + i, i: 1 }),
      bin: new Binary(Buffer.from([i & 255, 0, 255])),
      nested: { a: [1, "two", { three: 3 }], empty: {}, nul: null },
      note: i % 3 === 0 ? undefined : `note ${i} ☃`,
    }));
    await col.insertMany(docs);
    await col.createIndex({ sku: 1, qty: -1 }, { name: "sku_qty" });
    await client.db("shop").createCollection("events", { capped: true, size: 1 << 20 });
    await client.db("shop").collection("events").insertOne({ e: 1 });
    const n = await col.countDocuments({ qty: { $gte: 100 } });
    check("mongo write/read", n === 100, `countDocuments(qty>=100)=${n}`);

    const canonical = async (db: string) => {
      const all = await client.db(db).collection("orders").find({}, { sort: { i: 1 } }).toArray();
      return createHash("sha256").update(JSON.stringify(all)).digest("hex").slice(0, 16);
    };
    const before = await canonical("shop");

    // per-database dump, then restore over it with --drop
    const archive = join(work, "shop.archive");
    const dump = await run(mongoToolPath("mongodump"), [`--uri=${m.url}`, "--db=shop", `--archive=${archive}`]);
    const size = dump.code === 0 ? (await stat(archive)).size : 0;
    check("mongodump --archive", dump.code === 0 && size > 0, `${dump.ms} ms, ${size} bytes${dump.code ? `\n${lastLines(dump.stderr)}` : ""}`);

    await col.deleteMany({ qty: { $lt: 50 } });
    await col.insertOne({ i: -1, junk: true });
    const restore = await run(mongoToolPath("mongorestore"), [
      `--uri=${m.url}`,
      `--archive=${archive}`,
      "--drop",
      "--noIndexRestore", // FerretDB rejects the index specs mongorestore sends (`ns` option)
    ]);
    check("mongorestore --archive --drop --noIndexRestore", restore.code === 0, `${restore.ms} ms\n${lastLines(restore.stderr, 2)}`);
    const after = await canonical("shop");
    check("mongo round trip identical (documents, all BSON types)", before === after, `${before} vs ${after}`);
    const capped = (await client.db("shop").listCollections({ name: "events" }, { nameOnly: false }).toArray())[0] as
      | { options?: { capped?: boolean } }
      | undefined;
    check("mongo capped collection options restored", capped?.options?.capped === true, JSON.stringify(capped?.options));

    // restore into another database name
    const ren = await run(mongoToolPath("mongorestore"), [
      `--uri=${m.url}`,
      `--archive=${archive}`,
      "--drop",
      "--noIndexRestore",
      "--nsFrom=shop.*",
      "--nsTo=shop_copy.*",
    ]);
    check("mongorestore --nsFrom/--nsTo", ren.code === 0 && (await canonical("shop_copy")) === before, `${ren.ms} ms`);

    // whole-instance dump with --oplog (works because startMongo created a capped local.oplog.rs)
    await col.updateOne({ i: 5 }, { $set: { touched: true } });
    const oplogArchive = join(work, "all-oplog.archive");
    const od = await run(mongoToolPath("mongodump"), [`--uri=${m.url}`, "--oplog", `--archive=${oplogArchive}`]);
    check("mongodump --oplog --archive (whole instance)", od.code === 0, `${od.ms} ms\n${lastLines(od.stderr, 1)}`);
    const last = await client.db("local").collection("oplog.rs").find({}, { sort: { $natural: -1 }, limit: 1 }).toArray();
    check("oplog records writes", last[0]?.op === "u" && last[0]?.ns === "shop.orders", JSON.stringify({ op: last[0]?.op, ns: last[0]?.ns, ts: last[0]?.ts }));

    // --- known gaps, reported, not failed ---
    const withIdx = await run(mongoToolPath("mongorestore"), [`--uri=${m.url}`, `--archive=${archive}`, "--drop", "--nsFrom=shop.*", "--nsTo=shop_idx.*"]);
    info(`mongorestore WITH index restore: exit ${withIdx.code}: ${lastLines(withIdx.stderr, 2).replace(/\n/g, " | ")}`);
    const replay = await run(mongoToolPath("mongorestore"), [`--uri=${m.url}`, `--archive=${oplogArchive}`, "--drop", "--noIndexRestore", "--oplogReplay"]);
    info(`mongorestore --oplogReplay: exit ${replay.code}: ${lastLines(replay.stderr, 2).replace(/\n/g, " | ")}`);
    try {
      await client.db("shop").collection("gaps").insertOne({ d: Decimal128.fromString("1.25") });
      info("Decimal128 insert: supported");
    } catch (e) {
      info(`Decimal128 insert: ${(e as Error).message}`);
    }
    for (const [name, cmd] of [
      ["fsync lock", { fsync: 1, lock: true }],
      ["applyOps", { applyOps: [] }],
      ["replSetGetStatus", { replSetGetStatus: 1 }],
    ] as const) {
      try {
        await client.db("admin").command(cmd);
        info(`${name}: supported`);
      } catch (e) {
        info(`${name}: ${(e as Error).message}`);
      }
    }
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "holdfast-smoke-"));
  const t0 = Date.now();
  const [dbR, mR] = await Promise.allSettled([startMariadb(), startMongo()]);
  const db = dbR.status === "fulfilled" ? dbR.value : undefined;
  const m = mR.status === "fulfilled" ? mR.value : undefined;
  check("start mariadb", !!db, db ? `${db.version} on :${db.port} in ${db.timings.totalMs} ms (install-db ${db.timings.installDbMs}, mariadbd ${db.timings.startMs}, setup ${db.timings.setupMs})` : String((dbR as PromiseRejectedResult).reason));
  check("start mongo", !!m, m ? `${m.kind} (claims ${m.reportedVersion}) on :${m.port} in ${m.timings.totalMs} ms` : String((mR as PromiseRejectedResult).reason));
  info(`both servers up after ${Date.now() - t0} ms (started in parallel)`);
  try {
    if (db) await mariadbRoundTrip(db, work).catch((e: Error) => check("mariadb round trip", false, e.stack ?? e.message));
    if (m) await mongoRoundTrip(m, work).catch((e: Error) => check("mongo round trip", false, e.stack ?? e.message));
  } finally {
    const ts = Date.now();
    await Promise.all([db?.stop(), m?.stop()]);
    info(`stopped in ${Date.now() - ts} ms`);
    await rm(work, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
