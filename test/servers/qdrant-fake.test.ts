import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeQdrant, type FakeQdrant } from './qdrant-fake.js';

// Tests of the FAKE Qdrant itself: each Qdrant 1.19 behaviour the fake claims in its header
// (with the source it was read from) is pinned here, so that the fake cannot drift back to
// the friendlier server that hid the bugs of issue 16.
const KEY = 'fake-key';
const RO = 'read-only-key';

describe('the fake Qdrant behaves as Qdrant 1.19', () => {
  let node: FakeQdrant;
  const call = async (method: string, path: string, body?: unknown, key = KEY) => {
    const res = await fetch(`${node.url}${path}`, { method, headers: { 'api-key': key, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const create = (name: string, vectors: unknown = { size: 4, distance: 'Dot' }, extra: object = {}) => call('PUT', `/collections/${encodeURIComponent(name)}`, { vectors, ...extra });
  const upsert = (name: string, ids: number[]) => call('PUT', `/collections/${name}/points?wait=true`, { points: ids.map((id) => ({ id, vector: [id, 0, 0, 1], payload: { id } })) });
  const download = async (c: string, s: string) => Buffer.from(await (await fetch(`${node.url}/collections/${c}/snapshots/${s}`, { headers: { 'api-key': KEY } })).arrayBuffer());

  /** A multipart upload of `size` bytes written slowly; says whether the server answered before it had read them all. */
  function upload(name: string, data: Buffer, opts: { key?: string; filename?: string } = {}): Promise<{ status: number; text: string; sentBeforeAnswer: number; total: number }> {
    return new Promise((resolve, reject) => {
      const boundary = 'b0undary';
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${opts.filename ?? 'up.snapshot'}"\r\n\r\n`);
      const all = Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
      let sent = 0;
      let answered = -1;
      const req = request(`${node.url}/collections/${encodeURIComponent(name)}/snapshots/upload?priority=snapshot`, { method: 'POST', headers: { 'api-key': opts.key ?? KEY, 'content-type': `multipart/form-data; boundary=${boundary}` } }, (res) => {
        answered = sent;
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, sentBeforeAnswer: answered, total: all.length }));
      });
      req.on('error', (e) => (answered >= 0 ? undefined : reject(e)));
      const step = () => {
        if (answered >= 0 || sent >= all.length) return void req.end();
        const chunk = all.subarray(sent, sent + 16 * 1024);
        sent += chunk.length;
        req.write(chunk, () => setTimeout(step, 5));
      };
      step();
    });
  }

  beforeAll(async () => {
    node = await startFakeQdrant({ apiKey: KEY, readOnlyApiKey: RO });
  });
  afterAll(async () => node?.stop());

  test('errors of an upload are answered before the body is read (api key, read-only key, strict name)', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    for (const [name, key, status, text] of [
      ['c1', 'wrong', 401, /Must provide an API key/],
      ['c1', RO, 403, /Global manage access is required/],
      ['bad:name', KEY, 422, /collection name cannot contain ":" char/],
    ] as const) {
      const res = await upload(name, big, { key });
      expect(res.status).toBe(status);
      expect(JSON.parse(res.text).status.error).toMatch(text);
      expect(res.sentBeforeAnswer).toBeLessThan(res.total);
    }
  });

  test('names are checked strictly on create and upload, not on /exists', async () => {
    expect((await call('GET', `/collections/${encodeURIComponent('a:b')}/exists`)).body.result).toEqual({ exists: false });
    expect((await create('a:b')).status).toBe(422);
    expect((await create('a|b')).status).toBe(422);
    expect((await create('ok-name')).status).toBe(200);
  });

  test('an uploaded snapshot file is kept and listed until deleted; it outlives its collection, unreachable until it exists again', async () => {
    await create('keep');
    await upsert('keep', [1, 2, 3]);
    const snap = (await call('POST', '/collections/keep/snapshots?wait=true')).body.result;
    const data = await download('keep', snap.name);
    await call('DELETE', `/collections/keep/snapshots/${snap.name}`);
    const res = await upload('keep2', data, { filename: 'mine.snapshot' });
    expect(res.status, res.text).toBe(200);
    expect((await call('GET', '/collections/keep2/snapshots')).body.result.map((s: { name: string }) => s.name)).toEqual(['mine.snapshot']);
    await call('DELETE', '/collections/keep2');
    expect((await call('GET', '/collections/keep2/snapshots')).status).toBe(404);
    expect(node.serverSnapshots().keep2).toEqual(['mine.snapshot']);
    await create('keep2');
    expect((await call('DELETE', '/collections/keep2/snapshots/mine.snapshot')).status).toBe(200);
    expect(node.serverSnapshots().keep2).toBeUndefined();
  });

  test('a file name too long for the file system fails after the body is read, with the OS error text', async () => {
    const res = await upload('longname', Buffer.from('{}'), { filename: `${'x'.repeat(250)}.snapshot` });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text).status.error).toMatch(/File name too long \(os error 36\)/);
  });

  test('an incompatible snapshot over an existing collection is refused and changes nothing', async () => {
    await create('v4');
    await upsert('v4', [1, 2]);
    const snap = (await call('POST', '/collections/v4/snapshots?wait=true')).body.result;
    const data = await download('v4', snap.name);
    await create('v8', { size: 8, distance: 'Dot' });
    const res = await upload('v8', data);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).status.error).toMatch(/Snapshot is not compatible with existing collection/);
    expect((await call('POST', '/collections/v8/points/count', {})).body.result.count).toBe(0);
    await create('s2', { size: 4, distance: 'Dot' }, { shard_number: 2 });
    expect(JSON.parse((await upload('s2', data)).text).status.error).toMatch(/shard number/);
  });

  test('a full snapshot moves the per-collection snapshots into its archive', async () => {
    await create('fs1');
    await upsert('fs1', [1]);
    const full = (await call('POST', '/snapshots?wait=true')).body.result;
    expect(full.name).toMatch(/^full-snapshot-/);
    expect((await call('GET', '/collections/fs1/snapshots')).body.result).toEqual([]);
    const archive = Buffer.from(await (await fetch(`${node.url}/snapshots/${full.name}`, { headers: { 'api-key': KEY } })).arrayBuffer());
    expect(archive.toString('latin1')).toMatch(/fs1-1000-.*\.snapshot/);
    await call('DELETE', `/snapshots/${full.name}`);
  });

  test('shards are snapshotted one by one: a write to a later shard during the snapshot is in it, one to an earlier shard is not', async () => {
    await create('sh', { size: 4, distance: 'Dot' }, { shard_number: 2 });
    await upsert('sh', [2, 3]);
    node.betweenShards(async (c, shard) => {
      if (c === 'sh' && shard === 0) await upsert('sh', [4, 5]); // 4 -> shard 0 (already cut), 5 -> shard 1
    });
    try {
      const snap = (await call('POST', '/collections/sh/snapshots?wait=true')).body.result;
      const held = JSON.parse((await download('sh', snap.name)).toString()).points.map((p: { id: number }) => p.id).sort();
      expect(held).toEqual([2, 3, 5]);
    } finally {
      node.betweenShards(undefined);
    }
  });

  test('payload indexes and config updates show in the collection info and travel in its snapshot', async () => {
    await create('cfg', { size: 4, distance: 'Dot' }, { hnsw_config: { m: 32 } });
    await call('PUT', '/collections/cfg/index?wait=true', { field_name: 'id', field_schema: 'integer' });
    await call('PATCH', '/collections/cfg', { optimizers_config: { indexing_threshold: 100 } });
    const info = (await call('GET', '/collections/cfg')).body.result;
    expect(info.config.hnsw_config.m).toBe(32);
    expect(info.config.optimizer_config.indexing_threshold).toBe(100);
    expect(info.payload_schema.id.data_type).toBe('integer');
    const snap = (await call('POST', '/collections/cfg/snapshots?wait=true')).body.result;
    const held = JSON.parse((await download('cfg', snap.name)).toString());
    expect(held.payload_schema).toEqual({ id: { data_type: 'integer' } });
  });
});
