import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { loadConfig, selectServices } from '../../src/core/config.js';
import type { Service } from '../../src/core/service.js';
import { cleanupTemp, tempDir } from './helpers/temp-repo.js';

afterEach(async () => {
  vi.unstubAllEnvs();
  await cleanupTemp();
});

async function configFile(text: string): Promise<string> {
  const path = join(await tempDir(), 'holdfast.yml');
  await writeFile(path, text);
  return path;
}

const EXAMPLE = `
repo: /var/backups/holdfast
services:
  db:
    url: postgres://app@127.0.0.1:5432/app
    strategy: pg_dump
    databases: [app, audit]
    timeout: 3600
    password_file: /run/secrets/db
  uploads: volume:app_uploads
  search:
    engine: opensearch
`;

describe('loadConfig', () => {
  test('reads the repository and the services of holdfast.yml', async () => {
    const path = await configFile(EXAMPLE);
    const config = loadConfig(path, []);
    expect(config.path).toBe(path);
    expect(config.repo).toBe('/var/backups/holdfast');
    expect(config.services.map((s) => s.name)).toEqual(['db', 'uploads', 'search']);
    const [db, uploads, search] = config.services as [Service, Service, Service];
    expect(db).toEqual({
      name: 'db',
      endpoint: { scheme: 'postgres', host: '127.0.0.1', port: 5432, user: 'app', path: 'app', params: {} },
      strategy: 'pg_dump',
      options: { databases: ['app', 'audit'], timeout: 3600, password_file: '/run/secrets/db' },
      origin: 'config',
    });
    expect(uploads.endpoint).toMatchObject({ scheme: 'volume', path: 'app_uploads' });
    expect(search).toMatchObject({ engine: 'opensearch', options: {}, origin: 'config' });
    expect(search.endpoint).toBeUndefined();
  });

  test('a password in a holdfast.yml URL is accepted and kept apart', async () => {
    const config = loadConfig(await configFile('services:\n  db: postgres://app:InFile@h/app\n'), []);
    expect(config.services[0]!.endpoint).toMatchObject({ user: 'app', password: 'InFile', host: 'h' });
  });

  test('--service adds a service', async () => {
    const config = loadConfig(await configFile(EXAMPLE), ['cache=volume:redis_data']);
    expect(config.services.map((s) => s.name)).toEqual(['db', 'uploads', 'search', 'cache']);
    expect(config.services[3]).toEqual({ name: 'cache', endpoint: { scheme: 'volume', host: '', path: 'redis_data', params: {} }, options: {}, origin: 'flag' });
  });

  test('--service overrides the URL of a configured service and keeps its settings', async () => {
    const config = loadConfig(await configFile(EXAMPLE), ['db=postgres://other@10.0.0.9:6432/app']);
    const db = config.services.find((s) => s.name === 'db')!;
    expect(db.endpoint).toMatchObject({ host: '10.0.0.9', port: 6432, user: 'other' });
    expect(db.strategy).toBe('pg_dump');
    expect(db.options.databases).toEqual(['app', 'audit']);
    expect(db.origin).toBe('flag');
    expect(config.services).toHaveLength(3);
  });

  test('--service without a config file', () => {
    vi.stubEnv('HOLDFAST_CONFIG', '');
    const config = loadConfig(undefined, ['db=postgres://app@h/app']);
    expect(config.services.map((s) => [s.name, s.origin])).toEqual([['db', 'flag']]);
  });

  test('HOLDFAST_CONFIG names the file when --config does not', async () => {
    vi.stubEnv('HOLDFAST_CONFIG', await configFile(EXAMPLE));
    expect(loadConfig(undefined, []).services).toHaveLength(3);
  });

  test('--service with a password in the URL, or a bad name: config errors', () => {
    expect(() => loadConfig(undefined, ['db=postgres://app:pw@h/app'])).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => loadConfig(undefined, ['../x=volume:v'])).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => loadConfig(undefined, ['volume:v'])).toThrow(expect.objectContaining({ code: 'usage' }));
  });

  test('invalid YAML: a config error naming the file', async () => {
    const path = await configFile('services:\n  db: [unclosed\n');
    expect(() => loadConfig(path, [])).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining(path) }));
  });

  test('a top level that is not a mapping, or services that are a list: config errors', async () => {
    const list = await configFile('- a\n- b\n');
    expect(() => loadConfig(list, [])).toThrow(expect.objectContaining({ code: 'config' }));
    const servicesList = await configFile('services:\n  - db\n');
    expect(() => loadConfig(servicesList, [])).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('mapping') }));
  });

  test('a service with neither url nor engine: a config error naming it', async () => {
    const path = await configFile('services:\n  orphan:\n    databases: [a]\n');
    expect(() => loadConfig(path, [])).toThrow(expect.objectContaining({ code: 'config', service: 'orphan', message: expect.stringContaining('neither url nor engine') }));
  });

  test('an invalid service name in holdfast.yml: a config error', async () => {
    const path = await configFile('services:\n  "db;rm -rf /": volume:x\n');
    expect(() => loadConfig(path, [])).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('invalid service name') }));
  });

  test('a missing file: a config error', async () => {
    const path = join(await tempDir(), 'missing.yml');
    expect(() => loadConfig(path, [])).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('cannot read') }));
  });

  test('an empty file: no services', async () => {
    expect(loadConfig(await configFile(''), []).services).toEqual([]);
  });
});

