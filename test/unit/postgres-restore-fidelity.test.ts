import { describe, expect, test } from 'vitest';
import { databaseDefinition } from '../../drivers/postgres/postgres-definitions.js';
import type { PgSession } from '../../drivers/postgres/postgres-queryable.js';
import { applyDatabaseProperties, createDatabaseLike, settingValue, splitList, type DatabaseProperties } from '../../drivers/postgres/postgres-database-properties.js';
import { partialFailure, psqlErrors } from '../../drivers/postgres/postgres-restore-steps.js';
import { planTablespaces } from '../../drivers/postgres/postgres-tablespaces.js';
import { HoldfastError } from '../../src/core/errors.js';

describe('database settings are written back as the server reads them', () => {
  test('a list setting keeps its quoted elements', () => {
    expect(splitList('"$user", public, "Ünïcode ""x"" schema"')).toEqual(['$user', 'public', 'Ünïcode "x" schema']);
    expect(settingValue('search_path', '"$user", public')).toBe("'$user', 'public'");
  });
  test('other settings are one literal', () => {
    expect(settingValue('work_mem', "8MB")).toBe("'8MB'");
    expect(settingValue('application_name', "it's")).toBe("'it''s'");
  });
});

describe('the database-level definition', () => {
  const props: DatabaseProperties = {
    owner: 'app', acl: [{ grantee: 'app', grantor: 'app', privilege: 'CONNECT', grantable: false }, { grantee: '', grantor: 'app', privilege: 'TEMPORARY', grantable: true }],
    comment: null, connlimit: -1, encoding: 'UTF8', localeProvider: 'i', collate: 'C', ctype: 'C', icuLocale: 'de-DE', collversion: '153.120', tablespace: 'pg_default',
    settings: [{ role: null, settings: ['work_mem=8MB'] }, { role: 'reader', settings: ['statement_timeout=5s'] }],
  };
  test('names PUBLIC, sorts the ACL, and keeps locale and settings', () => {
    expect(databaseDefinition(props)).toEqual({
      owner: 'app', acl: 'PUBLIC=TEMPORARY*/app app=CONNECT/app', 'connection limit': '-1', encoding: 'UTF8', 'locale provider': 'icu', collate: 'C', ctype: 'C',
      tablespace: 'pg_default', 'icu locale': 'de-DE', 'collation version': '153.120', settings: 'work_mem=8MB', 'settings of role reader': 'statement_timeout=5s',
    });
    expect(databaseDefinition({ ...props, acl: null }).acl).toBe('(default)');
  });
});

