import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { probeProtocol } from '../../src/core/protocol-probe.js';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';

/**
 * A wrong scheme on a live port: the endpoint answers, but another engine's
 * protocol. holdfast names what is there within a second or so, where the
 * client alone waited for its 10 s timeout and said ETIMEDOUT.
 */
describe('a URL whose scheme does not match what the port speaks', () => {
  let pg: PgCluster;
  let maria: MariadbServer;
  let silent: Server;
  let silentPort: number;

  beforeAll(async () => {
    [pg, maria] = await Promise.all([startPgCluster(), startMariadb()]);
    // A server that accepts and never says a word: nothing to name, the client's own error stands.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  }, 180_000);
  afterAll(async () => {
    await Promise.all([pg?.stop(), maria?.stop()]);
    silent?.close();
  });

  test('a mysql:// URL at a PostgreSQL port is refused naming PostgreSQL, in under 2 s', async () => {
    const started = Date.now();
    const r = await holdfast(['plan', '--service', `db=mysql://root@127.0.0.1:${pg.port}/app`], { HOLDFAST_DB_PASSWORD: 'x' });
    const elapsed = Date.now() - started;
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`127.0.0.1:${pg.port} does not speak MySQL / MariaDB: this port answers PostgreSQL's protocol, not MySQL / MariaDB's`);
    expect(r.stdout + r.stderr).toMatch(/a PostgreSQL server wants a postgres:\/\/ URL/);
    // The CLI's own start-up is part of it: still far below the client's 10 s timeout.
    expect(elapsed).toBeLessThan(2000);
  }, 30_000);

  test('a postgres:// URL at a MariaDB port is refused naming MySQL / MariaDB, in under 2 s', async () => {
    const started = Date.now();
    const r = await holdfast(['plan', '--service', `db=postgres://postgres@127.0.0.1:${maria.port}/app`], { HOLDFAST_DB_PASSWORD: 'x' });
    const elapsed = Date.now() - started;
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`this port answers MySQL / MariaDB's protocol, not PostgreSQL's`);
    expect(elapsed).toBeLessThan(2000);
  }, 30_000);

  test('the probe tells each engine apart, and says nothing of a port that stays silent', async () => {
    expect(await probeProtocol('127.0.0.1', pg.port)).toEqual({ protocol: 'PostgreSQL' });
    expect(await probeProtocol('127.0.0.1', maria.port)).toEqual({ protocol: 'MySQL / MariaDB' });
    expect(await probeProtocol('127.0.0.1', silentPort)).toEqual({});
  });
});
