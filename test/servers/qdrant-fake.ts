/**
 * A FAKE Qdrant for tests. This is NOT Qdrant: no real Qdrant server can be
 * obtained from this machine's registries (test/servers/README-search.md).
 * It follows Qdrant 1.19.0's REST API, written from its source (github.com/qdrant/qdrant
 * v1.19.0, cited beside each behaviour; nothing copied) and its OpenAPI as typed in
 * @qdrant/js-client-rest: `{ result, status: "ok", time }` on success,
 * `{ status: { error }, time }` on failure. test/servers/qdrant-fake.test.ts holds a test
 * of each behaviour below, so the fake cannot drift from them.
 *
 *   GET    /                                  version info
 *   GET    /collections, /aliases, /collections/{c}/aliases
 *   PUT    /collections/{c}                   create (vectors, sparse_vectors, shard_number, hnsw_config,
 *                                             optimizers_config, quantization_config); strict name check
 *   PATCH  /collections/{c}                   update hnsw_config, optimizers_config, quantization_config
 *   GET    /collections/{c}, DELETE /collections/{c}, GET /collections/{c}/exists (legacy name check)
 *   PUT    /collections/{c}/index             payload index { field_name, field_schema }
 *   DELETE /collections/{c}/index/{field}
 *   PUT    /collections/{c}/points; POST .../points/delete, .../points/count, .../points/scroll
 *   POST   /collections/{c}/snapshots         create, shard by shard; GET list; GET/DELETE .../{name}
 *   POST   /collections/{c}/snapshots/upload  recover from multipart field `snapshot`; ?priority, ?checksum
 *   POST   /snapshots                         full-storage snapshot; GET list; GET/DELETE /snapshots/{name}
 *   GET    /cluster                           { status: "disabled" } (or "enabled" with `peers` when asked)
 *   POST   /collections/aliases               { actions: [create_alias | delete_alias | rename_alias] }
 *
 * Behaviours of Qdrant 1.19 it keeps (issue 16):
 * - Errors of an upload come before its body is read: the api-key check (an
 *   extractor placed before the multipart form, src/actix/api/snapshot_api.rs:195-198)
 *   and the strict name check of the path (snapshot_api.rs:201) answer first,
 *   while the body is unread (seen with a real 1.19 node in issue 12 item 5:
 *   HTTP 500 within a millisecond, before the body was read).
 * - An uploaded snapshot file is kept in the collection's snapshot directory
 *   under the multipart file name (do_save_uploaded_snapshot, snapshot_api.rs:90-127;
 *   a file:// location is recovered from in place as MaybeTempPath::Persistent,
 *   lib/storage/src/content_manager/snapshots/download.rs:93-117), listed by
 *   GET /collections/{c}/snapshots until deleted. Deleting the collection does
 *   not delete its snapshot directory (toc/collection_meta_ops.rs:221-290 removes
 *   the collection path only); while the collection is gone, listing and
 *   deleting its snapshots answer 404 (both go through toc.get_collection:
 *   snapshots/mod.rs:76, src/common/snapshots.rs do_list_snapshots).
 * - A full snapshot moves each collection snapshot it cut into its archive
 *   (get_stored_file moves the file, then it is a TempPath: snapshots/mod.rs:183-200,
 *   collection/src/common/snapshots_manager.rs:342-357): none is left per collection.
 * - Names are checked strictly on upload and create, not on /exists (qdrant-fake-store.ts).
 * - An incompatible snapshot over an existing collection is refused (qdrant-fake-store.ts).
 * - The shards of a collection are snapshotted one by one (qdrant-fake-store.ts).
 * - A multipart file name longer than a file name may be fails after the body
 *   is read, with the OS error as text (move_file to collection_snapshot_path.join(filename),
 *   snapshot_api.rs:113-115): 500 "File name too long (os error 36)".
 * - A read-only api key may read but not manage: 403 "Forbidden: Global manage
 *   access is required" (lib/storage/src/rbac/mod.rs:308).
 *
 * What differs, knowingly: a snapshot file here is JSON (config, payload schema,
 * points), not Qdrant's tar of segments; no filters, search, WAL or replication.
 * Test hooks: cutNextDownload(), faultNextUpload(kind), failNextSnapshotDelete(), betweenShards(fn).
 * Listens on 127.0.0.1 only.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tarOf } from '../support/tar-build.js';
import { json, multipartField, raw, send } from './qdrant-fake-http.js';
import { byId, collectionInfo, cutSnapshot, legacyNameError, newCollection, pointKey, recoverInto, strictNameError, updateCollection, type Collection, type FakeSnapshotFile, type Point, type PointId } from './qdrant-fake-store.js';

/** Faults of the next upload: an error before the body is read, a reader that stalls half way, a connection closed mid-body. */
export type UploadFault = { kind: 'error-before-body'; status: number; error: string } | { kind: 'stall-after-half' } | { kind: 'close-mid-body' };

