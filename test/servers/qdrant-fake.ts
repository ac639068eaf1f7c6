/**
 * A FAKE Qdrant for tests. This is NOT Qdrant: no real Qdrant server can be
 * obtained from this machine's registries (test/servers/README-search.md).
 *
 * It answers the REST endpoints the qdrant driver and its tests call, with
 * the request and response shapes of Qdrant's published OpenAPI (as typed in
 * @qdrant/js-client-rest): `{ result, status: "ok", time }` on success,
 * `{ status: { error }, time }` on failure.
 *
 *   GET    /                                         version info
 *   GET    /collections                              list
 *   PUT    /collections/{c}                          create ({ vectors: { size, distance } })
 *   GET    /collections/{c}                          info (status, points_count, config)
 *   GET    /collections/{c}/exists                   existence
 *   DELETE /collections/{c}                          delete
 *   PUT    /collections/{c}/points                   upsert ({ points: [{ id, vector, payload }] })
 *   POST   /collections/{c}/points/delete            delete ({ points: [ids] })
 *   POST   /collections/{c}/points/count             count
 *   POST   /collections/{c}/points/scroll            scroll (ordered by id; offset, limit, with_payload, with_vector)
 *   POST   /collections/{c}/snapshots                create: description { name, creation_time, size, checksum (sha256) }
 *   GET    /collections/{c}/snapshots                list
 *   GET    /collections/{c}/snapshots/{name}         download (binary)
 *   DELETE /collections/{c}/snapshots/{name}         delete
 *   POST   /collections/{c}/snapshots/upload         recover from multipart field `snapshot`; ?priority=snapshot, ?checksum=
 *   POST   /snapshots                                full-storage snapshot: a snapshot of every collection (kept
 *                                                    per collection, as Qdrant's do_create_full_snapshot leaves
 *                                                    them) tarred with config.json { collections_mapping:
 *                                                    { collection: file }, collections_aliases: { alias: collection } }
 *   GET    /snapshots                                list
 *   GET    /snapshots/{name}                         download (binary)
 *   DELETE /snapshots/{name}                         delete
 *   GET    /cluster                                  { status: "disabled" } (or "enabled" with `peers` when asked)
 *   POST   /collections/aliases                      { actions: [create_alias | delete_alias | rename_alias] }
 *   GET    /aliases, GET /collections/{c}/aliases    { aliases: [{ alias_name, collection_name }] }
 *
 * What differs from Qdrant, knowingly: a snapshot file here is JSON (the
 * collection's config and points), not Qdrant's tar of segments; only named-less
 * dense vectors; no filters, no search, no shards, no WAL. The api-key check
 * and the upload checksum check behave as documented (401, 400 on mismatch).
 * A full snapshot here is a ustar archive (Qdrant's tar crate writes GNU
 * headers; holdfast's reader takes both) with Qdrant's member layout.
 * Test hooks: `cutNextDownload()` sends half of the next download and drops
 * the connection (the Content-Length promised the whole).
 * Listens on 127.0.0.1 only.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tarOf } from '../support/tar-build.js';

type PointId = string | number;
interface Point {
  id: PointId;
  vector: number[];
  payload: Record<string, unknown> | null;
}
interface Collection {
  config: { params: { vectors: { size: number; distance: string }; shard_number: number; replication_factor: number } };
  points: Map<string, Point>;
  /** Points in scroll order, rebuilt after a change (scroll pages would otherwise sort every time). */
  sorted?: Point[];
}

export interface FakeQdrant {
  url: string;
  port: number;
  /** The next snapshot download stops half way and the connection is dropped. */
  cutNextDownload(): void;
  /** Snapshot files held server-side, per collection (the driver should leave none). */
  serverSnapshots(): Record<string, string[]>;
  /** Query parameters of the last upload, e.g. priority. */
  lastUpload(): Record<string, string> | undefined;
  /** Full-storage snapshot files held server-side. */
  fullSnapshots(): string[];
  /** alias -> collection */
  aliases(): Record<string, string>;
  stop(): Promise<void>;
}

