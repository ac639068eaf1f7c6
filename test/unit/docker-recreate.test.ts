import { describe, expect, test } from 'vitest';
import type { ContainerSpec, DockerApi } from '../../src/docker/docker-api.js';
import { recreateContainer, type RecordedContainer } from '../../src/docker/docker-recreate.js';

/** Just the calls recreateContainer makes, recorded. */
function fakeApi(state: { containers?: string[]; volumes?: string[]; images?: Record<string, string[]>; failCreate?: boolean } = {}) {
  const calls: string[] = [];
  const created: ContainerSpec[] = [];
  const volumes = new Set(state.volumes ?? []);
  const api = {
    host: 'unix:///run/b.sock',
    inspectContainer: async (name: string) => ((state.containers ?? []).includes(name) ? { name } : undefined),
    imageEnvNames: async (image: string) => (state.images ?? { 'pg:15': ['PATH', 'PGDATA', 'LANG'] })[image],
    inspectVolume: async (name: string) => (volumes.has(name) ? { name } : undefined),
    createVolume: async (spec: { name: string }) => {
      calls.push(`create volume ${spec.name}`);
      volumes.add(spec.name);
    },
    removeVolume: async (name: string) => {
      calls.push(`remove volume ${name}`);
      volumes.delete(name);
    },
    createContainer: async (spec: ContainerSpec) => {
      if (state.failCreate) throw new Error('no such image layer');
      created.push(spec);
      calls.push(`create container ${spec.name}`);
      return 'c0ffee';
    },
    remove: async (id: string) => void calls.push(`remove container ${id}`),
    logsTail: async () => 'Error: Database is uninitialized',
  } as unknown as DockerApi;
  return { api, calls, created, volumes };
}

const PG: RecordedContainer = {
  name: 'shop-db-1',
  image: 'pg:15',
  envNames: ['POSTGRES_PASSWORD', 'PGPORT', 'PATH', 'PGDATA', 'LANG'],
  labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'db' },
  mounts: [
    { type: 'volume', source: 'shop_pgdata', destination: '/var/lib/postgresql/data', readOnly: false, driver: 'local' },
    { type: 'bind', source: '/etc/shop/pg.conf', destination: '/etc/postgresql/pg.conf', readOnly: true },
    { type: 'tmpfs', source: 'tmpfs', destination: '/run/postgresql', readOnly: false },
  ],
  stopTimeout: 30,
};
const CTX = { service: 'db', snapshot: '20261130T120000Z-abcd' };

describe('recreateContainer', () => {
  test('same name, image, labels and mount points on a fresh volume, no network; env values from holdfast\'s environment, image ones left to the image', async () => {
    const { api, calls, created } = fakeApi();
    const result = await recreateContainer(api, PG, { ...CTX, env: { POSTGRES_PASSWORD: 'pw', PATH: '/host/bin' } });
    expect(result.created).toBe(true);
    expect(calls).toEqual(['create volume shop_pgdata', 'create container shop-db-1']);
    expect(created[0]).toEqual({
      name: 'shop-db-1',
      image: 'pg:15',
      env: ['POSTGRES_PASSWORD=pw'],
      labels: { ...PG.labels, 'holdfast.restored-from': CTX.snapshot, 'holdfast.service': 'db' },
      mounts: [
        { type: 'volume', source: 'shop_pgdata', target: '/var/lib/postgresql/data', readOnly: false },
        { type: 'tmpfs', source: '', target: '/run/postgresql', readOnly: false },
      ],
      networkMode: 'none',
      stopTimeout: 30,
    });
    const notes = result.notes.join('\n');
    expect(notes).toContain('started container shop-db-1 from pg:15 on unix:///run/b.sock, without network, on fresh volumes shop_pgdata');
    expect(notes).toContain("not set in holdfast's environment, left out: PGPORT");
    expect(notes).toContain('bind /etc/shop/pg.conf at /etc/postgresql/pg.conf (read-only: not state) was not mounted');
    // The password value is in the API request only, never in a note.
    expect(notes).not.toContain('pw');
    expect(await result.discard()).toBe('Error: Database is uninitialized');
    expect(calls.slice(2)).toEqual(['remove container c0ffee', 'remove volume shop_pgdata']);
  });

  test('a read-only bind mount named by the manifest is mounted again, read-only, only with --force', async () => {
    const plain = await recreateContainer(fakeApi().api, PG, CTX);
    expect(plain.notes.join('\n')).toContain('or restore with --force to mount it read-only again');
    const { api, created } = fakeApi();
    const forced = await recreateContainer(api, PG, { ...CTX, readOnlyBinds: true });
    expect((created[0] as { mounts: unknown[] }).mounts).toContainEqual({ type: 'bind', source: '/etc/shop/pg.conf', target: '/etc/postgresql/pg.conf', readOnly: true });
    expect(forced.notes.join('\n')).toContain('mounted the host directory /etc/shop/pg.conf read-only at /etc/postgresql/pg.conf, as the manifest records it (--force)');
  });

  test('an existing container is left alone: the restore goes into it', async () => {
    const { api, calls } = fakeApi({ containers: ['shop-db-1'] });
    expect(await recreateContainer(api, PG, CTX)).toMatchObject({ created: false, notes: [] });
    expect(calls).toEqual([]);
  });

  test('a missing image, an existing volume, a read-write bind mount: clear target errors, nothing created', async () => {
    const noImage = fakeApi({ images: {} });
    await expect(recreateContainer(noImage.api, PG, CTX)).rejects.toMatchObject({ code: 'target', message: expect.stringContaining('the image pg:15 of container shop-db-1 is not on the Docker host unix:///run/b.sock'), hint: expect.stringContaining('holdfast never pulls') });
    const taken = fakeApi({ volumes: ['shop_pgdata'] });
    await expect(recreateContainer(taken.api, PG, CTX)).rejects.toMatchObject({ code: 'target', message: expect.stringContaining('volume shop_pgdata already exists') });
    const bind = fakeApi();
    await expect(recreateContainer(bind.api, { ...PG, mounts: [{ type: 'bind', source: '/srv/pg', destination: '/var/lib/postgresql/data', readOnly: false }] }, CTX)).rejects.toMatchObject({ code: 'target', message: expect.stringContaining('/srv/pg') });
    for (const f of [noImage, taken, bind]) expect(f.calls).toEqual([]);
  });

  test('a container that cannot be created takes its fresh volumes with it', async () => {
    const { api, calls, volumes } = fakeApi({ failCreate: true });
    await expect(recreateContainer(api, PG, CTX)).rejects.toThrow('no such image layer');
    expect(calls).toEqual(['create volume shop_pgdata', 'remove volume shop_pgdata']);
    expect(volumes.size).toBe(0);
  });
});
