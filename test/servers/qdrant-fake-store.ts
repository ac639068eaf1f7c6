/**
 * The data model of the FAKE Qdrant (test/servers/qdrant-fake.ts): collections
 * with their configuration, payload indexes, points spread over shards, and
 * the rules Qdrant 1.19 applies to names and to snapshots. Each rule cites
 * where Qdrant's source says so (github.com/qdrant/qdrant at v1.19.0, read to
 * learn the behaviour; nothing is copied).
 */
import { isDeepStrictEqual } from 'node:util';

export type PointId = string | number;
export interface Point {
  id: PointId;
  vector: unknown;
  payload: Record<string, unknown> | null;
}
export interface CollectionConfig {
  params: { vectors: unknown; sparse_vectors?: unknown; shard_number: number; replication_factor: number; write_consistency_factor: number; on_disk_payload: boolean };
  hnsw_config: Record<string, unknown>;
  optimizer_config: Record<string, unknown>;
  wal_config: Record<string, unknown>;
  quantization_config: unknown;
}
export interface Collection {
  config: CollectionConfig;
  /** field -> { data_type, params? }, as PUT /collections/{c}/index created it. */
  payload_schema: Record<string, Record<string, unknown>>;
  points: Map<string, Point>;
  /** Points in scroll order, rebuilt after a change. */
  sorted?: Point[];
}
/** What a snapshot file of this fake holds (Qdrant's is a tar of segments; this one is JSON). */
export interface FakeSnapshotFile {
  format: 'holdfast-fake-qdrant-snapshot';
  config: CollectionConfig;
  payload_schema: Collection['payload_schema'];
  points: Point[];
}

/** Defaults as GET /collections/{c} shows them for a collection created with none given. */
const HNSW = { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false };
const OPTIMIZER = { deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, max_segment_size: null, memmap_threshold: null, indexing_threshold: 20000, flush_interval_sec: 5, max_optimization_threads: null };
const WAL = { wal_capacity_mb: 32, wal_segments_ahead: 0 };

/** A new collection from the body of PUT /collections/{c} (CreateCollection: optimizers_config in, optimizer_config out). */
export function newCollection(body: Record<string, any>): Collection {
  return {
    config: {
      params: {
        vectors: body.vectors,
        ...(body.sparse_vectors ? { sparse_vectors: body.sparse_vectors } : {}),
        shard_number: body.shard_number ?? 1,
        replication_factor: body.replication_factor ?? 1,
        write_consistency_factor: body.write_consistency_factor ?? 1,
        on_disk_payload: body.on_disk_payload ?? true,
      },
      hnsw_config: { ...HNSW, ...(body.hnsw_config ?? {}) },
      optimizer_config: { ...OPTIMIZER, ...(body.optimizers_config ?? {}) },
      wal_config: { ...WAL, ...(body.wal_config ?? {}) },
      quantization_config: body.quantization_config ?? null,
    },
    payload_schema: {},
    points: new Map(),
  };
}

/** PATCH /collections/{c} (UpdateCollection): the parameters that may change on a live collection. */
export function updateCollection(c: Collection, body: Record<string, any>): void {
  if (body.hnsw_config) c.config.hnsw_config = { ...c.config.hnsw_config, ...body.hnsw_config };
  if (body.optimizers_config) c.config.optimizer_config = { ...c.config.optimizer_config, ...body.optimizers_config };
  if (body.quantization_config !== undefined) c.config.quantization_config = body.quantization_config === 'Disabled' ? null : body.quantization_config;
  if (body.params?.on_disk_payload !== undefined) c.config.params.on_disk_payload = body.params.on_disk_payload;
}

/**
 * Strict collection-name validation, applied where a collection is created
 * (PUT /collections/{c}, and POST .../snapshots/upload, whose path is a
 * StrictCollectionPath: src/actix/api/snapshot_api.rs:201, mod.rs:35):
 * 1..255 bytes, none of < > : " / \ | ? * NUL U+001F
 * (lib/common/common/src/validation.rs:93 INVALID_NAME_CHARS, :113). Other
 * routes such as GET /collections/{c}/exists take a CollectionPath with the
 * legacy check (only / and NUL, validation.rs:145), so a name can "not
 * exist" there and still be refused on upload. Returns Qdrant's message.
 */