export const FAKE_QDRANT_VERSION = '1.13.0-holdfast-fake';

export async function startFakeQdrant(options: { apiKey?: string; /** Answer GET /cluster as a cluster of this many peers. */ peers?: number } = {}): Promise<FakeQdrant> {
  const collections = new Map<string, Collection>();
  const snapshots = new Map<string, Map<string, Buffer>>();
  const full = new Map<string, Buffer>();
  const aliases = new Map<string, string>();
  let cut = false;
  let last: Record<string, string> | undefined;

  const ok = (res: ServerResponse, result: unknown) => send(res, 200, { result, status: 'ok', time: 0.001 });
  const fail = (res: ServerResponse, code: number, error: string) => send(res, code, { status: { error }, time: 0.001 });

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => fail(res, 500, `fake: ${e.message}`));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (options.apiKey && req.headers['api-key'] !== options.apiKey) return fail(res, 401, 'Must provide an API key or an Authorization bearer token');
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
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
    if (rest === '' && method === 'PUT') {
      if (c) return fail(res, 409, `Wrong input: Collection \`${name}\` already exists!`);
      const body = await json(req);
      collections.set(name, { config: { params: { vectors: body.vectors, shard_number: body.shard_number ?? 1, replication_factor: 1 } }, points: new Map() });
      return ok(res, true);
    }
    if (rest === 'exists') return ok(res, { exists: !!c });
    if (rest === 'snapshots/upload' && method === 'POST') return upload(req, res, name, url.searchParams);
    if (!c) return fail(res, 404, `Not found: Collection \`${name}\` doesn't exist!`);
    if (rest === '' && method === 'GET') {
      return ok(res, { status: 'green', optimizer_status: 'ok', indexed_vectors_count: 0, points_count: c.points.size, segments_count: 1, config: c.config, payload_schema: {} });
    }
    if (rest === '' && method === 'DELETE') {
      collections.delete(name);
      snapshots.delete(name);
      for (const [alias, target] of aliases) if (target === name) aliases.delete(alias);
      return ok(res, true);
    }
    if (rest === 'aliases' && method === 'GET') return ok(res, { aliases: aliasList().filter((a) => a.collection_name === name) });
    if (rest === 'points' && method === 'PUT') {
      const body = await json(req);
      for (const p of body.points as Point[]) c.points.set(key(p.id), { id: p.id, vector: p.vector, payload: p.payload ?? null });
      delete c.sorted;
      return ok(res, { operation_id: 1, status: 'completed' });
    }
    if (rest === 'points/delete' && method === 'POST') {
      const body = await json(req);
      for (const id of body.points as PointId[]) c.points.delete(key(id));
      delete c.sorted;
      return ok(res, { operation_id: 2, status: 'completed' });
    }
    if (rest === 'points/count' && method === 'POST') return ok(res, { count: c.points.size });
    if (rest === 'points/scroll' && method === 'POST') return scroll(res, c, await json(req));
    if (rest === 'snapshots' && method === 'POST') {
      const [snap, data] = collectionSnapshot(name, c);
      return ok(res, describe(snap, data));
    }
    if (rest === 'snapshots' && method === 'GET') return ok(res, [...(snapshots.get(name) ?? new Map<string, Buffer>()).entries()].map(([n, d]) => describe(n, d)));
    if (parts[2] === 'snapshots' && parts.length === 4) {
      const data = snapshots.get(name)?.get(parts[3]!);
      if (!data) return fail(res, 404, `Not found: Snapshot ${parts[3]} not found`);
      if (method === 'DELETE') {
        snapshots.get(name)!.delete(parts[3]!);
        return ok(res, true);
      }
      return download(res, data);
    }
    return fail(res, 404, `fake: no route ${method} ${url.pathname}`);
  }

  function collectionSnapshot(name: string, c: Collection): [string, Buffer] {
    const data = Buffer.from(JSON.stringify({ format: 'holdfast-fake-qdrant-snapshot', config: c.config, points: [...c.points.values()] }));
    const snap = `${name}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}.snapshot`;
    if (!snapshots.has(name)) snapshots.set(name, new Map());
    snapshots.get(name)!.set(snap, data);
    return [snap, data];
  }

  function cluster() {
    const peers = options.peers ?? 1;
    if (peers <= 1) return { status: 'disabled' };
    const all = Object.fromEntries(Array.from({ length: peers }, (_, i) => [String(1000 + i), { uri: `http://127.0.0.${i + 1}:6335/` }]));
    return { status: 'enabled', peer_id: 1000, peers: all, raft_info: { term: 1, commit: 1, pending_operations: 0, leader: 1000, role: 'Leader', is_voter: true }, consensus_thread_status: { consensus_thread_status: 'working', last_update: new Date().toISOString() }, message_send_failures: {} };
  }

  /** As do_create_full_snapshot: a collection snapshot each (left in place), then one tar of them and config.json. */
  function fullSnapshot(res: ServerResponse, method: string, file: string | undefined): void {
    if (!file && method === 'POST') {
      const mapping: Record<string, string> = {};
      const entries = [...collections.entries()].map(([name, c]) => {
        const [snap, data] = collectionSnapshot(name, c);
        mapping[name] = snap;
        return { name: snap, type: 'file' as const, data: data.toString('utf8') };
      });
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
      cut = false;
      res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.destroy());
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

  async function upload(req: IncomingMessage, res: ServerResponse, name: string, query: URLSearchParams): Promise<void> {
    last = Object.fromEntries(query.entries());
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
    if (!boundary) return fail(res, 400, 'Bad request: expected multipart/form-data');
    const body = await raw(req);
    const file = multipartField(body, boundary[1] ?? boundary[2]!, 'snapshot');
    if (!file) return fail(res, 400, 'Bad request: multipart field `snapshot` is missing');
    const checksum = query.get('checksum');
    if (checksum && createHash('sha256').update(file).digest('hex') !== checksum) return fail(res, 400, 'Bad request: Snapshot checksum mismatch');
    let parsed: { format?: string; config: Collection['config']; points: Point[] };
    try {
      parsed = JSON.parse(file.toString('utf8'));
    } catch {
      return fail(res, 400, 'Bad request: not a snapshot of this fake');
    }
    if (parsed.format !== 'holdfast-fake-qdrant-snapshot') return fail(res, 400, 'Bad request: not a snapshot of this fake');
    // priority=snapshot: the snapshot's data replaces whatever the node holds for the collection.
    collections.set(name, { config: parsed.config, points: new Map(parsed.points.map((p) => [key(p.id), p])) });
    return ok(res, true);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cutNextDownload: () => (cut = true),
    serverSnapshots: () => Object.fromEntries([...snapshots.entries()].map(([c, m]) => [c, [...m.keys()]])),
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

function key(id: PointId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

/** Qdrant orders numeric ids before UUIDs; within each kind, ascending. */
function byId(a: Point, b: Point): number {
  if (typeof a.id === 'number' && typeof b.id === 'number') return a.id - b.id;
  if (typeof a.id === 'number') return -1;
  if (typeof b.id === 'number') return 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': String(data.length) });
  res.end(data);
}

async function raw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function json(req: IncomingMessage): Promise<any> {
  const data = await raw(req);
  return data.length ? JSON.parse(data.toString('utf8')) : {};
}

/** The content of one named field of a multipart/form-data body (the fake buffers; it is a test server). */
function multipartField(body: Buffer, boundary: string, field: string): Buffer | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const headerStart = at + delimiter.length + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd < 0) return undefined;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headerEnd);
    if (next < 0) return undefined;
    const headers = body.subarray(headerStart, headerEnd).toString('utf8');
    if (new RegExp(`name="${field}"`).test(headers)) return body.subarray(headerEnd + 4, next);
    at = next + 2;
  }
  return undefined;
}
