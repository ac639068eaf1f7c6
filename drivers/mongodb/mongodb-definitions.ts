import { BSON, type MongoClient } from 'mongodb';
import type { Fingerprint } from '../../src/core/driver.js';
import { listUserCollections } from './mongodb-inspector.js';

type Definitions = NonNullable<Fingerprint['definitions']>;

/**
 * The definitions half of a MongoDB fingerprint: per collection or view of a
 * database (`<db>.<collection>`, with `keyDatabase` in place of the database
 * name, as the rows), its `type`, each collection option (`option.validator`,
 * `option.capped`, `option.collation`, `option.viewOn`, ...) and each index
 * (`index.<name>`: its key and options, without the index format version `v`
 * and the legacy `ns`, which a restore onto another server version rightly
 * changes). Values are relaxed Extended JSON with top-level keys sorted; an
 * index key keeps its order, which is part of its meaning.
 */
export async function defineDatabase(c: MongoClient, database: string, keyDatabase = database, definitions: Definitions = {}): Promise<Definitions> {
  for (const coll of await listUserCollections(c, database)) {
    const props: Record<string, string> = { type: coll.type };
    for (const [name, value] of Object.entries(coll.options)) props[`option.${name}`] = show(value);
    if (coll.type !== 'view') {
      for (const index of await c.db(database).collection(coll.name).listIndexes().toArray()) {
        const { v: _v, ns: _ns, name, ...spec } = index as Record<string, unknown>;
        props[`index.${String(name)}`] = show(Object.fromEntries(Object.keys(spec).sort().map((k) => [k, spec[k]])));
      }
    }
    definitions[`${keyDatabase}.${coll.name}`] = props;
  }
  return definitions;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : BSON.EJSON.stringify(value as BSON.Document, { relaxed: true });
}
