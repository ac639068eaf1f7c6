import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { BSON, type Document, type MongoClient } from 'mongodb';
import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { placeLine } from '../../src/core/place-record.js';
import { ArchiveScanner } from './mongodb-archive.js';
import { readToEnd, writeChunk } from './mongodb-artifact-read.js';
import type { DumpedDatabase } from './mongodb-dump-backup.js';
import { abilities, describeServer, SCRATCH_PREFIX, serverFacts, type ServerAbilities } from './mongodb-inspector.js';
import { replayOplog } from './mongodb-oplog-replay.js';
import { createIndexes, scratchName, type DatabaseMapping } from './mongodb-restore-target.js';
import { checkMongoToolExit } from './mongodb-tools.js';
import { requireTool, type MongoAt, type MongoToolAt } from './mongodb-place.js';
import { restoreThroughScratch } from './mongodb-restore-flow.js';
import { spoolDir } from '../../src/core/spool-dir.js';

/**
 * Restores a `mongodump` snapshot. Every archive goes through mongorestore
 * into scratch collections of the target databases (`--nsFrom/--nsTo`),
 * while holdfast reads the archive on its way (its framing, the index
 * definitions, the captured oplog). Then, on the scratch collections: the
 * indexes where the server refuses mongorestore's (FerretDB), the oplog
 * replayed to the dump's point in time, and finally the swap into place.
 * A failure before the swap leaves the target as it was.
 */
export async function restoreMongodump(ctx: RestoreContext): Promise<RestoreResult> {
  const recorded = (ctx.recorded.details.databases as DumpedDatabase[] | undefined) ?? [];
  return restoreThroughScratch(ctx, recorded.map((d) => d.name), async (c, at, plan) => {
    const facts = await serverFacts(c);
    const can = abilities(facts);
    const mongorestore = requireTool(await at.tool('mongorestore'), at.t.service);
    if (at.container) ctx.note(`mongorestore ran ${placeLine(mongorestore.place)}`);
    if (!can.toolIndexRestore) ctx.note(`indexes created by holdfast from the dump's definitions: ${describeServer(facts)} refuses mongorestore's index specs`);
    const spool = await spoolDir('holdfast-oplog-');
    const work = spool.path;
    try {
      for (const artifact of new Set(recorded.filter((d) => plan.some((p) => p.from === d.name)).map((d) => d.artifact))) {
        const mine = plan.filter((p) => recorded.find((d) => d.name === p.from)?.artifact === artifact);
        const oplogFile = join(work, `${artifact}.oplog.bson`);
        ctx.progress.phase(`mongorestore ${mine.map((p) => p.to).join(', ')}`);
        const scanner = await runMongorestore(ctx, at, mongorestore, artifact, mine, can, oplogFile);
        if (!can.toolIndexRestore) await indexesFromArchive(c, scanner, mine);
        if (scanner.oplogEntries > 0) await replay(ctx, c, oplogFile, mine, can, scanner.oplogEntries);
      }
    } finally {
      await spool.remove();
    }
    return { can, place: mongorestore.place };
  });
}

