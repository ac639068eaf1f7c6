import { describe, expect, test } from 'vitest';
import { HoldfastError } from '../../src/core/errors.js';
import { chooseStrategy, plan, planService } from '../../src/core/planner.js';
import { DriverRegistry } from '../../src/core/registry.js';
import { fakeDriver, offer, requirement, service } from './helpers/fake-driver.js';

const dumpNeedsTool = offer('dump', {
  summary: 'logical dump per database',
  requirements: [requirement('dumptool >= 15', false, 'install dumptool 15', 'dumptool 13 found')],
});
const physical = offer('physical', { summary: 'physical copy with WAL', requirements: [requirement('replication role', true)] });
const liveCopy = offer('live-copy', { consistency: 'inconsistent', summary: 'copy the files while running' });

describe('chooseStrategy', () => {
  test('the strongest offer whose requirements all hold wins', () => {
    const offers = [offer('strong', { summary: 'the strong one' }), offer('weak', { consistency: 'quiesced' })];
    const choice = chooseStrategy(service('db'), offers);
    expect(choice.error).toBeUndefined();
    expect(choice.strategy).toBe('strong');
    expect(choice.consistency).toBe('transactional');
    expect(choice.reason).toContain('strongest available');
    expect(choice.reason).toContain('the strong one');
  });

  test('a stronger offer with an unmet requirement is skipped, and the reason names it and why', () => {
    const choice = chooseStrategy(service('db'), [dumpNeedsTool, physical]);
    expect(choice.error).toBeUndefined();
    expect(choice.strategy).toBe('physical');
    expect(choice.reason).toContain('physical copy with WAL');
    expect(choice.reason).toMatch(/skipped dump: dumptool >= 15 \(dumptool 13 found\)/);
  });

  test('a pinned strategy is used even when a stronger one could run', () => {
    const choice = chooseStrategy(service('db', { strategy: 'weak' }), [offer('strong'), offer('weak', { consistency: 'quiesced' })]);
    expect(choice.error).toBeUndefined();
    expect(choice.strategy).toBe('weak');
    expect(choice.consistency).toBe('quiesced');
    expect(choice.reason).toMatch(/pinned/);
  });

  test('a pinned strategy with an unmet requirement fails, naming the requirement and its hint', () => {
    const choice = chooseStrategy(service('db', { strategy: 'dump' }), [dumpNeedsTool, physical]);
    expect(choice.error).toBeInstanceOf(HoldfastError);
    expect(choice.error!.service).toBe('db');
    expect(choice.error!.message).toContain('dumptool >= 15');
    expect(choice.error!.hint).toBe('install dumptool 15');
    expect(choice.reason).toContain('dumptool >= 15');
  });

  test('an unknown pinned strategy fails and lists the offered ones', () => {
    const choice = chooseStrategy(service('db', { strategy: 'magic' }), [dumpNeedsTool, physical]);
    expect(choice.strategy).toBeUndefined();
    expect(choice.error?.code).toBe('config');
    expect(choice.error!.message).toContain('magic');
    expect(choice.error!.hint).toContain('dump');
    expect(choice.error!.hint).toContain('physical');
  });

  test('an inconsistent offer is never chosen, even when it is first and the only one that can run', () => {
    const choice = chooseStrategy(service('db'), [liveCopy, dumpNeedsTool]);
    expect(choice.strategy).toBeUndefined();
    expect(choice.error).toBeInstanceOf(HoldfastError);

    const withConsistent = chooseStrategy(service('db'), [liveCopy, physical]);
    expect(withConsistent.strategy).toBe('physical');
  });

  test('when only an inconsistent offer could run, the error names it (so that the user can pin it)', () => {
    const choice = chooseStrategy(service('db'), [liveCopy]);
    expect(choice.strategy).toBeUndefined();
    expect(choice.error).toBeInstanceOf(HoldfastError);
    expect(choice.error!.message, 'the message claims nothing was offered').toContain('live-copy');
  });

  test('an inconsistent offer is used when pinned', () => {
    const choice = chooseStrategy(service('db', { strategy: 'live-copy' }), [physical, liveCopy]);
    expect(choice.error).toBeUndefined();
    expect(choice.strategy).toBe('live-copy');
    expect(choice.consistency).toBe('inconsistent');
  });

  test('no runnable offer: an error naming the service, what is missing, and the hints', () => {
    const blocked = offer('physical', { requirements: [requirement('replication role', false, 'ALTER ROLE x REPLICATION')] });
    const choice = chooseStrategy(service('db'), [dumpNeedsTool, blocked]);
    expect(choice.strategy).toBeUndefined();
    expect(choice.error?.code).toBe('tool');
    expect(choice.error!.service).toBe('db');
    expect(choice.error!.message).toContain('dumptool >= 15');
    expect(choice.error!.message).toContain('replication role');
    expect(choice.error!.hint).toContain('install dumptool 15');
    expect(choice.error!.hint).toContain('ALTER ROLE x REPLICATION');
  });

  test('no runnable offer for one shared reason: its hint is given once, distinct hints in order', () => {
    const image = requirement('helper image debian:stable-slim', false, 'docker pull debian:stable-slim, or set HOLDFAST_HELPER_IMAGE');
    const stopped = offer('tar-stop', { consistency: 'quiesced', requirements: [image, requirement('stop allowed', false, 'label holdfast.stop=true')] });
    const choice = chooseStrategy(service('files'), [offer('tar', { requirements: [image] }), offer('tar-pause', { requirements: [image] }), stopped]);
    expect(choice.error!.hint).toBe('docker pull debian:stable-slim, or set HOLDFAST_HELPER_IMAGE; label holdfast.stop=true');
  });

  test('a pinned strategy with the same hint on two unmet requirements gives it once', () => {
    const twice = offer('dump', { requirements: [requirement('dumptool', false, 'install dumptool'), requirement('dumprestore', false, 'install dumptool')] });
    const choice = chooseStrategy(service('db', { strategy: 'dump' }), [twice]);
    expect(choice.error!.hint).toBe('install dumptool');
  });

  test('no offer at all: an error', () => {
    const choice = chooseStrategy(service('db'), []);
    expect(choice.strategy).toBeUndefined();
    expect(choice.error).toBeInstanceOf(HoldfastError);
    expect(choice.reason).toMatch(/none offered/);
  });
});

