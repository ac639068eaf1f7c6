import { startMariadb } from '../servers/mariadb.js';
import { mysqlQuery, mysqlUrl, seedMysqlSample } from '../support/mysql-sample.js';
import { runConformance } from './driver-conformance.js';

let fresh = 0;

runConformance({
  engine: 'mysql',
  async start() {
    const db = await startMariadb();
    // The suite stops the server only once start() has returned it.
    await seedMysqlSample(db, 'shop').catch(async (error: unknown) => {
      await db.stop();
      throw error;
    });
    return {
      sourceUrl: mysqlUrl(db, 'shop'),
      env: { HOLDFAST_SRC_PASSWORD: db.rootPassword, HOLDFAST_SRC_TARGET_PASSWORD: db.rootPassword },
      freshTargetUrl: async () => mysqlUrl(db, `shop_restored_${++fresh}`),
      async mutate() {
        await mysqlQuery(db, 'DELETE FROM orders WHERE id % 3 = 0; UPDATE customers SET balance = 0; DROP TABLE events_log', 'shop');
      },
      async probe() {
        const [row] = await mysqlQuery<{ n: string }>(db, 'SELECT COUNT(*) AS n FROM orders', 'shop');
        return Number(row!.n);
      },
      stop: () => db.stop(),
    };
  },
});