describe('tablespaces at restore', () => {
  const used = new Set(['fast']);
  test('a tablespace the target lacks is refused up front, with the server\'s reason and the ways out', () => {
    expect(() => planTablespaces({}, used, new Set(['pg_default']), 'db', 'ERROR: directory "/x" does not exist')).toThrow(/uses tablespace fast, which the target does not have \(creating it failed: ERROR: directory/);
  });
  test('a map to a tablespace the target lacks is refused', () => {
    expect(() => planTablespaces({ tablespace_map: ['fast=nowhere'] }, used, new Set(['pg_default']), 'db', '')).toThrow(/no tablespace "nowhere"/);
    expect(() => planTablespaces({ tablespace_map: ['fast'] }, used, new Set(['pg_default']), 'db', '')).toThrow(HoldfastError);
  });
  test('a map restores without tablespaces, moves each object, and names them back for the comparison', () => {
    const plan = planTablespaces({ tablespace_map: ['fast=slow'] }, used, new Set(['pg_default', 'slow']), 'db', '');
    expect(plan.noTablespaces).toBe(true);
    expect(plan.moves([{ tablespace: 'fast', kind: 'index', name: 'public."ünï"' }])).toEqual([{ sql: 'ALTER INDEX public."ünï" SET TABLESPACE "slow"', what: 'index public."ünï" into tablespace slow' }]);
    const defs = { 'd.public.t': { tablespace: 'slow', 'index i': 'CREATE INDEX i ON public.t USING btree (a) TABLESPACE slow CLUSTER' } };
    plan.renameBack(defs);
    expect(defs['d.public.t']).toEqual({ tablespace: 'fast', 'index i': 'CREATE INDEX i ON public.t USING btree (a) TABLESPACE fast CLUSTER' });
  });
  test('--no-tablespaces: everything in the default, no moves', () => {
    const plan = planTablespaces({ tablespaces: false }, used, new Set(['pg_default']), 'db', '');
    expect(plan.noTablespaces).toBe(true);
    expect(plan.target('fast')).toBeUndefined();
    expect(plan.moves([{ tablespace: 'fast', kind: 'table', name: 't' }])).toEqual([]);
  });
  test('tablespaces the target has: restored as they are', () => {
    const plan = planTablespaces({}, used, new Set(['pg_default', 'fast']), 'db', '');
    expect(plan.noTablespaces).toBe(false);
    expect(plan.moves([{ tablespace: 'fast', kind: 'table', name: 't' }])).toEqual([]);
  });
});

describe('errors of a restore', () => {
  test('psql errors are shown without their prefixes, the first few', () => {
    const stderr = 'psql:<stdin>:12: ERROR:  directory "/x" does not exist\nNOTICE: fine\npsql:<stdin>:13: ERROR:  role "a" does not exist\npsql:<stdin>:14: ERROR: b\npsql:<stdin>:15: ERROR: c\n';
    expect(psqlErrors(stderr)).toBe('ERROR: directory "/x" does not exist; ERROR: role "a" does not exist; ERROR: b; and 1 more');
  });
  test('a restore that stopped part-way says what it restored and what it did not', () => {
    const e = partialFailure(new HoldfastError('tool', 'database "c", pg_restore: boom', { hint: 'fix it' }), 'db', ['a', 'b'], ['c', 'd']);
    expect(e.message).toBe('database "c", pg_restore: boom; already restored: "a", "b"; not restored (left as they were): "c", "d"');
    expect(e.hint).toMatch(/^fix it; .*--database NAME/);
    expect(e.code).toBe('tool');
    expect(partialFailure(new Error('x'), 'db', [], ['only']).message).toBe('x');
  });
});

/** A client that records statements and refuses those matching `refuse` with the server's words. */
function fakeClient(refuse: Array<[RegExp, string]>) {
  const sql: string[] = [];
  const client = {
    async query(text: string) {
      sql.push(text);
      const no = refuse.find(([re]) => re.test(text));
      if (no) throw new Error(no[1]);
      return { rows: [], rowCount: 0 };
    },
    async exec(text: string) {
      await client.query(text);
    },
  } as unknown as PgSession;
  return { client, sql };
}

describe('what cannot be applied on the target is a note that says what and why', () => {
  const props: DatabaseProperties = {
    owner: 'app', acl: [{ grantee: '', grantor: 'app', privilege: 'TEMPORARY', grantable: false }, { grantee: 'reader', grantor: 'app', privilege: 'CONNECT', grantable: false }],
    comment: 'shop', connlimit: 10, encoding: 'UTF8', localeProvider: 'i', collate: 'C', ctype: 'C', icuLocale: 'de-DE', collversion: null, tablespace: 'pg_default',
    settings: [{ role: null, settings: ['work_mem=8MB', 'no_such.thing=1'] }, { role: 'reader', settings: ['statement_timeout=5s'] }],
  };

  test('missing roles, a refused setting; the rest is applied', async () => {
    const { client, sql } = fakeClient([[/no_such/, 'unrecognized configuration parameter "no_such.thing"']]);
    const notes: string[] = [];
    await applyDatabaseProperties(client, 'w', props, { owner: true, acl: true, roles: new Set(['app']), note: (n) => notes.push(n), label: 'shop' });
    expect(notes).toEqual([
      'shop: ACL entry CONNECT for reader not applied: the role does not exist on the target',
      'shop: settings of role reader in this database (statement_timeout=5s) not applied: the role does not exist on the target',
      'shop: setting no_such.thing=1 not applied: unrecognized configuration parameter "no_such.thing"',
    ]);
    expect(sql).toEqual([
      'ALTER DATABASE "w" OWNER TO "app"',
      'REVOKE ALL ON DATABASE "w" FROM PUBLIC, "app"',
      'GRANT TEMPORARY ON DATABASE "w" TO PUBLIC',
      "COMMENT ON DATABASE \"w\" IS 'shop'",
      'ALTER DATABASE "w" CONNECTION LIMIT 10',
      'ALTER DATABASE "w" SET "work_mem" TO \'8MB\'',
      'ALTER DATABASE "w" SET "no_such.thing" TO \'1\'',
    ]);
  });

  test('--no-owner and --no-acl are said, never silent', async () => {
    const { client } = fakeClient([]);
    const notes: string[] = [];
    await applyDatabaseProperties(client, 'w', props, { owner: false, acl: false, roles: new Set(['app', 'reader']), note: (n) => notes.push(n), label: 'shop' });
    expect(notes).toEqual(['shop: owner app not applied (--no-owner)', 'shop: ACL not applied (--no-acl): the database has the default privileges (PUBLIC may connect)']);
  });

  test('an ICU locale the target refuses: created with libc, and the note gives the server\'s reason', async () => {
    const { client, sql } = fakeClient([[/ICU_LOCALE/, 'ICU locale "de-DE" could not be opened']]);
    const notes: string[] = [];
    await createDatabaseLike(client, 'w', props, 15, undefined, (n) => notes.push(n), 'shop');
    expect(sql[1]).toBe("CREATE DATABASE \"w\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
    expect(notes).toEqual(['shop: created without locale provider icu (ICU locale de-DE): the target refused it (ICU locale "de-DE" could not be opened); its sort order may differ from the source']);
  });
});