describe('planService', () => {
  test('plans through the driver the registry finds for the URL scheme', async () => {
    const driver = fakeDriver({ strategies: async () => [dumpNeedsTool, physical] });
    const item = await planService(new DriverRegistry([driver]), service('db'));
    expect(item.error).toBeUndefined();
    expect(item.driver).toBe(driver);
    expect(item.detectedBy).toContain('fake');
    expect(item.strategy).toBe('physical');
    expect(item.offers).toHaveLength(2);
  });

  test('a driver whose strategies() fails to connect: the item carries a connect error with the service name', async () => {
    const driver = fakeDriver({
      strategies: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7'), { code: 'ECONNREFUSED' });
      },
    });
    const item = await planService(new DriverRegistry([driver]), service('orders'));
    expect(item.strategy).toBeUndefined();
    expect(item.error?.code).toBe('connect');
    expect(item.error!.service).toBe('orders');
    expect(item.error!.driver).toBe('fake');
    expect(item.error!.describe()).toContain('[orders]');
    expect(item.reason).toContain('ECONNREFUSED');
  });

  test('a HoldfastError from strategies() keeps its code and gains the service name', async () => {
    const driver = fakeDriver({
      strategies: async () => {
        throw new HoldfastError('auth', 'password authentication failed for user "app"');
      },
    });
    const item = await planService(new DriverRegistry([driver]), service('db'));
    expect(item.error?.code).toBe('auth');
    expect(item.error!.service).toBe('db');
  });

  test('a service no driver recognises: a config error, not a throw', async () => {
    const item = await planService(new DriverRegistry([fakeDriver()]), service('db', { endpoint: { scheme: 'nosuch', host: 'h', path: '', params: {} } }));
    expect(item.driver).toBeUndefined();
    expect(item.error?.code).toBe('config');
    expect(item.error!.service).toBe('db');
  });

  test('plan() plans every service, one failing driver does not stop the others', async () => {
    const driver = fakeDriver({
      strategies: async (svc) => {
        if (svc.name === 'down') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return [physical];
      },
    });
    const items = await plan(new DriverRegistry([driver]), [service('up'), service('down')]);
    expect(items.map((i) => [i.service.name, i.strategy, i.error?.code])).toEqual([
      ['up', 'physical', undefined],
      ['down', undefined, 'connect'],
    ]);
  });
});
