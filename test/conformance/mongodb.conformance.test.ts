import { type AnyDoc, indexesOf, mongoToolsEnv, seedShop, startMongoFixture } from '../support/mongo-fixture.js';
import { runConformance } from './driver-conformance.js';

let fresh = 0;

/**
 * Against FerretDB v1.24 (MongoDB wire protocol on SQLite), not mongod: see
 * test/servers/mongodb.ts. Authentication is on, so the password really
 * travels (HOLDFAST_SRC_PASSWORD -> mongodump's --config file).
 */
runConformance({
  engine: 'mongodb',
  async start() {
    const m = await startMongoFixture({ password: 'conformance-pw-1' });
    await seedShop(m.client, 'shop', 1000);
    const shop = m.client.db('shop');
    return {
      sourceUrl: m.url('shop'),
      env: { ...mongoToolsEnv(), HOLDFAST_SRC_PASSWORD: m.password! },
      freshTargetUrl: async () => m.url(`shop_restored_${++fresh}`),
      async mutate() {
        await shop.collection<AnyDoc>('orders').deleteMany({ total: { $lt: 100 } });
        await shop.collection<AnyDoc>('customers').updateMany({}, { $set: { tier: -1 } });
        await shop.collection<AnyDoc>('audit.log').drop();
        // An index dropped and a collection added: a restore must put back the first and remove the second.
        await shop.collection<AnyDoc>('customers').dropIndex('email_unique');
        await shop.collection<AnyDoc>('stray').insertOne({ x: 1 });
      },
      async probe() {
        const indexes = await indexesOf(m.client, 'shop');
        return (await shop.collection<AnyDoc>('orders').countDocuments()) * 1000 + Object.values(indexes).flat().length * 10 + Object.keys(indexes).length;
      },
      stop: () => m.stop(),
    };
  },
});
