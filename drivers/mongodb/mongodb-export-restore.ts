import { BSON, type Document, type MongoClient } from 'mongodb';
import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { readToEnd } from './mongodb-artifact-read.js';
import { BsonFramer } from './mongodb-bson-frames.js';
import { EXPORT_METADATA, type ExportMetadata } from './mongodb-export-backup.js';
import { abilities, serverFacts } from './mongodb-inspector.js';
import { EXACT_TYPES } from './mongodb-oplog-replay.js';
import { createIndexes, scratchName } from './mongodb-restore-target.js';
import { restoreThroughScratch } from './mongodb-restore-flow.js';
import { clientPlace } from './mongodb-strategies.js';

const BATCH_DOCS = 1000;
const BATCH_BYTES = 4 * 1024 * 1024;

type CollectionMeta = ExportMetadata['databases'][number]['collections'][number];

/**
 * Restores an `export` snapshot through the driver: per collection, the
 * collection with its recorded options (capped, validator, collation...),
 * its documents in ordered batches with their exact BSON types, then its
 * indexes; views last. All into scratch collections, swapped in at the end.
 */
export async function restoreExport(ctx: RestoreContext): Promise<RestoreResult> {
  const metadata = await readMetadata(ctx);
  return restoreThroughScratch(ctx, metadata.databases.map((d) => d.name), async (c, at, plan) => {
    const can = abilities(await serverFacts(c));
    for (const { from, to } of plan) {
      const db = metadata.databases.find((d) => d.name === from)!;
      for (const coll of db.collections.filter((x) => x.type !== 'view')) {
        ctx.progress.phase(`import ${to}.${coll.name}`);
        await c.db(to).command({ create: scratchName(coll.name), ...coll.options });
        if (coll.artifact) await loadDocuments(ctx, c, to, coll);
        await createIndexes(c, to, scratchName(coll.name), coll.indexes);
      }
      for (const view of db.collections.filter((x) => x.type === 'view')) await c.db(to).command({ create: scratchName(view.name), ...view.options });
    }
    // The node client wrote the documents: where it works (this host, or through a tunnel into the container).
    return { can, place: clientPlace(at) };
  });
}

async function readMetadata(ctx: RestoreContext): Promise<ExportMetadata> {
  const chunks: Buffer[] = [];
  await readToEnd(ctx.artifacts.open(EXPORT_METADATA), (chunk) => void chunks.push(chunk));
  const text = Buffer.concat(chunks).toString('utf8');
  const metadata = BSON.EJSON.parse(text, { relaxed: false }) as ExportMetadata;
  // Canonical Extended JSON keeps numbers typed (Int32 objects): compare them as numbers.
  if (Number(metadata.format) !== 1 || !Array.isArray(metadata.databases)) {
    throw new HoldfastError('integrity', `${EXPORT_METADATA} of this snapshot is not an export of format 1`, { hint: 'restore it with the holdfast version that wrote it' });
  }
  return metadata;
}

async function loadDocuments(ctx: RestoreContext, c: MongoClient, database: string, coll: CollectionMeta): Promise<void> {
  const target = c.db(database).collection(scratchName(coll.name));
  // A restored document was valid when it was written: the validator must not judge it again.
  const options = coll.options.validator ? { ordered: true, bypassDocumentValidation: true } : { ordered: true };
  let batch: Document[] = [];
  let bytes = 0;
  let loaded = 0;
  const framer = new BsonFramer((doc) => {
    batch.push(BSON.deserialize(doc!, EXACT_TYPES));
    bytes += doc!.length;
  }, `artifact ${coll.artifact}`);
  const flush = async () => {
    if (batch.length === 0) return;
    const docs = batch;
    batch = [];
    bytes = 0;
    await target.insertMany(docs, options);
    loaded += docs.length;
  };
  await readToEnd(ctx.artifacts.open(coll.artifact!), async (chunk) => {
    framer.push(chunk);
    if (batch.length >= BATCH_DOCS || bytes >= BATCH_BYTES) await flush();
  });
  framer.end();
  await flush();
  if (loaded !== Number(coll.count)) {
    throw new HoldfastError('integrity', `${database}.${coll.name}: ${loaded} documents in the artifact, the metadata says ${coll.count}`, { hint: 'restore from another snapshot' });
  }
}
