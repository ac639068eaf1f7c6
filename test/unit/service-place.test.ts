// The choice of place: what a user may pin, and how a published port is read (src/place/service-place.ts).
import { describe, expect, test } from 'vitest';
import type { Service } from '../../src/core/service.js';
import { userLabels } from '../../src/docker/docker-labels.js';
import { isContainerBacked, openServicePlace, pinnedPlace, publishedPort, servicePort } from '../../src/place/service-place.js';

const service = (options: Record<string, unknown>, extra: Partial<Service> = {}): Service => ({ name: 'search', options, origin: 'config', endpoint: { scheme: 'container', host: '', path: 'shop-search-1', params: {} }, ...extra });

describe('the place of a service', () => {
  test('pinned by place: (holdfast.yml) or by the label; anything else is refused naming the service', () => {
    expect(pinnedPlace(service({}))).toBeUndefined();
    expect(pinnedPlace(service({ place: 'sidecar' }))).toEqual({ kind: 'sidecar', by: 'pinned by place: sidecar' });
    const labelled = service({ place: 'container' }, { origin: 'docker', container: { id: 'x', name: 'shop-search-1', image: 'i', state: 'running', labels: { 'holdfast.place': 'container' }, mounts: [], envNames: [], ports: [] } });
    expect(pinnedPlace(labelled)).toEqual({ kind: 'container', by: 'pinned by label holdfast.place=container' });
    expect(() => pinnedPlace(service({ place: 'elsewhere' }))).toThrow(/place "elsewhere" is not a place/);
    expect(() => userLabels({ 'holdfast.place': 'moon' }, 'c1')).toThrow(/holdfast.place="moon"/);
    expect(userLabels({ 'holdfast.place': 'sidecar', 'holdfast.sidecar-image': 'busybox:1', 'holdfast.port': '6400' }, 'c1')).toMatchObject({ place: 'sidecar', sidecarImage: 'busybox:1', port: 6400 });
    expect(() => userLabels({ 'holdfast.port': '0' }, 'c1')).toThrow(/holdfast.port="0"/);
  });

  test('a URL service runs on this host; pinning it into a container is a configuration error', async () => {
    const byUrl: Service = { name: 'q', options: {}, origin: 'flag', endpoint: { scheme: 'qdrant', host: '127.0.0.1', port: 6333, path: '', params: {} } };
    expect(isContainerBacked(byUrl)).toBe(false);
    expect(isContainerBacked(service({}))).toBe(true);
    const sp = await openServicePlace(byUrl, { engine: 'Qdrant', port: 6333 });
    expect({ kind: sp.kind, where: sp.place.where, reason: sp.reason }).toEqual({ kind: 'host', where: 'on this host', reason: 'reached by its URL' });
    await expect(openServicePlace({ ...byUrl, options: { place: 'sidecar' } }, { engine: 'Qdrant' })).rejects.toThrow(/pinned by place: sidecar, but q is reached by its URL/);
  });

  test('published ports and the port option', () => {
    expect(publishedPort(['6333/tcp -> 127.0.0.1:16333'], 6333)).toEqual({ host: '127.0.0.1', port: 16333 });
    expect(publishedPort(['9200/tcp -> 0.0.0.0:19200'], 9200)).toEqual({ host: '127.0.0.1', port: 19200 });
    expect(publishedPort(['network none'], 6333)).toBeUndefined();
    expect(publishedPort(['6334/tcp -> 127.0.0.1:16334'], 6333)).toBeUndefined();
    expect(servicePort(service({}), 6333)).toBe(6333);
    expect(servicePort(service({ port: '6400' }), 6333)).toBe(6400);
    expect(() => servicePort(service({ port: 'x' }), 6333)).toThrow(/port "x" is not a TCP port/);
  });
});
