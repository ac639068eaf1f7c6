import type { Consistency, OfferPlace, Requirement, StrategyOffer } from '../../src/core/driver.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import { describeServer, type ServerFacts } from './mongodb-inspector.js';
import type { MissingTool, MongoAt, MongoToolAt } from './mongodb-place.js';

/**
 * Whether a mongodump of this service is one point in time: only a dump of
 * the whole server (no --db) from a replica set member with a readable
 * oplog can take --oplog. Anything else is read collection by collection.
 */
export function oplogPlan(facts: ServerFacts, whole: boolean): { oplog: boolean; why: string } {
  if (facts.mongos) return { oplog: false, why: 'a mongos has no oplog: each collection is read at its own time' };
  if (!facts.replicaSet) return { oplog: false, why: 'a standalone server has no oplog: each collection is read at its own time, no cut across collections' };
  if (!facts.oplog) return { oplog: false, why: 'local.oplog.rs cannot be read or is empty: each collection is read at its own time' };
  if (!whole) return { oplog: false, why: '--oplog needs a dump of the whole server, and this service names databases: each collection is read at its own time' };
  return { oplog: true, why: 'with --oplog: one point in time, the end of the dump' };
}

/**
 * The level recorded when there is no oplog cut. holdfast's levels have none
 * for "each collection at its own time"; engine-snapshot is the nearest
 * weaker-than-transactional level the planner will choose, and the offer's
 * summary and a backup note say what it really means.
 */
const PER_COLLECTION: Consistency = 'engine-snapshot';

/**
 * The strategies, strongest first, with their requirements checked. For a
 * service in a container, the summaries say where mongodump runs and why
 * (the image's own, or this host's through a sidecar) and how the driver
 * reaches the server.
 */
export function mongoStrategies(facts: ServerFacts, whole: boolean, at: MongoAt, dump: MongoToolAt | MissingTool): StrategyOffer[] {
  const server = describeServer(facts);
  const tool: Requirement = {
    what: 'mongodump (MongoDB Database Tools)',
    met: !dump.missing,
    detail: dump.missing ? `not ${dump.where}` : `${dump.name} ${dump.version}`,
    ...(dump.missing ? { hint: dump.hint } : {}),
  };
  const cut = oplogPlan(facts, whole);
  // Where each runs and why: the plan's one line names it (the summaries do not repeat it).
  const dumpPlace = dump.missing ? (at.container ? { kind: 'container' as const, where: `inside container ${at.container.name}`, reason: 'its image lacks mongodump' } : hostPlaceRecord()) : dump.place;
  return [
    {
      name: 'mongodump',
      consistency: cut.oplog ? 'transactional' : PER_COLLECTION,
      summary: `mongodump --archive ${cut.why} [${server}]`,
      requirements: [tool],
      place: dumpPlace,
      restoresIntoNewer: true,
    },
    {
      name: 'export',
      consistency: PER_COLLECTION,
      summary: `documents as BSON through the mongodb driver, with options and index definitions; each collection read at its own time [${server}]`,
      requirements: [],
      place: clientPlace(at),
      restoresIntoNewer: true,
    },
  ];
}

/** Where the node client works: this host, by the URL or through a sidecar tunnel into the container. */
export function clientPlace(at: MongoAt): OfferPlace {
  if (!at.container) return hostPlaceRecord();
  return { kind: 'host', where: `on this host through a sidecar tunnel to container ${at.container.name}`, reason: 'the mongodb driver reads the documents, no tool needed' };
}
