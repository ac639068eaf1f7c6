import { BSON } from 'mongodb';
import { describe, expect, test } from 'vitest';
import { ArchiveScanner } from '../../drivers/mongodb/mongodb-archive.js';
import { connectionUri } from '../../drivers/mongodb/mongodb-connection.js';
import { detectMongo } from '../../drivers/mongodb/mongodb-detect.js';
import type { ServerFacts } from '../../drivers/mongodb/mongodb-inspector.js';
import { oplogPlan } from '../../drivers/mongodb/mongodb-strategies.js';

const TERMINATOR = Buffer.from([0xff, 0xff, 0xff, 0xff]);
const doc = (d: Record<string, unknown>) => Buffer.from(BSON.serialize(d));

/** A mongodump archive as the spec lays it out: two collections (one in two segments) and an oplog. */
function archive(): Buffer {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(0x8199e26d);
  const ns = (db: string, collection: string, EOF = false) => doc({ db, collection, EOF, CRC: 0n });
  return Buffer.concat([
    magic,
    doc({ concurrent_collections: 4, version: '0.1', server_version: '7.0.42', tool_version: '100.9.5' }),
    doc({ db: 'shop', collection: 'orders', metadata: '{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}]}', size: 0, type: 'collection' }),
    doc({ db: 'shop', collection: 'empty', metadata: '{}', size: 0, type: 'collection' }),
    doc({ db: '', collection: 'oplog', metadata: '', size: 0, type: '' }),
    TERMINATOR,
    ns('shop', 'orders'), doc({ _id: 1, total: 10 }), doc({ _id: 2, total: 20 }), TERMINATOR,
    ns('shop', 'empty', true), TERMINATOR,
    ns('shop', 'orders'), doc({ _id: 3, total: 30 }), TERMINATOR,
    ns('shop', 'orders', true), TERMINATOR,
    ns('', 'oplog'), doc({ op: 'i', ns: 'shop.orders', o: { _id: 3, total: 30 } }), doc({ op: 'd', ns: 'shop.orders', o: { _id: 1 } }), TERMINATOR,
    ns('', 'oplog', true), TERMINATOR,
  ]);
}

function scan(data: Buffer, chunk: number) {
  const scanner = new ArchiveScanner();
  const oplog: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunk) oplog.push(...scanner.feed(data.subarray(at, at + chunk)));
  scanner.finish();
  return { scanner, oplog: oplog.map((b) => BSON.deserialize(b)) };
}

describe('mongodump archive scanner', () => {
  test.each([1, 3, 7, 64, 1 << 20])('reads the prelude and the oplog whatever the chunk size (%i bytes)', (chunk) => {
    const { scanner, oplog } = scan(archive(), chunk);
    expect(scanner.header).toMatchObject({ version: '0.1', server_version: '7.0.42' });
    expect(scanner.collections().map((c) => `${c.db}.${c.collection}`)).toEqual(['shop.orders', 'shop.empty']);
    expect(scanner.oplogEntries).toBe(2);
    expect(oplog.map((o) => o.op)).toEqual(['i', 'd']);
  });

  test('a truncated archive fails as damaged, wherever it is cut', () => {
    const full = archive();
    for (const cut of [2, 10, 60, Math.floor(full.length / 2), full.length - 4]) {
      expect(() => scan(full.subarray(0, cut), 16), `cut at ${cut}`).toThrow(/mongodump archive is damaged: .*(truncated|before its first block)/);
    }
  });

  test('anything else fails on its first bytes', () => {
    expect(() => new ArchiveScanner().feed(Buffer.from('{"json": "not an archive"}'))).toThrow(/does not start with the mongodump archive magic number/);
    const bad = archive();
    bad.writeInt32LE(3, 4); // the header's length
    expect(() => scan(bad, 1 << 20)).toThrow(/3 is not a BSON document length/);
  });
});

describe('mongodb detection, connection string and point in time', () => {
  test('detects by engine, scheme, image, environment and volume contents, strongest first', () => {
    expect(detectMongo({ engine: 'mongodb' })?.strength).toBe(100);
    expect(detectMongo({ endpoint: { scheme: 'mongodb', host: 'h', path: '', params: {} } })?.strength).toBe(80);
    for (const image of ['mongo:7', 'docker.io/library/mongo', 'bitnami/mongodb:6.0', 'percona/percona-server-mongodb:7.0', 'ghcr.io/ferretdb/ferretdb:1.24']) {
      expect(detectMongo({ image }), image).toMatchObject({ engine: 'mongodb', strength: 60 });
    }
    expect(detectMongo({ image: 'mongo-express:1' })).toBeUndefined();
    expect(detectMongo({ envNames: ['MONGO_INITDB_ROOT_USERNAME'] })?.strength).toBe(40);
    expect(detectMongo({ volumeEntries: ['WiredTiger', 'journal'] })?.strength).toBe(20);
    expect(detectMongo({ volumeEntries: ['PG_VERSION'] })).toBeUndefined();
  });

  test('the connection string carries no password and no database, and checks the user against admin', () => {
    const t = { service: 's', host: '::1', port: 27018, user: 'back up', password: 'secret', database: 'app', params: { tls: 'true' }, passwordFrom: [] };
    const uri = connectionUri(t);
    expect(uri).toBe('mongodb://back%20up@[::1]:27018/?tls=true&authSource=admin&directConnection=true');
    expect(uri).not.toContain('secret');
    expect(connectionUri({ ...t, params: { replicaSet: 'rs0', authSource: 'users' } })).toBe('mongodb://back%20up@[::1]:27018/?replicaSet=rs0&authSource=users');
  });

  test('--oplog only for a whole-server dump of a replica set member with an oplog', () => {
    const rs: ServerFacts = { version: '7.0.0', replicaSet: 'rs0', writablePrimary: true, oplog: true, mongos: false };
    expect(oplogPlan(rs, true).oplog).toBe(true);
    expect(oplogPlan(rs, false)).toMatchObject({ oplog: false, why: expect.stringMatching(/names databases/) });
    expect(oplogPlan({ ...rs, replicaSet: undefined } as ServerFacts, true)).toMatchObject({ oplog: false, why: expect.stringMatching(/standalone/) });
    expect(oplogPlan({ ...rs, oplog: false }, true)).toMatchObject({ oplog: false, why: expect.stringMatching(/cannot be read or is empty/) });
    expect(oplogPlan({ ...rs, mongos: true }, true).oplog).toBe(false);
  });
});
