import { startPgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';
import { runConformance } from './driver-conformance.js';

let fresh = 0;

runConformance({
  engine: 'postgres',
  async start() {
    const pg = await startPgCluster();
    await seedSample(pg, 'shop');
    return {
      sourceUrl: pg.url('shop'),
      env: { HOLDFAST_SRC_PASSWORD: pg.password },
      freshTargetUrl: async () => pg.url(`shop_restored_${++fresh}`),
      async mutate() {
        await pg.query('DELETE FROM orders WHERE id % 3 = 0; UPDATE customers SET balance = 0; DROP TABLE audit.events', 'shop');
      },
      async probe() {
        const rows = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM orders', 'shop');
        return Number(rows[0]!.n);
      },
      stop: () => pg.stop(),
    };
  },
});
