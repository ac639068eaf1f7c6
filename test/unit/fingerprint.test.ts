import { describe, expect, test } from 'vitest';
import type { Fingerprint } from '../../src/core/driver.js';
import { compareFingerprints } from '../../src/core/fingerprint.js';

const full = (items: Fingerprint['items']): Fingerprint => ({ scope: 'full', items });
const counts = (items: Fingerprint['items']): Fingerprint => ({ scope: 'counts', items });

const BACKUP = full({
  'app.public.accounts': { count: 3, checksum: 'aaa' },
  'app.public.orders': { count: 10, checksum: 'bbb' },
  'audit.public.log': { count: 7, checksum: 'ccc' },
});

describe('compareFingerprints', () => {
  test('equal', () => {
    expect(compareFingerprints(BACKUP, full({ ...BACKUP.items }))).toEqual({ equal: true, compared: 3, differences: [] });
  });

  test('a count differs', () => {
    const result = compareFingerprints(BACKUP, full({ ...BACKUP.items, 'app.public.orders': { count: 9, checksum: 'bbb' } }));
    expect(result.equal).toBe(false);
    expect(result.differences).toEqual(['app.public.orders: 9 rows after restore, 10 at backup']);
  });

  test('a checksum differs', () => {
    const result = compareFingerprints(BACKUP, full({ ...BACKUP.items, 'audit.public.log': { count: 7, checksum: 'zzz' } }));
    expect(result.equal).toBe(false);
    expect(result.differences).toEqual(['audit.public.log: content checksum differs']);
  });

  test('a table missing after the restore', () => {
    const { 'app.public.accounts': _gone, ...rest } = BACKUP.items;
    const result = compareFingerprints(BACKUP, full(rest));
    expect(result.equal).toBe(false);
    expect(result.compared).toBe(3);
    expect(result.differences).toEqual(['app.public.accounts: missing after restore']);
  });

  test('an extra table after the restore', () => {
    const result = compareFingerprints(BACKUP, full({ ...BACKUP.items, 'app.public.extra': { count: 0, checksum: 'x' } }));
    expect(result.equal).toBe(false);
    expect(result.differences).toEqual(['app.public.extra: present after restore, absent at backup']);
  });

  test('prefixes restrict the comparison to the restored databases', () => {
    const restoredApp = full({ 'app.public.accounts': { count: 3, checksum: 'aaa' }, 'app.public.orders': { count: 10, checksum: 'bbb' } });
    expect(compareFingerprints(BACKUP, restoredApp, ['app'])).toEqual({ equal: true, compared: 2, differences: [] });
    // Without the prefix, the database that was not restored counts as missing.
    expect(compareFingerprints(BACKUP, restoredApp).differences).toEqual(['audit.public.log: missing after restore']);
  });

  test('a prefix matches whole path segments only', () => {
    const recorded = full({ 'app.public.t': { count: 1, checksum: 'a' }, 'app2.public.t': { count: 5, checksum: 'b' } });
    const restored = full({ 'app.public.t': { count: 1, checksum: 'a' }, 'app2.public.t': { count: 0, checksum: 'c' } });
    expect(compareFingerprints(recorded, restored, ['app'])).toEqual({ equal: true, compared: 1, differences: [] });
    expect(compareFingerprints(recorded, restored, ['app.public.t'])).toMatchObject({ equal: true, compared: 1 });
    expect(compareFingerprints(recorded, restored, ['app2']).equal).toBe(false);
  });

  test('counts only on one side: checksums are not compared, counts still are', () => {
    const restored = counts({
      'app.public.accounts': { count: 3 },
      'app.public.orders': { count: 10 },
      'audit.public.log': { count: 7 },
    });
    expect(compareFingerprints(BACKUP, restored).equal).toBe(true);
    expect(compareFingerprints(counts({ 'a.b.c': { count: 1 } }), full({ 'a.b.c': { count: 1, checksum: 'x' } })).equal).toBe(true);
    expect(compareFingerprints(counts({ 'a.b.c': { count: 1 } }), full({ 'a.b.c': { count: 2, checksum: 'x' } })).equal).toBe(false);
  });

  test('several differences are all reported', () => {
    const result = compareFingerprints(BACKUP, full({ 'app.public.accounts': { count: 4, checksum: 'aaa' }, 'app.public.orders': { count: 10, checksum: 'x' } }));
    expect(result.differences).toHaveLength(3);
  });
});

describe('compareFingerprints: definitions', () => {
  const defs = (definitions: Fingerprint['definitions']): Fingerprint => ({ scope: 'counts', items: {}, definitions });
  const RECORDED = defs({ app: { owner: 'shop', acl: '{=Tc/shop}' }, 'app.public.t': { owner: 'shop', columns: 'id int4' }, audit: { owner: 'postgres' } });

  test('equal definitions count as compared objects', () => {
    expect(compareFingerprints(RECORDED, defs(structuredClone(RECORDED.definitions)))).toEqual({ equal: true, compared: 3, differences: [] });
  });

  test('a changed, a missing and an extra property are each named with the values', () => {
    const after = structuredClone(RECORDED.definitions)!;
    after.app!.acl = '{=CTc/shop}';
    delete after['app.public.t']!.owner;
    after.audit!.comment = 'new';
    const result = compareFingerprints(RECORDED, defs(after));
    expect(result.equal).toBe(false);
    expect(result.differences).toEqual([
      'app: acl is "{=CTc/shop}" after restore, "{=Tc/shop}" at backup',
      'app.public.t: owner missing after restore (was "shop")',
      'audit: comment is "new" after restore, absent at backup',
    ]);
  });

  test('a missing and an extra object', () => {
    const after = structuredClone(RECORDED.definitions)!;
    delete after.audit;
    after['app.public.u'] = { owner: 'shop' };
    expect(compareFingerprints(RECORDED, defs(after)).differences).toEqual(['audit: definition missing after restore', 'app.public.u: definition present after restore, absent at backup']);
  });

  test('definitions recorded but not read after restore is a difference, never a pass', () => {
    expect(compareFingerprints(RECORDED, defs(undefined)).equal).toBe(false);
  });

  test('prefixes scope definitions like rows', () => {
    const after = structuredClone(RECORDED.definitions)!;
    delete after.audit;
    expect(compareFingerprints(RECORDED, defs(after), { prefixes: ['app'] })).toMatchObject({ equal: true, compared: 2 });
  });

  test('--accept: an object path covers everything below it, path:property only that property', () => {
    const after = structuredClone(RECORDED.definitions)!;
    after.app!.owner = 'postgres';
    after.app!.acl = '';
    after['app.public.t']!.owner = 'postgres';
    const some = compareFingerprints(RECORDED, defs(after), { accept: ['app:owner'] });
    expect(some.equal).toBe(false);
    expect(some.accepted).toEqual(['app: owner is "postgres" after restore, "shop" at backup']);
    expect(some.differences).toHaveLength(2);
    const all = compareFingerprints(RECORDED, defs(after), { accept: ['app'] });
    expect(all.equal).toBe(true);
    expect(all.accepted).toHaveLength(3);
  });
});
