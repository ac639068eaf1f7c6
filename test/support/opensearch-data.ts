/** Small seed data for OpenSearch tests, through plain REST (works on any node). */
export async function os<T = any>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const ndjson = typeof body === 'string';
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    ...(body === undefined ? {} : { body: ndjson ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Two user indices (one with two shards) and one hidden '.'-index the backup must leave out. */
export async function seedOpenSearch(url: string, prefix = ''): Promise<void> {
  await os(url, 'PUT', `/${prefix}articles`, { settings: { number_of_shards: 2, number_of_replicas: 0 } });
  await os(url, 'PUT', `/${prefix}users`, { settings: { number_of_shards: 1, number_of_replicas: 0 } });
  await os(url, 'PUT', `/.${prefix}internal`, { settings: { number_of_shards: 1, number_of_replicas: 0, hidden: true } });
  const lines: string[] = [];
  for (let i = 0; i < 150; i++) lines.push(JSON.stringify({ index: { _index: `${prefix}articles`, _id: `a${i}` } }), JSON.stringify({ title: `article ${i}`, n: i }));
  for (let i = 0; i < 60; i++) lines.push(JSON.stringify({ index: { _index: `${prefix}users`, _id: `u${i}` } }), JSON.stringify({ name: `user ${i}` }));
  lines.push(JSON.stringify({ index: { _index: `.${prefix}internal`, _id: 'x' } }), JSON.stringify({ secret: 1 }));
  const res = await os<{ errors: boolean }>(url, 'POST', '/_bulk?refresh=true', `${lines.join('\n')}\n`);
  if (res.errors) throw new Error('bulk seed failed');
}

/** Deletes a third of the articles, updates every user: counts and versions change. */
export async function mutateOpenSearch(url: string, prefix = ''): Promise<void> {
  // Bulk deletes: the embedded test node has no reindex module (_delete_by_query).
  const lines: string[] = [];
  for (let i = 0; i < 50; i++) lines.push(JSON.stringify({ delete: { _index: `${prefix}articles`, _id: `a${i}` } }));
  for (let i = 0; i < 60; i++) lines.push(JSON.stringify({ index: { _index: `${prefix}users`, _id: `u${i}` } }), JSON.stringify({ name: `renamed ${i}` }));
  await os(url, 'POST', '/_bulk?refresh=true', `${lines.join('\n')}\n`);
}

export async function articlesCount(url: string, prefix = ''): Promise<number> {
  return (await os<{ count: number }>(url, 'GET', `/${prefix}articles/_count`)).count;
}
