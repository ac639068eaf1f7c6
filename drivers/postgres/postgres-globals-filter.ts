import { StringDecoder } from 'node:string_decoder';
import { Transform } from 'node:stream';

/**
 * Filters `pg_dumpall --globals-only` output for a server that already has
 * some of the roles: their `CREATE ROLE` and `ALTER ROLE ... WITH` lines are
 * dropped, so a restore never changes the password or attributes of a role
 * that exists on the target (the connecting superuser among them). Memberships
 * and settings of new roles still apply. pg_dumpall writes one statement per
 * line for these.
 */
export function skipExistingRoles(existing: ReadonlySet<string>): Transform {
  let rest = '';
  const decoder = new StringDecoder('utf8'); // a character may be split across chunks
  const keep = (line: string) => {
    const m = /^(?:CREATE|ALTER) ROLE ("(?:[^"]|"")+"|[^\s;]+)(?:;| WITH )/.exec(line);
    if (!m) return true;
    return !existing.has(unquote(m[1]!));
  };
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      const text = rest + decoder.write(chunk);
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      callback(null, lines.filter(keep).map((l) => `${l}\n`).join(''));
    },
    flush(callback) {
      rest += decoder.end();
      callback(null, rest && keep(rest) ? rest : '');
    },
  });
}

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}
