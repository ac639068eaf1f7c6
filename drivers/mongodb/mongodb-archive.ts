import { BSON } from 'mongodb';
import { HoldfastError } from '../../src/core/errors.js';
import { BsonFramer } from './mongodb-bson-frames.js';

/** mongodump's archive magic number, little-endian on disk. */
const MAGIC = 0x8199e26d;

/** One namespace as the archive's prelude declares it. */
export interface ArchiveNamespace {
  db: string;
  collection: string;
  /** Collection options and index definitions, canonical Extended JSON (the content of metadata.json). */
  metadata: string;
  type: string;
}

/** The captured oplog of `mongodump --oplog` sits in the archive under this namespace. */
export const isOplogNamespace = (ns: { db: string; collection: string }) => ns.db === '' && ns.collection === 'oplog';

type State = 'magic' | 'header' | 'prelude' | 'block-header' | 'block-body';

/**
 * Reads a mongodump archive chunk by chunk as it streams past to mongorestore
 * (format: mongo-tools common/archive/spec.md). It collects the prelude
 * (namespaces with their metadata: options and index definitions), hands out
 * the documents of the captured oplog, and checks the framing: a truncated or
 * foreign archive fails with an 'integrity' error, never as a short restore.
 */
export class ArchiveScanner {
  readonly namespaces: ArchiveNamespace[] = [];
  header: Record<string, unknown> = {};
  oplogEntries = 0;
  private state: State = 'magic';
  private current: { db: string; collection: string; EOF: boolean } | undefined;
  private readonly finished = new Set<string>();
  private readonly framer = new BsonFramer((doc) => this.frame(doc), 'the mongodump archive', true);
  private magic = Buffer.alloc(0);
  private oplog: Buffer[] = [];

  /** Parses one chunk; returns the oplog documents completed in it. */
  feed(chunk: Buffer): Buffer[] {
    let data: Buffer | undefined = chunk;
    if (this.state === 'magic') {
      this.magic = Buffer.concat([this.magic, chunk]);
      data = undefined;
      if (this.magic.length >= 4) {
        if (this.magic.readUInt32LE(0) !== MAGIC) throw corrupt('it does not start with the mongodump archive magic number');
        data = this.magic.subarray(4);
        this.state = 'header';
      }
    }
    if (data) this.framer.push(data);
    const docs = this.oplog;
    this.oplog = [];
    return docs;
  }

  /** Throws unless the archive ended where an archive may end, every namespace closed. */
  finish(): void {
    this.framer.end();
    if (this.state !== 'block-header') throw corrupt(`it ends ${this.state === 'block-body' ? 'inside a block' : 'before its first block'} (truncated)`);
    const open = this.namespaces.filter((ns) => !this.finished.has(key(ns)));
    if (open.length) throw corrupt(`it ends before the end of ${open.map(key).join(', ')} (truncated)`);
  }

  /** Collections of the archive, oplog left out. */
  collections(): ArchiveNamespace[] {
    return this.namespaces.filter((ns) => !isOplogNamespace(ns));
  }

  private frame(doc: Buffer | null): void {
    switch (this.state) {
      case 'header':
        if (!doc) throw corrupt('no header');
        this.header = BSON.deserialize(doc);
        this.state = 'prelude';
        return;
      case 'prelude':
        if (!doc) {
          this.state = 'block-header';
          return;
        }
        this.namespaces.push(BSON.deserialize(doc) as ArchiveNamespace);
        return;
      case 'block-header':
        if (!doc) throw corrupt('a block without a header');
        this.current = BSON.deserialize(doc) as { db: string; collection: string; EOF: boolean };
        if (this.current.EOF) this.finished.add(key(this.current));
        this.state = 'block-body';
        return;
      case 'block-body':
        if (!doc) {
          this.state = 'block-header';
          return;
        }
        if (this.current && isOplogNamespace(this.current)) {
          this.oplogEntries++;
          this.oplog.push(Buffer.from(doc));
        }
        return;
      default:
        throw corrupt('unexpected data');
    }
  }
}

function key(ns: { db: string; collection: string }): string {
  return isOplogNamespace(ns) ? '(oplog)' : `${ns.db}.${ns.collection}`;
}

function corrupt(why: string): HoldfastError {
  return new HoldfastError('integrity', `the mongodump archive is damaged: ${why}`, { hint: 'restore from another snapshot' });
}
