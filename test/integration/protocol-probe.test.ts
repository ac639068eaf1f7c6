import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect as connectMysql, mysqlTarget } from '../../drivers/mysql/mysql-connection.js';
import { connect as connectPg, pgTarget } from '../../drivers/postgres/postgres-connection.js';
import { probeProtocol } from '../../src/core/protocol-probe.js';
import { parseEndpoint, type Service } from '../../src/core/service.js';
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

  test('a mysql:// URL at a PostgreSQL port is refused naming PostgreSQL, without waiting for the timeout', async () => {
    const started = Date.now();
    const r = await holdfast(['plan', '--service', `db=mysql://root@127.0.0.1:${pg.port}/app`], { HOLDFAST_DB_PASSWORD: 'x' });
    const elapsed = Date.now() - started;
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`127.0.0.1:${pg.port} does not speak MySQL / MariaDB: this port answers PostgreSQL's protocol, not MySQL / MariaDB's`);
    expect(r.stdout + r.stderr).toMatch(/a PostgreSQL server wants a postgres:\/\/ URL/);
    // The CLI's own start-up is part of it: still far below the client's 10 s timeout.
    // Far below the client's own 10 s timeout, CLI start-up on a loaded machine included.
    expect(elapsed).toBeLessThan(8000);
  }, 30_000);

  test('a postgres:// URL at a MariaDB port is refused naming MySQL / MariaDB, without waiting for the timeout', async () => {
    const started = Date.now();
    const r = await holdfast(['plan', '--service', `db=postgres://postgres@127.0.0.1:${maria.port}/app`], { HOLDFAST_DB_PASSWORD: 'x' });
    const elapsed = Date.now() - started;
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`this port answers MySQL / MariaDB's protocol, not PostgreSQL's`);
    // Far below the client's own 10 s timeout, CLI start-up on a loaded machine included.
    expect(elapsed).toBeLessThan(8000);
  }, 30_000);

  test('mongodb:// and opensearch:// at a PostgreSQL port, and mongodb:// at a MariaDB port, are named too, without waiting for a timeout', async () => {
    for (const [url, found, expected] of [
      [`docs=mongodb://127.0.0.1:${pg.port}/app`, 'PostgreSQL', 'MongoDB'],
      [`search=opensearch://127.0.0.1:${pg.port}`, 'PostgreSQL', 'HTTP'],
      // MariaDB greets first: the MongoDB client's own monitor kept the process alive for a minute after the answer.
      [`docs=mongodb://127.0.0.1:${maria.port}/app`, 'MySQL / MariaDB', 'MongoDB'],
    ] as const) {
      const started = Date.now();
      const r = await holdfast(['plan', '--service', url], {});
      expect(r.stdout + r.stderr).toContain(`this port answers ${found}'s protocol, not ${expected}'s`);
      expect(Date.now() - started).toBeLessThan(8000);
    }
  }, 30_000);

  test('the driver connections name the other protocol in under 2 s (MySQL at PostgreSQL\'s port, and the reverse)', async () => {
    const service = (name: string, url: string): Service => ({ name, endpoint: parseEndpoint(url, false, name), options: {}, origin: 'flag' });
    let started = Date.now();
    await expect(connectMysql(mysqlTarget(service('db', `mysql://root@127.0.0.1:${pg.port}/app`)))).rejects.toThrow("this port answers PostgreSQL's protocol, not MySQL / MariaDB's");
    expect(Date.now() - started).toBeLessThan(2000);
    started = Date.now();
    await expect(connectPg(pgTarget(service('db', `postgres://postgres@127.0.0.1:${maria.port}/app`)))).rejects.toThrow("this port answers MySQL / MariaDB's protocol, not PostgreSQL's");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('the probe tells each engine apart, and says nothing of a port that stays silent', async () => {
    const http = createHttpServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      expect(await probeProtocol('127.0.0.1', pg.port)).toEqual({ protocol: 'PostgreSQL' });
      expect(await probeProtocol('127.0.0.1', maria.port)).toEqual({ protocol: 'MySQL / MariaDB' });
      expect(await probeProtocol('127.0.0.1', (http.address() as { port: number }).port)).toEqual({ protocol: 'HTTP' });
      expect(await probeProtocol('127.0.0.1', silentPort)).toEqual({});
    } finally {
      http.close();
    }
  });
});
