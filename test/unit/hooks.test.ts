/** Hook settings: holdfast.yml's hooks: and a container's holdfast.* labels, parsed into commands (hooks.ts). */
import { describe, expect, test } from 'vitest';
import { hookEnv, hooksFor, labelHooks, parseConfigHooks } from '../../src/core/hooks.js';
import type { Service } from '../../src/core/service.js';

const inContainer = (labels: Record<string, string>): Service => ({
  name: 'cache',
  options: {},
  origin: 'docker',
  container: { id: 'abc', name: 'shop-cache-1', image: 'redis', state: 'running', labels, mounts: [], envNames: [], ports: [] },
});

describe('hooks', () => {
  test('holdfast.yml: an argv array as is, a string through /bin/sh -c, a mapping with its own timeout and place', () => {
    const hooks = parseConfigHooks({ timeout: '2m', 'pre-backup': ['pg_isready', '-q'], 'post-backup': 'echo done', 'pre-restore': { run: ['stop-app'], in: 'container', timeout: 5 } }, 'db', 'h.yml');
    expect(hooks['pre-backup']).toEqual({ argv: ['pg_isready', '-q'], where: 'host', timeoutMs: 120_000, from: 'holdfast.yml' });
    expect(hooks['post-backup']!.argv).toEqual(['/bin/sh', '-c', 'echo done']);
    expect(hooks['pre-restore']).toMatchObject({ argv: ['stop-app'], where: 'container', timeoutMs: 5000 });
    expect(parseConfigHooks({ 'post-restore': ['x'] }, 'db', 'h.yml')['post-restore']!.timeoutMs).toBe(60_000);
  });

  test.each([
    [{ 'pre-backup': [] }, /pre-backup must be a non-empty argv array/],
    [{ 'pre-backup': ['ok', 3] }, /pre-backup must be a non-empty argv array/],
    [{ 'pre-backup': { run: 'x', in: 'elsewhere' } }, /in must be host or container/],
    [{ 'pre-backup': 'x', timeout: 'soon' }, /hooks.timeout "soon" is not a duration/],
    [{ prebackup: 'x' }, /unknown settings prebackup/],
    [['x'], /hooks must be a mapping/],
  ])('refused: %j', (raw, message) => {
    expect(() => parseConfigHooks(raw, 'db', 'h.yml')).toThrow(message);
  });

  test('labels: a string for /bin/sh -c or a JSON argv, in the container, with holdfast.hook-timeout; after holdfast.yml', () => {
    const service = inContainer({ 'holdfast.pre-backup': 'redis-cli save', 'holdfast.post-backup': '["redis-cli","bgsave"]', 'holdfast.hook-timeout': '10s' });
    expect(labelHooks(service)).toEqual({
      'pre-backup': { argv: ['/bin/sh', '-c', 'redis-cli save'], where: 'container', timeoutMs: 10_000, from: 'label holdfast.pre-backup' },
      'post-backup': { argv: ['redis-cli', 'bgsave'], where: 'container', timeoutMs: 10_000, from: 'label holdfast.post-backup' },
    });
    service.hooks = parseConfigHooks({ 'pre-backup': ['first'] }, 'cache', 'h.yml');
    expect(hooksFor(service, 'pre-backup').map((h) => h.argv[0])).toEqual(['first', '/bin/sh']);
    expect(() => labelHooks(inContainer({ 'holdfast.pre-backup': '[1,2' }))).toThrow(/container shop-cache-1 has holdfast.pre-backup="\[1,2"/);
    expect(() => labelHooks(inContainer({ 'holdfast.hook-timeout': 'never' }))).toThrow(/hook-timeout/);
  });

  test('the environment tells the outcome; nothing else', () => {
    expect(hookEnv(inContainer({}), 'post-backup', { snapshot: 'S1', status: 'failed', error: 'boom' })).toEqual({
      HOLDFAST_HOOK_PHASE: 'post-backup',
      HOLDFAST_SERVICE: 'cache',
      HOLDFAST_SNAPSHOT: 'S1',
      HOLDFAST_STATUS: 'failed',
      HOLDFAST_ERROR: 'boom',
    });
  });
});