describe('selectServices', () => {
  const all: Service[] = ['db', 'cache', 'search'].map((name) => ({ name, options: {}, origin: 'config' as const, engine: 'x' }));

  test('no names: all services', () => {
    expect(selectServices(all, [])).toBe(all);
  });

  test('names pick services in the order given', () => {
    expect(selectServices(all, ['search', 'db']).map((s) => s.name)).toEqual(['search', 'db']);
  });

  test('an unknown name: a usage error listing the configured ones', () => {
    expect(() => selectServices(all, ['db', 'nosuch'])).toThrow(
      expect.objectContaining({ code: 'usage', message: expect.stringContaining('nosuch'), hint: 'configured: db, cache, search' }),
    );
  });

  test('an unknown name with nothing configured: the hint says how to define services', () => {
    expect(() => selectServices([], ['db'])).toThrow(expect.objectContaining({ code: 'usage', hint: expect.stringContaining('--service') }));
  });
});

describe('loadConfig: the docker section', () => {
  test('host, project and discover; a docker section turns discovery on unless discover: false', async () => {
    const on = loadConfig(await configFile('docker:\n  host: unix:///run/other.sock\n  project: shop\n'), []);
    expect(on.docker).toEqual({ host: 'unix:///run/other.sock', project: 'shop', discover: true });
    const off = loadConfig(await configFile('docker:\n  host: tcp://127.0.0.1:2375\n  discover: false\n'), []);
    expect(off.docker).toEqual({ host: 'tcp://127.0.0.1:2375', discover: false });
    expect(loadConfig(await configFile('repo: /r\n'), []).docker).toBeUndefined();
  });

  test('unknown keys, a host that is no Docker address, an empty project: config errors that name the fix', async () => {
    const cases: Array<[string, RegExp]> = [
      ['docker:\n  hots: unix:///x.sock\n', /docker has unknown settings hots/],
      ['docker:\n  host: /var/run/docker.sock\n', /docker.host "\/var\/run\/docker.sock" is not a Docker address/],
      ['docker:\n  project: ""\n', /docker.project must be a compose project name/],
      ['docker:\n  discover: maybe\n', /docker.discover must be true or false/],
      ['docker: [a]\n', /docker must be a mapping/],
    ];
    for (const [text, message] of cases) {
      const path = await configFile(text);
      expect(() => loadConfig(path, [])).toThrow(message);
      try {
        loadConfig(path, []);
      } catch (error) {
        expect((error as { code: string }).code).toBe('config');
        expect((error as { hint?: string }).hint).toBeTruthy();
      }
    }
  });
});
