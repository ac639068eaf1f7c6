import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, test } from 'vitest';
import { skipExistingRoles } from '../../drivers/postgres/postgres-globals-filter.js';

/** What pg_dumpall --globals-only writes (PostgreSQL 16). */
const GLOBALS = [
  '--',
  '-- PostgreSQL database cluster dump',
  '--',
  '',
  "SET default_transaction_read_only = off;",
  '',
  '--',
  '-- Roles',
  '--',
  '',
  'CREATE ROLE app;',
  "ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:app';",
  'CREATE ROLE postgres;',
  "ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:pg';",
  'CREATE ROLE postgresql;',
  'ALTER ROLE postgresql WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;',
  'CREATE ROLE "Weird ""Name";',
  'ALTER ROLE "Weird ""Name" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;',
  'CREATE ROLE "Weird";',
  'ALTER ROLE "Weird" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;',
  "ALTER ROLE app SET search_path TO 'app';",
  '',
  '--',
  '-- Role memberships',
  '--',
  '',
  'GRANT app TO postgres WITH INHERIT TRUE GRANTED BY postgres;',
  'GRANT pg_read_all_data TO "Weird ""Name" WITH INHERIT TRUE GRANTED BY postgres;',
  '',
].join('\n');

const EXISTING = new Set(['postgres', 'Weird "Name']);

/** Runs the filter over the text cut into the given chunk sizes (bytes), cycling. */
async function filter(text: string | Buffer, existing: ReadonlySet<string>, chunkSizes: number[] = [1 << 20]): Promise<string> {
  const data = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return (await buffer(Readable.from(chunks).pipe(skipExistingRoles(existing)))).toString('utf8');
}

const lines = (text: string) => text.split('\n');

describe('skipExistingRoles', () => {
  test('drops CREATE ROLE and ALTER ROLE ... WITH of existing roles, keeps the rest', async () => {
    const out = lines(await filter(GLOBALS, EXISTING));
    expect(out).not.toContain('CREATE ROLE postgres;');
    expect(out.some((l) => l.startsWith('ALTER ROLE postgres WITH'))).toBe(false);
    expect(out).not.toContain('CREATE ROLE "Weird ""Name";');
    expect(out.some((l) => l.startsWith('ALTER ROLE "Weird ""Name" WITH'))).toBe(false);

    expect(out).toContain('CREATE ROLE app;');
    expect(out.some((l) => l.startsWith('ALTER ROLE app WITH'))).toBe(true);
    // Only whole names: `postgresql` and `"Weird"` are other roles.
    expect(out).toContain('CREATE ROLE postgresql;');
    expect(out.some((l) => l.startsWith('ALTER ROLE postgresql WITH'))).toBe(true);
    expect(out).toContain('CREATE ROLE "Weird";');
    expect(out.some((l) => l.startsWith('ALTER ROLE "Weird" WITH'))).toBe(true);
    // Settings, grants, comments and SET lines stay.
    expect(out).toContain("ALTER ROLE app SET search_path TO 'app';");
    expect(out).toContain('GRANT app TO postgres WITH INHERIT TRUE GRANTED BY postgres;');
    expect(out).toContain('GRANT pg_read_all_data TO "Weird ""Name" WITH INHERIT TRUE GRANTED BY postgres;');
    expect(out).toContain('SET default_transaction_read_only = off;');
    expect(out).toContain('-- Roles');
  });

  test('exactly the four lines of existing roles go', async () => {
    const kept = lines(await filter(GLOBALS, EXISTING));
    const all = lines(GLOBALS);
    expect(all.length - kept.length).toBe(4);
  });

  test('no existing role: the output is the input', async () => {
    expect(await filter(GLOBALS, new Set())).toBe(GLOBALS);
  });

  test.each([[[1]], [[7]], [[13, 1, 64]], [[100, 3]]])('the same result when lines are split across chunks of %j bytes', async (sizes) => {
    expect(await filter(GLOBALS, EXISTING, sizes)).toBe(await filter(GLOBALS, EXISTING));
  });

  test('a last line without a newline is filtered too', async () => {
    expect(await filter('CREATE ROLE app;\nCREATE ROLE postgres;', EXISTING)).toBe('CREATE ROLE app;\n');
    expect(await filter('CREATE ROLE postgres;\nCREATE ROLE app;', EXISTING)).toBe('CREATE ROLE app;');
  });

  test('non-ASCII text split inside a character comes out unchanged', async () => {
    const text = 'CREATE ROLE "zoë";\nCOMMENT ON ROLE "zoë" IS \'Zoë Müller — ünïcödé\';\nCREATE ROLE postgres;\n';
    const data = Buffer.from(text);
    const inside = data.indexOf(Buffer.from('ë')) + 1; // between the two bytes of ë
    const out = await filter(data, EXISTING, [inside, 5]);
    expect(out).toBe('CREATE ROLE "zoë";\nCOMMENT ON ROLE "zoë" IS \'Zoë Müller — ünïcödé\';\n');
  });
});
