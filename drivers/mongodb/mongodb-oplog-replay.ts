import { createReadStream } from 'node:fs';
import { BSON, MongoBulkWriteError, type AnyBulkWriteOperation, type Document, type MongoClient } from 'mongodb';
import { HoldfastError } from '../../src/core/errors.js';
import { BsonFramer } from './mongodb-bson-frames.js';

/** Keep every BSON type as it was (an int32 stays int32, a long a long) on the way back in. */
export const EXACT_TYPES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

const BATCH_OPS = 1000;
/** FerretDB v1.24 never answers an update command of 100 or more upserts (measured: 80 pass, 100 hang). */
const DRIVER_BATCH_OPS = 50;
const APPLY_OPS_BYTES = 8 * 1024 * 1024;

interface OplogEntry {
  op: string;
  ns: string;
  o: Document;
  o2?: Document;
}

export interface ReplayResult {
  applied: number;
  /** Entries outside the restored namespaces, no-ops, and commands. */
  skipped: number;
  /** Commands (create, drop, ...) that were not replayed. */
  commands: string[];
}

/**
 * Replays the oplog that `mongodump --oplog` captured, onto the restored
 * collections, so that they show one point in time: the end of the dump.
 * holdfast does this itself instead of `mongorestore --oplogReplay`, which
 * refuses renamed namespaces, and restores always go to scratch names first.
 *
 * With `applyOps` (mongod) the server applies the entries with its own
 * semantics, in batches, as mongorestore would. Without it (FerretDB) each
 * entry becomes an idempotent driver write: inserts as inserts (or, when
 * the dump already holds the document, a replacement), whole-document
 * updates as upserting replacements, deletes by _id, `$set`/`$unset` updates
 * as such. `$v: 2` diff updates need applyOps and fail clearly.
 *
 * `mapNs` gives the namespace an entry's documents go to, or undefined to
 * skip it (databases not restored, system collections).
 */
export async function replayOplog(c: MongoClient, file: string, mapNs: (ns: string) => string | undefined, useApplyOps: boolean): Promise<ReplayResult> {
  const result: ReplayResult = { applied: 0, skipped: 0, commands: [] };
  const sink = useApplyOps ? new ApplyOpsSink(c) : new DriverSink(c);
  const entries: OplogEntry[] = [];
  const framer = new BsonFramer((doc) => entries.push(BSON.deserialize(doc!, EXACT_TYPES) as OplogEntry), 'the captured oplog');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    framer.push(chunk as Buffer);
    for (const entry of entries.splice(0)) {
      for (const op of flatten(entry, result)) {
        const ns = mapNs(op.ns);
        if (!ns) {
          result.skipped++;
          continue;
        }
        await sink.add({ ...op, ns });
        result.applied++;
      }
    }
  }
  framer.end();
  await sink.flush();
  return result;
}

/** Data entries of one oplog entry: a transaction's `applyOps` command unfolds into its operations. */
function flatten(entry: OplogEntry, result: ReplayResult): OplogEntry[] {
  if (entry.op === 'i' || entry.op === 'u' || entry.op === 'd') return [{ op: entry.op, ns: entry.ns, o: entry.o, ...(entry.o2 ? { o2: entry.o2 } : {}) }];
  if (entry.op === 'c' && Array.isArray(entry.o.applyOps)) return (entry.o.applyOps as OplogEntry[]).flatMap((inner) => flatten(inner, result));
  if (entry.op === 'c') result.commands.push(`${entry.ns}: ${Object.keys(entry.o)[0] ?? '?'}`);
  result.skipped++;
  return [];
}

interface Sink {
  add(op: OplogEntry): Promise<void>;
  flush(): Promise<void>;
}

class ApplyOpsSink implements Sink {
  private batch: OplogEntry[] = [];
  private bytes = 0;

  constructor(private readonly c: MongoClient) {}

  async add(op: OplogEntry): Promise<void> {
    this.batch.push(op);
    this.bytes += BSON.calculateObjectSize(op);
    if (this.batch.length >= BATCH_OPS || this.bytes >= APPLY_OPS_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const ops = this.batch;
    this.batch = [];
    this.bytes = 0;
    await this.c.db('admin').command({ applyOps: ops });
  }
}

class DriverSink implements Sink {
  private ns = '';
  private batch: AnyBulkWriteOperation[] = [];

  constructor(private readonly c: MongoClient) {}

  async add(op: OplogEntry): Promise<void> {
    // Consecutive entries of one collection go in one ordered bulk write; across collections order does not matter.
    if (op.ns !== this.ns || this.batch.length >= DRIVER_BATCH_OPS) await this.flush();
    this.ns = op.ns;
    this.batch.push(toWrite(op));
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const dot = this.ns.indexOf('.');
    const collection = this.c.db(this.ns.slice(0, dot)).collection(this.ns.slice(dot + 1));
    const ops = this.batch;
    this.batch = [];
    // Inserts go in as inserts (an upsert costs FerretDB a scan of the collection); one the dump
    // already holds fails on its _id and is applied again as a replacement, then the rest follow.
    for (let start = 0; start < ops.length; ) {
      try {
        await collection.bulkWrite(ops.slice(start), { ordered: true });
        return;
      } catch (error) {
        const failed = duplicateInsert(error);
        const op = failed === undefined ? undefined : ops[start + failed];
        if (!op || !('insertOne' in op)) throw error;
        const doc = op.insertOne.document;
        await collection.replaceOne({ _id: doc._id }, doc, { upsert: true });
        start += failed! + 1;
      }
    }
  }
}

/** The index of the insert that failed on a duplicate _id in an ordered bulk write, if that is the error. */
function duplicateInsert(error: unknown): number | undefined {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const errors = error.writeErrors;
  const first = Array.isArray(errors) ? errors[0] : errors;
  return first && first.code === 11000 ? first.index : undefined;
}

function toWrite(op: OplogEntry): AnyBulkWriteOperation {
  const id = op.op === 'u' ? op.o2?._id : op.o._id;
  if (id === undefined) throw cannotReplay(op, 'the entry has no _id');
  if (op.op === 'd') return { deleteOne: { filter: { _id: id } } };
  if (op.op === 'i') return { insertOne: { document: op.o } };
  const keys = Object.keys(op.o);
  if (!keys.some((k) => k.startsWith('$'))) return { replaceOne: { filter: { _id: id }, replacement: op.o, upsert: true } };
  if (Number(op.o.$v ?? 1) !== 1) throw cannotReplay(op, `update format $v: ${String(op.o.$v)} needs a server with applyOps`);
  const set = op.o.$set as Document | undefined;
  // FerretDB records every update as `$set` of the whole new document, _id included.
  if (set && '_id' in set && !op.o.$unset) return { replaceOne: { filter: { _id: id }, replacement: set, upsert: true } };
  const update: Document = {};
  if (set) update.$set = set;
  if (op.o.$unset) update.$unset = op.o.$unset;
  if (Object.keys(update).length === 0) throw cannotReplay(op, `unknown update operators ${keys.join(', ')}`);
  return { updateOne: { filter: { _id: id }, update, upsert: true } };
}

function cannotReplay(op: OplogEntry, why: string): HoldfastError {
  return new HoldfastError('tool', `cannot replay the captured oplog entry on ${op.ns}: ${why}`, {
    hint: 'restore onto a MongoDB server (which has applyOps), or take the backup with --strategy NAME=export',
  });
}
