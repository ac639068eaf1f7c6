import { QdrantClient } from '@qdrant/js-client-rest';

/** Small seed data, valid on the fake and on a real Qdrant (numeric ids, dim 8, payloads). */
export async function seedQdrant(url: string, apiKey?: string, prefix = ''): Promise<QdrantClient> {
  const client = new QdrantClient({ url, ...(apiKey ? { apiKey } : {}), checkCompatibility: false });
  for (const [base, n] of [['docs', 120], ['images', 40]] as const) {
    const name = `${prefix}${base}`;
    if ((await client.collectionExists(name)).exists) await client.deleteCollection(name);
    await client.createCollection(name, { vectors: { size: 8, distance: 'Cosine' } });
    const points = Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      vector: Array.from({ length: 8 }, (_, d) => Math.sin(i * 8 + d + 1)),
      payload: { title: `${base} ${i}`, tags: [i % 3, i % 5], nested: { even: i % 2 === 0 } },
    }));
    await client.upsert(name, { wait: true, points });
  }
  return client;
}

/** Deletes a third of the docs and rewrites one payload: the content checksum must change. */
export async function mutateQdrant(client: QdrantClient, prefix = ''): Promise<void> {
  await client.delete(`${prefix}docs`, { wait: true, points: Array.from({ length: 40 }, (_, i) => i * 3 + 1) });
  await client.upsert(`${prefix}images`, { wait: true, points: [{ id: 1, vector: Array(8).fill(0.5), payload: { title: 'changed' } }] });
}

export async function docsCount(client: QdrantClient, prefix = ''): Promise<number> {
  return (await client.count(`${prefix}docs`, { exact: true })).count;
}