export interface FakeQdrant {
  url: string;
  port: number;
  /** The next snapshot download stops half way: the connection is dropped, or (`stall`) left open with nothing more sent. */
  cutNextDownload(mode?: 'drop' | 'stall'): void;
  /** The next DELETE of a collection snapshot answers 500 (a node that fails or goes away at that moment). */
  failNextSnapshotDelete(): void;
  /** The next upload meets this fault. */
  faultNextUpload(fault: UploadFault): void;
  /** Called after each shard of a collection snapshot is cut (to write between shards). */
  betweenShards(fn: ((collection: string, shard: number) => Promise<void>) | undefined): void;
  /** Snapshot files held server-side per collection, whether the collection still exists or not. */
  serverSnapshots(): Record<string, string[]>;
  /** Query parameters of the last upload, e.g. priority. */
  lastUpload(): Record<string, string> | undefined;
  /** Full-storage snapshot files held server-side. */
  fullSnapshots(): string[];
  /** alias -> collection */
  aliases(): Record<string, string>;
  stop(): Promise<void>;
}

export const FAKE_QDRANT_VERSION = '1.19.0-holdfast-fake';
const FORBIDDEN = 'Forbidden: Global manage access is required';
/** Routes a read-only key may use (reads, and the read-only POSTs). */
const READS = /^(points\/(count|scroll)|)$/;

