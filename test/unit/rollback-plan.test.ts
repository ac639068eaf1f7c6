import { describe, expect, test } from 'vitest';
import { recordedContainer, rollbackSteps } from '../../src/core/rollback-plan.js';
import type { ContainerDetails } from '../../src/docker/docker-api.js';
import { startOrder } from '../../src/docker/docker-start-order.js';
import { manifest, serviceRecord } from './helpers/temp-repo.js';

const volumes = [{ type: 'volume', source: 'pgdata', destination: '/var/lib/postgresql/data' }];

describe('rollbackSteps', () => {
  test('a physical copy with volumes is preferred, the logical entry kept for the engine check', () => {
    const m = manifest('20260101T000000Z-abcd', {
      services: {
        db: serviceRecord({ engine: 'postgres', strategy: 'pg_dump', endpoint: 'container:shop-db-1' }),
        'db.physical': serviceRecord({ engine: 'postgres', strategy: 'tar', physicalOf: 'db', details: { volumes } }),
        app: serviceRecord({ engine: 'volume', strategy: 'tar', details: { volumes: [{ type: 'volume', source: 'uploads', destination: '/data' }] } }),
      },
    });
    const steps = rollbackSteps(m);
    expect(steps.map((s) => [s.service, s.entry, s.method, s.logical?.strategy])).toEqual([
      ['app', 'app', 'physical', undefined],
      ['db', 'db.physical', 'physical', 'pg_dump'],
    ]);
  });

  test('a physical copy rollback cannot put in place (pg_basebackup of a host server): the dump, and a note on the copy', () => {
    const m = manifest('20260101T000000Z-abcd', {
      services: {
        db: serviceRecord({ engine: 'postgres', strategy: 'pg_dump' }),
        'db.physical': serviceRecord({ engine: 'postgres', strategy: 'pg_basebackup', physicalOf: 'db' }),
      },
    });
    const [step] = rollbackSteps(m);
    expect(step).toMatchObject({ service: 'db', entry: 'db', method: 'logical' });
    expect(step!.notes[0]).toContain('its pg_basebackup copy (db.physical) cannot be put back in place by rollback');
  });

  test('a failed physical copy falls back to the dump; a service failed at backup is left out', () => {
    const m = manifest('20260101T000000Z-abcd', {
      services: {
        db: serviceRecord({ strategy: 'pg_dump' }),
        'db.physical': serviceRecord({ strategy: 'tar', physicalOf: 'db', status: 'failed', details: { volumes } }),
        broken: serviceRecord({ status: 'failed' }),
      },
    });
    const steps = rollbackSteps(m);
    expect(steps.map((s) => [s.service, s.method, s.notes])).toEqual([['db', 'logical', ['its physical copy (db.physical) failed at backup']]]);
  });

  test('bad input: an unknown service is a usage error; a snapshot with nothing to put back is not-found', () => {
    const m = manifest('20260101T000000Z-abcd', { services: { db: serviceRecord({ status: 'failed' }) } });
    expect(() => rollbackSteps(m, ['nope'])).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringContaining('has no service "nope"') }));
    expect(() => rollbackSteps(m)).toThrow(expect.objectContaining({ code: 'not-found', message: expect.stringContaining('failed at backup: db') }));
  });

  test('the container comes from the container: endpoint, else the recorded container', () => {
    expect(recordedContainer(serviceRecord({ endpoint: 'container:shop-db-1' }))).toEqual({ name: 'shop-db-1' });
    expect(recordedContainer(serviceRecord({ details: { container: { name: 'x', image: 'postgres:15', imageId: 'sha256:1' } } }))).toEqual({ name: 'x', image: 'postgres:15', imageId: 'sha256:1' });
    expect(recordedContainer(serviceRecord({ endpoint: 'postgres://app@127.0.0.1:5432/app' }))).toBeUndefined();
  });
});

function container(name: string, labels: Record<string, string> = {}): ContainerDetails {
  return { id: `id-${name}`, name, image: 'img', status: 'running', running: true, paused: false, exitCode: 0, labels, envNames: [], mounts: [], ports: [], networkMode: 'none' };
}

const compose = (service: string, dependsOn?: string) => ({
  'com.docker.compose.project': 'shop',
  'com.docker.compose.service': service,
  ...(dependsOn ? { 'com.docker.compose.depends_on': dependsOn } : {}),
});

describe('startOrder', () => {
  test('compose depends_on first, whatever the names and kinds say', () => {
    const web = container('a-web', compose('web', 'api:service_started:false'));
    const api = container('b-api', compose('api', 'db:service_healthy:true,cache:service_started:false'));
    const db = container('z-db', compose('db'));
    const cache = container('c-cache', compose('cache'));
    expect(startOrder([web, api, db, cache], () => false).map((c) => c.name)).toEqual(['c-cache', 'z-db', 'b-api', 'a-web']);
  });

  test('without depends_on: databases before apps, then by name', () => {
    const list = [container('app2'), container('pg'), container('app1'), container('mongo')];
    const dbs = new Set(['pg', 'mongo']);
    expect(startOrder(list, (c) => dbs.has(c.name)).map((c) => c.name)).toEqual(['mongo', 'pg', 'app1', 'app2']);
  });

  test('a dependency cycle still gives every container once', () => {
    const a = container('a', compose('a', 'b:service_started:false'));
    const b = container('b', compose('b', 'a:service_started:false'));
    expect(startOrder([b, a], () => false).map((c) => c.name).sort()).toEqual(['a', 'b']);
  });
});