async function runMongorestore(ctx: RestoreContext, at: MongoAt, tool: MongoToolAt, artifact: string, plan: DatabaseMapping[], can: ServerAbilities, oplogFile: string): Promise<ArchiveScanner> {
  const t = at.t;
  const scanner = new ArchiveScanner();
  const ns = plan.flatMap(({ from, to }) => ['--nsInclude', `${pattern(from)}.*`, '--nsFrom', `${pattern(from)}.$coll$`, '--nsTo', `${pattern(to)}.${pattern(scratchName(''))}$coll$`]);
  const run = await tool.start(['--archive', '--stopOnError', ...(can.toolIndexRestore ? [] : ['--noIndexRestore']), ...ns], { stdin: true, signal: ctx.signal });
  run.stdout.resume();
  const stdin = run.stdin!;
  stdin.on('error', () => undefined); // a tool that exited: seen by writeChunk, judged by its exit
  const oplog = createWriteStream(oplogFile, { mode: 0o600 });
  let oplogFailed: Error | undefined;
  oplog.on('error', (error) => (oplogFailed ??= error));
  let damaged: unknown;
  let toolGone = false;
  try {
    // Through Node rather than straight into the tool: the archive is checked and its oplog kept on the way.
    await readToEnd(ctx.artifacts.open(artifact), async (chunk) => {
      if (damaged !== undefined) return;
      let docs: Buffer[];
      try {
        docs = scanner.feed(chunk);
      } catch (error) {
        damaged = error;
        stdin.end(); // mongorestore stops on the cut-off archive; the scratch collections are dropped
        return;
      }
      for (const doc of docs) await writeChunk(oplog, doc);
      if (!toolGone) toolGone = !(await writeChunk(stdin, chunk));
    });
    if (damaged === undefined) scanner.finish();
  } catch (error) {
    damaged ??= error;
  } finally {
    stdin.end();
    oplog.end();
    await new Promise<void>((resolve) => oplog.once('close', () => resolve()));
  }
  const exit = await run.done;
  // The archive's own error (damaged, truncated) explains a tool that failed on it.
  if (damaged !== undefined) throw damaged;
  checkMongoToolExit('mongorestore', exit, t);
  if (toolGone) throw new HoldfastError('tool', 'mongorestore exited before it had read the whole archive', { service: t.service, driver: 'mongodb' });
  if (oplogFailed) {
    throw new HoldfastError('no-space', `cannot keep the captured oplog in ${oplogFile}: ${oplogFailed.message}`, { service: t.service, driver: 'mongodb', hint: 'free space in HOLDFAST_TMPDIR (default the system temp dir), or point it elsewhere' });
  }
  return scanner;
}

/** mongorestore's namespace patterns treat `*`, `$` and `\` as special: escape them in names. */
function pattern(name: string): string {
  return name.replace(/[\\*$]/g, '\\$&');
}

async function indexesFromArchive(c: MongoClient, scanner: ArchiveScanner, plan: DatabaseMapping[]): Promise<void> {
  for (const ns of scanner.collections()) {
    const target = plan.find((p) => p.from === ns.db);
    if (!target || !ns.metadata) continue;
    const metadata = BSON.EJSON.parse(ns.metadata, { relaxed: false }) as { indexes?: Document[] };
    await createIndexes(c, target.to, scratchName(ns.collection), metadata.indexes ?? []);
  }
}

async function replay(ctx: RestoreContext, c: MongoClient, file: string, plan: DatabaseMapping[], can: ServerAbilities, entries: number): Promise<void> {
  ctx.progress.phase(`oplog replay (${entries} entries)`);
  const mapNs = (ns: string) => {
    const dot = ns.indexOf('.');
    const to = plan.find((p) => p.from === ns.slice(0, dot))?.to;
    const coll = ns.slice(dot + 1);
    // Writes to scratch collections of an earlier restore are in the oplog too: they are not data.
    return to && !coll.startsWith('system.') && !coll.startsWith(SCRATCH_PREFIX) && coll !== '$cmd' ? `${to}.${scratchName(coll)}` : undefined;
  };
  try {
    const done = await replayOplog(c, file, mapNs, can.applyOps);
    ctx.note(`oplog replayed to the end of the dump: ${done.applied} of ${entries} entries applied${can.applyOps ? ' with applyOps' : ' through the driver (the server has no applyOps)'}`);
    if (done.commands.length) ctx.note(`oplog commands not replayed: ${done.commands.slice(0, 10).join('; ')}`);
  } catch (error) {
    if (error instanceof HoldfastError) throw error;
    throw new HoldfastError('target', `replaying the captured oplog failed: ${(error as Error).message}`, { hint: 'the target was left as it was; see the server log', cause: error });
  }
}
