import { describe, expect, test } from 'vitest';
import { DriverRegistry } from '../../src/core/registry.js';
import { fakeDriver, service } from './helpers/fake-driver.js';

const alpha = fakeDriver({ engine: 'alpha' });
const beta = fakeDriver({
  engine: 'beta',
  detect: (c) => {
    if (c.endpoint?.scheme === 'beta') return { engine: 'beta', signal: 'URL scheme beta:', strength: 80 };
    if (c.endpoint?.scheme === 'alpha') return { engine: 'beta', signal: 'weak guess', strength: 20 };
    return undefined;
  },
});

describe('DriverRegistry', () => {
  test('the strongest detection wins', () => {
    const registry = new DriverRegistry([beta, alpha]);
    const found = registry.forService(service('db', { endpoint: { scheme: 'alpha', host: 'h', path: '', params: {} } }));
    expect(found.driver).toBe(alpha);
    expect(found.detection.strength).toBe(80);
  });

  test('a configured engine is used without detection', () => {
    const registry = new DriverRegistry([alpha, beta]);
    const found = registry.forService(service('db', { engine: 'beta', endpoint: { scheme: 'alpha', host: 'h', path: '', params: {} } }));
    expect(found.driver).toBe(beta);
    expect(found.detection.signal).toBe('configured engine');
  });

  test('an unknown configured engine: a config error listing the known ones', () => {
    const registry = new DriverRegistry([alpha, beta]);
    expect(() => registry.forService(service('db', { engine: 'gamma' }))).toThrow(expect.objectContaining({ code: 'config', hint: 'known engines: alpha, beta' }));
  });

  test('nothing detects the service: a config error naming it and the schemes', () => {
    const registry = new DriverRegistry([alpha, beta]);
    expect(() => registry.forService(service('db', { endpoint: { scheme: 'ftp', host: 'h', path: '', params: {} } }))).toThrow(
      expect.objectContaining({ code: 'config', service: 'db', message: expect.stringContaining('ftp'), hint: expect.stringContaining('alpha, beta') }),
    );
  });

  test('a driver registered twice is refused', () => {
    expect(() => new DriverRegistry([alpha, fakeDriver({ engine: 'alpha' })])).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});