export function strictNameError(name: string): string | undefined {
  if (Buffer.byteLength(name) < 1 || Buffer.byteLength(name) > 255) return 'Validation error in path parameters: [collection_name: length must be between 1 and 255]';
  const bad = ['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0', '\u001f'].find((c) => name.includes(c));
  return bad === undefined ? undefined : `Validation error in path parameters: [collection_name: collection name cannot contain "${bad}" char]`;
}

/** The legacy check of CollectionPath (validation.rs:145): only / and NUL. */
export function legacyNameError(name: string): string | undefined {
  const bad = ['/', '\0'].find((c) => name.includes(c));
  return bad === undefined ? undefined : `Validation error in path parameters: [collection_name: collection name cannot contain "${bad}" char]`;
}

/** Which shard a point lives in: a stand-in for Qdrant's hash ring (shards/shard_holder), stable per id. */
export function shardOf(id: PointId, shards: number): number {
  if (shards <= 1) return 0;
  if (typeof id === 'number') return id % shards;
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % shards;
}

/**
 * Cuts a collection snapshot shard by shard, awaiting `between(shard)` after
 * each one: Qdrant snapshots the shards of a collection one after the other,
 * each at its own moment (lib/collection/src/collection/snapshots.rs:101-123,
 * one create_snapshot per replica set, awaited in turn), so a write landing
 * in shard 1 while shard 0 is cut is in the snapshot, one to shard 0 is not.
 * The config and the payload index schema go in too (snapshots.rs:127-151).
 */
export async function cutSnapshot(c: Collection, between: (shard: number) => Promise<void>): Promise<Buffer> {
  const points: Point[] = [];
  const n = c.config.params.shard_number;
  for (let shard = 0; shard < n; shard++) {
    for (const p of c.points.values()) if (shardOf(p.id, n) === shard) points.push(structuredClone(p));
    await between(shard);
  }
  const file: FakeSnapshotFile = { format: 'holdfast-fake-qdrant-snapshot', config: structuredClone(c.config), payload_schema: structuredClone(c.payload_schema), points };
  return Buffer.from(JSON.stringify(file));
}

/**
 * Recovery of an uploaded snapshot into `existing` (or a new collection),
 * as _do_recover_from_snapshot does (lib/storage/src/content_manager/snapshots/recover.rs):
 * - a missing collection is created from the snapshot's config, with its
 *   payload indexes (recover.rs:183-214);
 * - an existing one must have the same vectors and shard_number, else
 *   "Snapshot is not compatible with existing collection" (recover.rs:218-232,
 *   bad_input, HTTP 400: src/actix/helpers.rs:247), and nothing changes;
 * - then the shards' data is replaced (priority=snapshot); an existing
 *   collection keeps its own config and payload schema (only shard data is
 *   recovered, recover.rs:276-296).
 * Returns the collection, or the refusal's text.
 */
export function recoverInto(existing: Collection | undefined, file: FakeSnapshotFile): Collection | string {
  if (existing) {
    const have = existing.config.params;
    if (!isDeepStrictEqual(have.vectors, file.config.params.vectors)) {
      return `Bad request: Snapshot is not compatible with existing collection: Collection vectors: ${JSON.stringify(have.vectors)} Snapshot Vectors: ${JSON.stringify(file.config.params.vectors)}`;
    }
    if (have.shard_number !== file.config.params.shard_number) {
      return `Bad request: Snapshot is not compatible with existing collection: Collection shard number: ${have.shard_number} Snapshot shard number: ${file.config.params.shard_number}`;
    }
    existing.points = new Map(file.points.map((p) => [pointKey(p.id), p]));
    delete existing.sorted;
    return existing;
  }
  return { config: file.config, payload_schema: file.payload_schema, points: new Map(file.points.map((p) => [pointKey(p.id), p])) };
}

export function pointKey(id: PointId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

/** Qdrant orders numeric ids before UUIDs; within each kind, ascending. */
export function byId(a: Point, b: Point): number {
  if (typeof a.id === 'number' && typeof b.id === 'number') return a.id - b.id;
  if (typeof a.id === 'number') return -1;
  if (typeof b.id === 'number') return 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** GET /collections/{c}: payload_schema entries carry the number of points indexed. */
export function collectionInfo(c: Collection) {
  const schema = Object.fromEntries(Object.entries(c.payload_schema).map(([k, v]) => [k, { ...v, points: [...c.points.values()].filter((p) => p.payload && k in p.payload).length }]));
  return { status: 'green', optimizer_status: 'ok', indexed_vectors_count: 0, points_count: c.points.size, segments_count: c.config.params.shard_number, config: c.config, payload_schema: schema };
}
