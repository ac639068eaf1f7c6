import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectDocker } from '../../src/docker/docker-client.js';

// A stand-in daemon on a unix socket: the HTTP shapes of the Engine API for the calls it answers.
describe('the Docker API over a local socket (node:http, no dockerode)', () => {
  let dir: string;
  let server: Server;
  let socket: string;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'holdfast-engine-'));
    socket = join(dir, 'docker.sock');
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/_ping') return void res.end('OK');
      if (req.url?.startsWith('/containers/json')) return json(200, [{ Id: 'abc' }, { Id: 'def' }]);
      if (req.url === '/containers/missing/json') return json(404, { message: 'No such container: missing' });
      if (req.url === '/containers/abc/stop?t=7') return void res.writeHead(304).end();
      if (req.url === '/containers/abc/pause') return json(500, { message: 'Container abc is already paused' });
      if (req.url === '/images/holdfast-test/postgres:15/json') return json(200, { Id: 'sha256:1234' });
      if (req.url === '/containers/create?name=hf-db') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push(`BODY ${body}`);
          json(201, { Id: 'new1' });
        });
        return;
      }
      if (req.url === '/containers/new1/start') return void res.writeHead(204).end();
      if (req.url === '/volumes?filters=' + encodeURIComponent(JSON.stringify({ label: ['holdfast.scratch'] }))) return json(200, { Volumes: [{ Name: 'v1' }] });
      if (req.url === '/volumes/gone' && req.method === 'DELETE') return json(404, { message: 'no such volume' });
      if (req.url === '/containers/abc/logs?stdout=1&stderr=1&tail=5') {
        res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
        return void res.end(Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 5]), Buffer.from('boom\n')]));
      }
      return json(404, { message: `no route ${req.url}` });
    });
    server.on('upgrade', (req, sock) => {
      seen.push(`UPGRADE ${req.method} ${req.url}`);
      // 101, then one multiplexed stdout frame "hi\n", then the stream ends.
      const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 3]), Buffer.from('hi\n')]);
      sock.end(Buffer.concat([Buffer.from('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'), frame]));
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('JSON calls, filters in the query, 404 as "no such", 304 tolerated, Docker\'s message kept', async () => {
    const api = connectDocker(`unix://${socket}`);
    await api.ping();
    expect(await api.listContainers({ label: ['holdfast.helper=true'] })).toEqual(['abc', 'def']);
    expect(seen).toContain(`GET /containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['holdfast.helper=true'] }))}`);
    expect(await api.inspectContainer('missing')).toBeUndefined();
    await api.stop('abc', 7);
    await expect(api.pause('abc')).rejects.toThrow(/docker pause abc: Container abc is already paused/);
    expect(await api.imageId('holdfast-test/postgres:15')).toBe('sha256:1234');
  });

  test('create puts the name in the query; volumes listed and removed; logs demultiplexed', async () => {
    const api = connectDocker(`unix://${socket}`);
    expect(await api.createContainer({ name: 'hf-db', image: 'holdfast-test/postgres:15', env: [], labels: {}, networkMode: 'none', mounts: [] })).toBe('new1');
    const body = seen.find((l) => l.startsWith('BODY '));
    expect(body).toBeDefined();
    expect(JSON.parse(body!.slice(5))).not.toHaveProperty('name');
    expect(await api.listVolumes('holdfast.scratch')).toEqual(['v1']);
    await api.removeVolume('gone');
    expect(await api.logsTail('abc', 5)).toBe('boom');
  });

  test('a hijacked exec stream: demultiplexed stdout, exit code from the exec inspect', async () => {
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(req.url === '/containers/abc/exec' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/containers/abc/exec' ? { Id: 'e1' } : { Running: false, ExitCode: 3 }));
    });
    const api = connectDocker(`unix://${socket}`);
    const run = await api.exec('abc', { cmd: ['echo', 'hi'] });
    let out = '';
    run.stdout.setEncoding('utf8');
    run.stdout.on('data', (d: string) => (out += d));
    const exit = await run.done;
    expect(out).toBe('hi\n');
    expect(exit.exitCode).toBe(3);
    expect(seen).toContain('UPGRADE POST /exec/e1/start');
  });

  test('a daemon that is not there: a connect error that says how to point at one', async () => {
    const api = connectDocker(`unix://${join(dir, 'nobody.sock')}`);
    await expect(api.ping()).rejects.toMatchObject({ code: 'connect' });
  });
});
