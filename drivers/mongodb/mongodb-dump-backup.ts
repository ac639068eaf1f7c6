import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { artifactSlug } from '../../src/core/tool-artifact.js';
import { withClient } from './mongodb-connection.js';
import { defineDatabase } from './mongodb-definitions.js';
import { fingerprintDatabase } from './mongodb-fingerprint.js';
import { describeServer, listUserCollections, selectDatabases, serverFacts } from './mongodb-inspector.js';
import { oplogPlan } from './mongodb-strategies.js';
import { requireTool, type MongoAt } from './mongodb-place.js';
import { placeLine } from '../../src/core/place-record.js';

/** What a mongodump snapshot records per database, for the restore. */
export interface DumpedDatabase {
  name: string;
  collections: string[];
  /** The archive that holds it. */
  artifact: string;
}

/**
 * Strategy `mongodump`: `mongodump --archive` to stdout, straight into the
 * repository's compressor. A dump of the whole server from a replica set
 * member takes `--oplog` (one archive, one point in time: the end of the
 * dump); a service that names databases gets one archive per database, each
 * collection read at its own time (mongodump takes one --db at a time, and
 * --oplog refuses --db). mongodump runs where the service's place says: this
 * host, or inside the service's container (mongodb-place.ts). The password
 * reaches it through a --config file, never argv.
 */
export async function backupWithMongodump(ctx: BackupContext, at: MongoAt): Promise<BackupResult> {
  const t = at.t;
  return withClient(t, async (c) => {
    const facts = await serverFacts(c);
    const { databases, whole } = await selectDatabases(c, t, ctx.service.options.databases);
    // sizeOnDisk is compressed by WiredTiger: an estimate for the progress line, marked as such.
    ctx.progress.expect?.(databases.reduce((sum, d) => sum + d.bytes, 0), true);
    const tool = requireTool(await at.tool('mongodump'), t.service);
    if (at.container) ctx.note(`mongodump ran ${placeLine(tool.place)}`);
    const cut = oplogPlan(facts, whole);
    if (!cut.oplog) ctx.note(`not one point in time: ${cut.why}`);

    const runs = whole ? [{ name: 'server.archive', label: '(all databases)', args: cut.oplog ? ['--oplog'] : [] }] : databases.map((d, i) => ({ name: `${artifactSlug(d.name, i)}.archive`, label: d.name, args: ['--db', d.name] }));
    const recorded: DumpedDatabase[] = [];
    let oplogEntries = 0;
    for (const run of runs) {
      ctx.progress.phase(`mongodump ${run.label}`);
      const exit = await tool.toArtifact(ctx.artifacts, { name: run.name, kind: 'mongodump-archive', label: run.label }, ['--archive', ...run.args], ctx.signal);
      const dumped = /dumped (\d+) oplog entr/.exec(exit.stderr);
      if (dumped) oplogEntries += Number(dumped[1]);
    }

    const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {}, definitions: {} };
    for (const [i, db] of databases.entries()) {
      const collections = (await listUserCollections(c, db.name)).map((x) => x.name);
      recorded.push({ name: db.name, collections, artifact: runs[whole ? 0 : i]!.name });
      if (fingerprint) {
        ctx.progress.phase(`fingerprint ${db.name}`);
        await fingerprintDatabase(c, db.name, fingerprint.scope, db.name, fingerprint.items);
        await defineDatabase(c, db.name, db.name, fingerprint.definitions);
      }
    }
    if (fingerprint) ctx.note('fingerprints are read after the dump: writes made meanwhile show up as differences after a restore');

    return {
      details: {
        server: describeServer(facts),
        serverVersion: facts.version,
        ...(facts.ferretdb ? { ferretdb: facts.ferretdb } : {}),
        ...(facts.replicaSet ? { replicaSet: facts.replicaSet } : {}),
        oplog: cut.oplog,
        ...(cut.oplog ? { oplogEntries } : {}),
        toolVersion: tool.version,
        place: tool.place,
        databases: recorded,
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
