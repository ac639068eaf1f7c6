import type { MongoClient } from 'mongodb';
import type { Fingerprint, OfferPlace, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { formatEndpoint } from '../../src/core/service.js';
import { withClient } from './mongodb-connection.js';
import { defineDatabase } from './mongodb-definitions.js';
import { fingerprintDatabase } from './mongodb-fingerprint.js';
import type { ServerAbilities } from './mongodb-inspector.js';
import { checkTargets, dropScratch, mapDatabases, swapIn, type DatabaseMapping } from './mongodb-restore-target.js';
import { openMongo, type MongoAt } from './mongodb-place.js';

/**
 * The frame both restores share: map and check the target databases (a
 * non-empty one is refused without --force before anything changes), let
 * `load` fill scratch collections, swap them into place, then fingerprint
 * what landed under the source's names. Scratch collections are dropped
 * when `load` fails, so the target keeps what it held.
 */
/** What a load did: the server's abilities, and where its work ran (details.place, the shape the backup records). */
export interface Loaded {
  can: ServerAbilities;
  place: OfferPlace;
}

export async function restoreThroughScratch(
  ctx: RestoreContext,
  recordedDatabases: string[],
  load: (c: MongoClient, at: MongoAt, plan: DatabaseMapping[]) => Promise<Loaded>,
): Promise<RestoreResult> {
  const at = await openMongo(ctx.target, ctx.signal, (text) => ctx.note(text));
  if (at.container?.cleaned.length) ctx.note(`removed helper containers left by a holdfast killed earlier: ${at.container.cleaned.join(', ')}`);
  try {
    return await restoreAt(ctx, at, recordedDatabases, load);
  } finally {
    await at.close();
  }
}

async function restoreAt(ctx: RestoreContext, at: MongoAt, recordedDatabases: string[], load: (c: MongoClient, at: MongoAt, plan: DatabaseMapping[]) => Promise<Loaded>): Promise<RestoreResult> {
  const t = at.t;
  const plan = mapDatabases(ctx, t, recordedDatabases);
  return withClient(t, async (c) => {
    const replaced = await checkTargets(c, t, plan, ctx.force);
    for (const { to } of plan) await dropScratch(c, to);
    let can: ServerAbilities;
    let place: OfferPlace;
    try {
      ({ can, place } = await load(c, at, plan));
    } catch (error) {
      for (const { to } of plan) await dropScratch(c, to).catch(() => undefined);
      throw error;
    }
    for (const { to } of plan) {
      ctx.progress.phase(`swap ${to}`);
      await swapIn(c, to, can, replaced.has(to));
      if (replaced.has(to)) ctx.note(`${to}: replaced; it now holds exactly the collections of the snapshot${can.renameDropTarget ? '' : ' (each old collection was dropped just before its replacement was renamed in: the server has no atomic dropTarget)'}`);
    }
    const fingerprint: Fingerprint = { scope: ctx.recorded.fingerprint?.scope ?? 'counts', items: {}, ...(ctx.recorded.fingerprint?.definitions ? { definitions: {} } : {}) };
    if (ctx.recorded.fingerprint) {
      for (const { from, to } of plan) {
        ctx.progress.phase(`fingerprint ${to}`);
        await fingerprintDatabase(c, to, fingerprint.scope, from, fingerprint.items);
        if (fingerprint.definitions) await defineDatabase(c, to, from, fingerprint.definitions);
      }
    }
    return {
      location: plan.map((p) => (at.container ? `container:${at.container.name}/${p.to}` : formatEndpoint({ ...ctx.target.endpoint!, path: p.to }, false))).join(', '),
      ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
      details: { fingerprintPrefixes: plan.map((p) => p.from), databases: plan, place, ...(at.container ? { container: at.container.name } : {}) },
    };
  });
}
