import { Readable } from 'node:stream';
import { BSON, type Document, type MongoClient } from 'mongodb';
import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { artifactSlug } from '../../src/core/tool-artifact.js';
import { withClient, type MongoTarget } from './mongodb-connection.js';
import { defineDatabase } from './mongodb-definitions.js';
import { CollectionDigest } from './mongodb-fingerprint.js';
import { describeServer, listUserCollections, selectDatabases, serverFacts } from './mongodb-inspector.js';

/** What metadata.json holds: everything but the documents. */
export interface ExportMetadata {
  format: 1;
  databases: Array<{
    name: string;
    collections: Array<{
      name: string;
      type: string;
      /** createCollection options as listCollections gives them (capped, validator, collation, viewOn...). */
      options: Document;
      indexes: Document[];
      /** The .bson artifact; absent for an empty collection and for views. */
      artifact?: string;
      count: number;
    }>;
  }>;
}

export const EXPORT_METADATA = 'metadata.json';

/** Documents travel in chunks of about this size: few stream writes, flat memory. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Strategy `export`, for when the Database Tools are missing: every
 * collection streamed through the driver as raw BSON documents (the format of
 * mongodump's .bson files, never decoded on the way), one artifact each, plus
 * metadata.json (canonical Extended JSON) with each collection's options,
 * validator and index definitions. The fingerprint is computed from the very
 * bytes that are stored, so it describes the artifacts exactly.
 */
export async function backupWithExport(ctx: BackupContext, t: MongoTarget): Promise<BackupResult> {
  return withClient(t, async (c) => {
    const facts = await serverFacts(c);
    const { databases } = await selectDatabases(c, t, ctx.service.options.databases);
    ctx.note('export: each collection is read at its own time (no point in time across collections)');
    const metadata: ExportMetadata = { format: 1, databases: [] };
    const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {}, definitions: {} };
    let index = 0;
    for (const db of databases) {
      const entry: ExportMetadata['databases'][number] = { name: db.name, collections: [] };
      metadata.databases.push(entry);
      // Definitions read before the documents, as the metadata: the same moment for both.
      if (fingerprint) await defineDatabase(c, db.name, db.name, fingerprint.definitions);
      for (const coll of await listUserCollections(c, db.name)) {
        const indexes = coll.type === 'collection' ? await c.db(db.name).collection(coll.name).listIndexes().toArray() : [];
        const item: ExportMetadata['databases'][number]['collections'][number] = { name: coll.name, type: coll.type, options: coll.options, indexes, count: 0 };
        entry.collections.push(item);
        if (coll.type !== 'collection') continue;
        ctx.progress.phase(`export ${db.name}.${coll.name}`);
        const digest = new CollectionDigest();
        const name = `${artifactSlug(`${db.name}.${coll.name}`, index++)}.bson`;
        if (await exportCollection(ctx, c, db.name, coll.name, name, digest)) item.artifact = name;
        item.count = digest.count;
        if (fingerprint) fingerprint.items[`${db.name}.${coll.name}`] = digest.entry(fingerprint.scope);
      }
    }
    await ctx.artifacts.write(EXPORT_METADATA, Readable.from([Buffer.from(BSON.EJSON.stringify(metadata, undefined, 1, { relaxed: false }))]), { kind: 'mongodb-metadata' });
    return {
      details: {
        server: describeServer(facts),
        serverVersion: facts.version,
        ...(facts.ferretdb ? { ferretdb: facts.ferretdb } : {}),
        databases: metadata.databases.map((d) => ({ name: d.name, collections: d.collections.map((x) => x.name) })),
      },
      ...(fingerprint ? { fingerprint } : {}),
      inspection: {
        version: facts.ferretdb ? `${facts.version} (FerretDB ${facts.ferretdb})` : facts.version,
        objects: databases.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })),
        details: {},
      },
    };
  });
}

/** Streams one collection into an artifact; false (and no artifact) when it is empty. */
async function exportCollection(ctx: BackupContext, c: MongoClient, db: string, coll: string, name: string, digest: CollectionDigest): Promise<boolean> {
  const cursor = c.db(db).collection(coll).find({}, { raw: true, batchSize: 1000 });
  const docs = cursor[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  try {
    const first = await docs.next();
    if (first.done) return false;
    async function* chunks(): AsyncGenerator<Buffer> {
      let batch: Uint8Array[] = [first.value];
      let bytes = first.value.length;
      digest.add(first.value);
      for (let next = await docs.next(); !next.done; next = await docs.next()) {
        digest.add(next.value);
        batch.push(next.value);
        bytes += next.value.length;
        if (bytes >= CHUNK_BYTES) {
          yield Buffer.concat(batch);
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length) yield Buffer.concat(batch);
    }
    await ctx.artifacts.write(name, Readable.from(chunks(), { objectMode: false }), { kind: 'mongodb-bson', label: `${db}.${coll}` });
    return true;
  } finally {
    await cursor.close().catch(() => undefined);
  }
}
