import { describe, expect, test } from 'vitest';
import { loadOrder } from '../../drivers/mysql/mysql-load-order.js';
import { selfReferences, trimmedToolExit } from '../../drivers/mysql/mysql-server-restore.js';
import { grantOn } from '../../drivers/mysql/mysql-sql-text.js';

describe('grantOn: the database a grant names, and the same grant under a new name', () => {
  test('database, table, column and routine grants as SHOW GRANTS writes them', () => {
    const db = grantOn('GRANT SELECT, EXECUTE ON `fid_app`.* TO `fid_definer`@`localhost`')!;
    expect(db).toMatchObject({ database: 'fid_app', wholeDatabase: true });
    expect(db.rewrite('copy')).toBe('GRANT SELECT, EXECUTE ON `copy`.* TO `fid_definer`@`localhost`');
    const column = grantOn('GRANT SELECT (`a ON b`), UPDATE (`note`) ON `fid_app`.`orders` TO `r`@`%`')!;
    expect(column).toMatchObject({ database: 'fid_app', wholeDatabase: false });
    expect(column.rewrite('x`y')).toBe('GRANT SELECT (`a ON b`), UPDATE (`note`) ON `x``y`.`orders` TO `r`@`%`');
    expect(grantOn('GRANT EXECUTE ON FUNCTION `we``ird`.`f` TO `r`@`%`')!.rewrite('n')).toBe('GRANT EXECUTE ON FUNCTION `n`.`f` TO `r`@`%`');
    expect(grantOn('GRANT EXECUTE ON FUNCTION `we``ird`.`f` TO `r`@`%`')!.database).toBe('we`ird');
  });

  test('global and role grants name no database', () => {
    expect(grantOn('GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION')).toBeUndefined();
    expect(grantOn('GRANT `reader` TO `app`@`%`')).toBeUndefined();
    expect(grantOn('CREATE USER `app`@`%`')).toBeUndefined();
  });
});

describe('loadOrder: databases after those their views read', () => {
  const item = (name: string, reads?: string[]) => ({ db: { name, ...(reads ? { reads } : {}) } });
  test('a database is loaded after the ones it reads; the rest keep their order', () => {
    expect(loadOrder([item('a_reports', ['b_app']), item('b_app'), item('c')], 's').map((p) => p.db.name)).toEqual(['b_app', 'a_reports', 'c']);
  });
  test('reads of databases outside the restore do not reorder', () => {
    expect(loadOrder([item('a', ['elsewhere']), item('b')], 's').map((p) => p.db.name)).toEqual(['a', 'b']);
  });
  test('a cycle is named', () => {
    expect(() => loadOrder([item('a', ['b']), item('b', ['a'])], 's')).toThrow(/cycle \(a → b → a\)/);
  });
});

describe('trimmedToolExit: the error of mariadb, not the statement it echoes', () => {
  test('the ERROR lines only, each at most 300 characters', () => {
    const stderr = `--------------\nINSERT INTO t VALUES ${'(1),'.repeat(100000)}(1)\n--------------\n\nERROR 1146 (42S02) at line 76: Table 'fid_app.customers' doesn't exist\n`;
    expect(trimmedToolExit({ code: 1, signal: null, stderr }).stderr).toBe("ERROR 1146 (42S02) at line 76: Table 'fid_app.customers' doesn't exist");
    expect(trimmedToolExit({ code: 1, signal: null, stderr: `ERROR 1 ${'x'.repeat(1000)}` }).stderr).toHaveLength(300);
  });
  test('without an ERROR line, the last lines', () => {
    expect(trimmedToolExit({ code: 1, signal: null, stderr: 'a\nb\nc\nd\ne\n' }).stderr).toBe('b\nc\nd\ne');
  });
});

describe('selfReferences: code that names its own database', () => {
  test('routines, triggers and events that qualify with their database are named; views and other databases are not', () => {
    const defs = {
      shop: { comment: '' },
      'shop.orders': { kind: 'table' },
      'shop.v': { kind: 'view', definition: 'select `shop`.`orders`.`id` AS `id` from `shop`.`orders`' },
      'shop.procedure.restock': { body: 'UPDATE shop.stock SET copies = copies + n' },
      'shop.trigger.t': { statement: 'SET NEW.x = (SELECT 1 FROM `shop`.`orders` LIMIT 1)' },
      'shop.function.f': { body: 'RETURN x * 1.2' },
      'shop.event.e': { definition: 'DELETE FROM workshop.log' },
      'other.procedure.p': { body: 'UPDATE shop.stock SET copies = 0' },
    };
    expect(selfReferences(defs, 'shop')).toEqual(['shop.procedure.restock', 'shop.trigger.t']);
  });
});