export async function startFakeQdrant(options: { apiKey?: string; readOnlyApiKey?: string; /** Answer GET /cluster as a cluster of this many peers. */ peers?: number; /** Default 0: a free port. */ port?: number } = {}): Promise<FakeQdrant> {
  const collections = new Map<string, Collection>();
  /** Per collection name: its snapshot directory, which outlives the collection. */
  const snapshots = new Map<string, Map<string, Buffer>>();
  const full = new Map<string, Buffer>();
  const aliases = new Map<string, string>();
  let cut: false | 'drop' | 'stall' = false;
  let failDelete = false;
  let fault: UploadFault | undefined;
  let between: ((collection: string, shard: number) => Promise<void>) | undefined;
  let last: Record<string, string> | undefined;

  const ok = (res: ServerResponse, result: unknown) => send(res, 200, { result, status: 'ok', time: 0.001 });
  const fail = (res: ServerResponse, code: number, error: string) => send(res, code, { status: { error }, time: 0.001 });
  /**
   * Answers while the request body is unread; what the client still sends
   * is discarded. (The connection is not reset: a reset can destroy the
   * answer in the client's buffers before it reads it, and the point here is
   * the answer that comes before the body is read.)
   */
  const failEarly = (req: IncomingMessage, res: ServerResponse, code: number, error: string) => {
    send(res, code, { status: { error }, time: 0.001 });
    req.resume();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => fail(res, 500, `fake: ${e.message}`));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const key = req.headers['api-key'];
    const readOnly = options.readOnlyApiKey !== undefined && key === options.readOnlyApiKey;
    if (options.apiKey && key !== options.apiKey && !readOnly) return failEarly(req, res, 401, 'Must provide an API key or an Authorization bearer token');
    if (readOnly && !(method === 'GET' || (parts[0] === 'collections' && READS.test(parts.slice(2).join('/')) && method === 'POST'))) return failEarly(req, res, 403, FORBIDDEN);
    if (parts.length === 0) return send(res, 200, { title: 'qdrant - vector search engine', version: FAKE_QDRANT_VERSION, commit: 'holdfast-fake' });
    if (parts[0] === 'cluster' && parts.length === 1) return ok(res, cluster());
    if (parts[0] === 'snapshots') return fullSnapshot(res, method, parts[1]);
    if (parts[0] === 'aliases' && parts.length === 1) return ok(res, { aliases: aliasList() });
    if (parts[0] !== 'collections') return fail(res, 404, `fake: no route ${method} ${url.pathname}`);
    if (parts.length === 1) return ok(res, { collections: [...collections.keys()].map((name) => ({ name })) });
    if (parts.length === 2 && parts[1] === 'aliases' && method === 'POST') return changeAliases(res, await json(req));
    const name = parts[1]!;
    const c = collections.get(name);
    const rest = parts.slice(2).join('/');
    if (rest === 'snapshots/upload' && method === 'POST') return upload(req, res, name, url.searchParams);
    if (rest === 'exists') {
      const invalid = legacyNameError(name);
      return invalid ? fail(res, 422, invalid) : ok(res, { exists: !!c });
    }
    if (rest === '' && method === 'PUT') {
      const invalid = strictNameError(name);
      if (invalid) return failEarly(req, res, 422, invalid);
      if (c) return fail(res, 409, `Wrong input: Collection \`${name}\` already exists!`);
      collections.set(name, newCollection(await json(req)));
      return ok(res, true);
    }
    if (!c) return fail(res, 404, `Not found: Collection \`${name}\` doesn't exist!`);
    if (rest === '' && method === 'GET') return ok(res, collectionInfo(c));
    if (rest === '' && method === 'PATCH') {
      updateCollection(c, await json(req));
      return ok(res, true);
    }
    if (rest === '' && method === 'DELETE') {
      collections.delete(name);
      for (const [alias, target] of aliases) if (target === name) aliases.delete(alias);
      return ok(res, true);
    }
    if (rest === 'aliases' && method === 'GET') return ok(res, { aliases: aliasList().filter((a) => a.collection_name === name) });
    if (rest === 'index' && method === 'PUT') {
      const body = await json(req);
      const schema = typeof body.field_schema === 'string' ? { data_type: body.field_schema } : { data_type: body.field_schema.type, params: body.field_schema };
      c.payload_schema[body.field_name] = schema;
      return ok(res, { operation_id: 3, status: 'completed' });
    }
    if (parts[2] === 'index' && parts.length === 4 && method === 'DELETE') {
      delete c.payload_schema[parts[3]!];
      return ok(res, { operation_id: 4, status: 'completed' });
    }
    if (rest === 'points' && method === 'PUT') {
      const body = await json(req);
      for (const p of body.points as Point[]) c.points.set(pointKey(p.id), { id: p.id, vector: p.vector, payload: p.payload ?? null });
      delete c.sorted;
      return ok(res, { operation_id: 1, status: 'completed' });
    }
    if (rest === 'points/delete' && method === 'POST') {
      const body = await json(req);
      for (const id of body.points as PointId[]) c.points.delete(pointKey(id));
      delete c.sorted;
      return ok(res, { operation_id: 2, status: 'completed' });
    }
    if (rest === 'points/count' && method === 'POST') return ok(res, { count: c.points.size });
    if (rest === 'points/scroll' && method === 'POST') return scroll(res, c, await json(req));
    if (rest === 'snapshots' && method === 'POST') {
      const [snap, data] = await collectionSnapshot(name, c);
      return ok(res, describe(snap, data));
    }
    if (rest === 'snapshots' && method === 'GET') return ok(res, [...dir(name).entries()].map(([n, d]) => describe(n, d)));
    if (parts[2] === 'snapshots' && parts.length === 4) {
      const data = dir(name).get(parts[3]!);
      if (!data) return fail(res, 404, `Not found: Snapshot ${parts[3]} not found`);
      if (method === 'DELETE') {
        if (failDelete) {
          failDelete = false;
          return fail(res, 500, 'Service internal error: fake: failing this delete as asked');
        }
        dir(name).delete(parts[3]!);
        return ok(res, true);
      }
      return download(res, data);
    }
    return fail(res, 404, `fake: no route ${method} ${url.pathname}`);
  }

  function dir(name: string): Map<string, Buffer> {
    let d = snapshots.get(name);
    if (!d) snapshots.set(name, (d = new Map()));
    return d;
  }

  /** `{collection}-{peer}-{time}.snapshot`, as Collection::create_snapshot names it (collection/snapshots.rs:61-65). */
  async function collectionSnapshot(name: string, c: Collection): Promise<[string, Buffer]> {
    const data = await cutSnapshot(c, async (shard) => {
      await between?.(name, shard);
    });
    const snap = `${name}-1000-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-')}-${Math.random().toString(16).slice(2, 6)}.snapshot`;
    dir(name).set(snap, data);
    return [snap, data];
  }

  function cluster() {
    const peers = options.peers ?? 1;
    if (peers <= 1) return { status: 'disabled' };
    const all = Object.fromEntries(Array.from({ length: peers }, (_, i) => [String(1000 + i), { uri: `http://127.0.0.${i + 1}:6335/` }]));
    return { status: 'enabled', peer_id: 1000, peers: all, raft_info: { term: 1, commit: 1, pending_operations: 0, leader: 1000, role: 'Leader', is_voter: true }, consensus_thread_status: { consensus_thread_status: 'working', last_update: new Date().toISOString() }, message_send_failures: {} };
  }

  /** As _do_create_full_snapshot: a collection snapshot each, moved into one tar with config.json (see the header). */
  async function fullSnapshot(res: ServerResponse, method: string, file: string | undefined): Promise<void> {
    if (!file && method === 'POST') {
      const mapping: Record<string, string> = {};
      const entries = [];
      for (const [name, c] of collections) {
        const [snap, data] = await collectionSnapshot(name, c);
        dir(name).delete(snap);
        mapping[name] = snap;
        entries.push({ name: snap, type: 'file' as const, data: data.toString('utf8') });
      }
      const config = JSON.stringify({ collections_mapping: mapping, collections_aliases: Object.fromEntries(aliases) }, null, 2);
      const data = tarOf([...entries, { name: 'config.json', type: 'file', data: config }]);
      const snap = `full-snapshot-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-')}.snapshot`;
      full.set(snap, data);
      return ok(res, describe(snap, data));
    }
    if (!file && method === 'GET') return ok(res, [...full.entries()].map(([n, d]) => describe(n, d)));
    const data = file ? full.get(file) : undefined;
    if (!file || !data) return fail(res, 404, `Not found: Snapshot ${file} not found`);
    if (method === 'DELETE') {
      full.delete(file);
      return ok(res, true);
    }
    download(res, data);
  }

  function download(res: ServerResponse, data: Buffer): void {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) });
    if (cut) {
      const mode = cut;
      cut = false;
      res.write(data.subarray(0, Math.floor(data.length / 2)), () => mode === 'drop' && res.destroy());
      return;
    }
    res.end(data);
  }

  function aliasList() {
    return [...aliases.entries()].map(([alias_name, collection_name]) => ({ alias_name, collection_name }));
  }

  /** All actions or none, as Qdrant applies one change request. */
  function changeAliases(res: ServerResponse, body: { actions?: any[] }): void {
    const next = new Map(aliases);
    for (const action of body.actions ?? []) {
      if (action.create_alias) {
        const { alias_name, collection_name } = action.create_alias;
        if (!collections.has(collection_name)) return fail(res, 404, `Not found: Collection \`${collection_name}\` doesn't exist!`);
        if (next.has(alias_name)) return fail(res, 409, `Wrong input: Alias ${alias_name} already exists!`);
        next.set(alias_name, collection_name);
      } else if (action.delete_alias) {
        if (!next.delete(action.delete_alias.alias_name)) return fail(res, 404, `Not found: Alias ${action.delete_alias.alias_name} doesn't exist!`);
      } else if (action.rename_alias) {
        const { old_alias_name, new_alias_name } = action.rename_alias;
        const target = next.get(old_alias_name);
        if (!target) return fail(res, 404, `Not found: Alias ${old_alias_name} doesn't exist!`);
        next.delete(old_alias_name);
        next.set(new_alias_name, target);
      } else return fail(res, 400, 'Bad request: unknown alias operation');
    }
    aliases.clear();
    for (const [k, v] of next) aliases.set(k, v);
    ok(res, true);
  }

  function scroll(res: ServerResponse, c: Collection, body: any): void {
    const limit = Number(body.limit ?? 10);
    const all = (c.sorted ??= [...c.points.values()].sort(byId));
    let start = 0;
    if (body.offset !== undefined && body.offset !== null) start = all.findIndex((p) => byId(p, { id: body.offset } as Point) >= 0);
    if (start < 0) start = all.length;
    const page = all.slice(start, start + limit);
    const next = all[start + limit];
    ok(res, {
      points: page.map((p) => ({ id: p.id, payload: body.with_payload === false ? null : p.payload, ...(body.with_vector ? { vector: p.vector } : {}) })),
      next_page_offset: next ? next.id : null,
    });
  }

  /** The order of upload_snapshot's extractors and body (snapshot_api.rs:193-249, recover.rs). */
  async function upload(req: IncomingMessage, res: ServerResponse, name: string, query: URLSearchParams): Promise<void> {
    last = Object.fromEntries(query.entries());
    const invalid = strictNameError(name);
    if (invalid) return failEarly(req, res, 422, invalid);
    const f = fault;
    fault = undefined;
    if (f?.kind === 'error-before-body') return failEarly(req, res, f.status, f.error);
    if (f) return misbehave(req, res, f.kind);
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
    if (!boundary) return fail(res, 400, 'Bad request: expected multipart/form-data');
    const body = await raw(req);
    const part = multipartField(body, boundary[1] ?? boundary[2]!, 'snapshot');
    if (!part) return fail(res, 400, 'Bad request: multipart field `snapshot` is missing');
    const checksum = query.get('checksum');
    if (checksum) {
      const sha = createHash('sha256').update(part.data).digest('hex');
      if (sha !== checksum) return fail(res, 400, `Bad request: Checksum mismatch: expected ${checksum}, got ${sha}`);
    }
    // do_save_uploaded_snapshot: the base name of the multipart file name, else a UUID.
    const fileName = (part.filename ?? '').split('/').pop() || crypto.randomUUID();
    if (Buffer.byteLength(fileName) > 255) return fail(res, 500, 'Service internal error: File name too long (os error 36)');
    dir(name).set(fileName, part.data);
    let parsed: FakeSnapshotFile;
    try {
      parsed = JSON.parse(part.data.toString('utf8'));
    } catch {
      return fail(res, 400, 'Bad request: not a snapshot of this fake');
    }
    if (parsed.format !== 'holdfast-fake-qdrant-snapshot') return fail(res, 400, 'Bad request: not a snapshot of this fake');
    const recovered = recoverInto(collections.get(name), parsed);
    if (typeof recovered === 'string') return fail(res, 400, recovered);
    collections.set(name, recovered);
    return ok(res, true);
  }

  /**
   * Test faults, after the first chunk of the body: a reader that stops
   * reading and never answers, or one that closes the connection. (A small
   * body may arrive whole in that chunk: the client then sees a node that
   * took everything and never answers.)
   */
  function misbehave(req: IncomingMessage, _res: ServerResponse, kind: 'stall-after-half' | 'close-mid-body'): void {
    req.once('data', () => {
      if (kind === 'close-mid-body') req.socket.destroy();
      else req.pause();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cutNextDownload: (mode = 'drop') => (cut = mode),
    faultNextUpload: (f) => (fault = f),
    failNextSnapshotDelete: () => (failDelete = true),
    betweenShards: (fn) => (between = fn),
    serverSnapshots: () => Object.fromEntries([...snapshots.entries()].filter(([, m]) => m.size > 0).map(([c, m]) => [c, [...m.keys()]])),
    lastUpload: () => last,
    fullSnapshots: () => [...full.keys()],
    aliases: () => Object.fromEntries(aliases),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function describe(name: string, data: Buffer) {
  return { name, creation_time: new Date().toISOString().slice(0, 19), size: data.length, checksum: createHash('sha256').update(data).digest('hex') };
}
