import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { committedSnapshots } from '../support/repo-files.js';

// A node without path.repo cannot be made from the embedded test node (its launcher always sets
// one), so this case uses a STUB answering only `GET /` and `GET /_nodes/settings` the way an
// OpenSearch 2.x node without path.repo does. Everything else is covered on the real node.
describe('opensearch: a node without path.repo', () => {
  let stub: Server;
  let port: number;
  let work: string;
  beforeAll(async () => {
    stub = createServer((req, res) => {
      const body = req.url === '/'
        ? { name: 'n1', cluster_name: 'c', version: { distribution: 'opensearch', number: '2.19.1' }, tagline: 'The OpenSearch Project: https://opensearch.org/' }
        : req.url?.startsWith('/_nodes/settings')
          ? { _nodes: { total: 1, successful: 1, failed: 0 }, cluster_name: 'c', nodes: { a: { name: 'n1', settings: { path: { home: '/usr/share/opensearch', logs: '/usr/share/opensearch/logs' } } } } }
          : undefined;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: 'stub: not implemented' }));
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    port = (stub.address() as AddressInfo).port;
    work = await mkdtemp(join(tmpdir(), 'holdfast-os-nopath-'));
  });
  afterAll(async () => {
    await new Promise((r) => stub.close(r));
    await rm(work, { recursive: true, force: true });
  });

  test('backup refuses and says what to add, in compose terms too; nothing is stored', async () => {
    const env = { HOLDFAST_REPO: join(work, 'repo') };
    const backup = await holdfast(['backup', '--service', `search=opensearch://127.0.0.1:${port}`], env);
    expect(backup.code).not.toBe(0);
    const out = backup.stderr + backup.stdout;
    expect(out).toMatch(/\[search\]/);
    expect(out).toMatch(/path\.repo/);
    expect(out).toMatch(/environment: \[path\.repo=\/usr\/share\/opensearch\/snapshots\]/);
    expect(await committedSnapshots(join(work, 'repo'))).toEqual([]);
  });
});
