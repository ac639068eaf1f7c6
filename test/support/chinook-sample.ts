/**
 * The Chinook sample database (fixtures/samples/chinook): read from the pinned
 * jar of Maven Central, checked against its sha256, and written out as
 * PostgreSQL or MariaDB SQL, plus an engine-independent digest of its rows.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

export const CHINOOK_JAR = fileURLToPath(new URL('../../fixtures/samples/chinook/chinook-data-hsqldb-0.2.jar', import.meta.url));
const CHINOOK_SHA256 = '29805e76a53994841aff76d1b1d5656f0d8c4bf2f092cf63c0dd5521329e7212';

/** Rows per table of the published sample (15,607 in all): a load that lost any is caught before a restore is tried. */
export const CHINOOK_ROWS: Record<string, number> = {
  Album: 347, Artist: 275, Customer: 59, Employee: 8, Genre: 25, Invoice: 412,
  InvoiceLine: 2240, MediaType: 5, Playlist: 18, PlaylistTrack: 8715, Track: 3503,
};

type Dialect = 'postgres' | 'mysql';
type Value = null | { num: string } | { str: string };

/** One entry of a zip file (stored or deflated), read through its central directory. */
function zipEntry(zip: Buffer, name: string): Buffer {
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error(`${CHINOOK_JAR}: not a zip file`);
  let at = zip.readUInt32LE(end + 16);
  for (let i = zip.readUInt16LE(end + 10); i > 0; i--) {
    const nameLength = zip.readUInt16LE(at + 28);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const method = zip.readUInt16LE(at + 10);
      const size = zip.readUInt32LE(at + 20);
      const local = zip.readUInt32LE(at + 42);
      const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(data, data + size);
      return method === 0 ? raw : inflateRawSync(raw);
    }
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  throw new Error(`${CHINOOK_JAR}: no ${name} inside`);
}

/** The values of one `VALUES(...)` list of HSQLDB's script: NULL, numbers, and '...' strings with '' and \uXXXX escapes. */
function parseValues(list: string): Value[] {
  const out: Value[] = [];
  let i = 0;
  while (i < list.length) {
    if (list[i] === "'") {
      let s = '';
      for (i++; ; i++) {
        if (list[i] === "'" && list[i + 1] === "'") { s += "'"; i++; }
        else if (list[i] === "'") { i++; break; }
        else if (i >= list.length) throw new Error(`unterminated string in ${list.slice(0, 80)}`);
        else s += list[i];
      }
      out.push({ str: s.replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))) });
    } else {
      const m = /^(NULL|-?\d+(?:\.\d+)?(?:E-?\d+)?)/.exec(list.slice(i));
      if (!m) throw new Error(`unexpected value at ${list.slice(i, i + 40)}`);
      out.push(m[1] === 'NULL' ? null : { num: m[1]! });
      i += m[1]!.length;
    }
    if (i < list.length && list[i] !== ',') throw new Error(`expected , at ${list.slice(i, i + 40)}`);
    i++;
  }
  return out;
}

function literal(v: Value, dialect: Dialect): string {
  if (v === null) return 'NULL';
  if ('num' in v) return v.num;
  // MariaDB reads a backslash in a string as an escape (the sample has some, e.g. "Act \ Intermezzo").
  const s = dialect === 'mysql' ? v.str.replaceAll('\\', '\\\\') : v.str;
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Chinook as SQL for `dialect`, to run inside an empty database: the tables
 * (primary keys and the foreign keys HSQLDB declared inline), the rows in
 * multi-row INSERTs, then the foreign keys HSQLDB added with ALTER TABLE (the
 * rows come in table-name order, so Album precedes the Artist it refers to).
 */
export function chinookSql(dialect: Dialect): string {
  const jar = readFileSync(CHINOOK_JAR);
  const sha = createHash('sha256').update(jar).digest('hex');
  if (sha !== CHINOOK_SHA256) throw new Error(`${CHINOOK_JAR}: sha256 ${sha}, expected ${CHINOOK_SHA256} (see fixtures/samples/chinook/README.md)`);
  const ident = (ddl: string) => {
    const plain = ddl.replaceAll('"chinook".', '');
    return dialect === 'mysql' ? plain.replaceAll('"', '`') : plain;
  };
  const creates: string[] = [];
  const alters: string[] = [];
  const rows = new Map<string, string[]>();
  for (const line of zipEntry(jar, 'chinook.script').toString('utf8').split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^CREATE MEMORY TABLE ("chinook"\..*)$/.exec(line))) creates.push(`CREATE TABLE ${ident(m[1]!)};`);
    else if ((m = /^(ALTER TABLE "chinook"\..* ADD CONSTRAINT .*)$/.exec(line))) alters.push(`${ident(m[1]!)};`);
    else if ((m = /^INSERT INTO "chinook"\."(\w+)" VALUES\((.*)\)$/.exec(line))) {
      const list = rows.get(m[1]!) ?? [];
      list.push(`(${parseValues(m[2]!).map((v) => literal(v, dialect)).join(',')})`);
      rows.set(m[1]!, list);
    }
  }
  const q = dialect === 'mysql' ? '`' : '"';
  const inserts: string[] = [];
  for (const [table, list] of rows) {
    for (let i = 0; i < list.length; i += 1000) inserts.push(`INSERT INTO ${q}${table}${q} VALUES\n${list.slice(i, i + 1000).join(',\n')};`);
  }
  if (creates.length !== 11 || alters.length !== 4 || [...rows.values()].reduce((n, l) => n + l.length, 0) !== 15607) {
    throw new Error(`${CHINOOK_JAR}: chinook.script has ${creates.length} tables, ${alters.length} added keys, not the 11 and 4 of Chinook`);
  }
  return [...creates, ...inserts, ...alters, ''].join('\n');
}

/**
 * sha256 of every row of every Chinook table, read in primary-key order with
 * `select` (one engine's client): compared between source and target, it
 * checks the rows without holdfast's own fingerprint.
 */
export async function chinookDigest(select: (table: string) => Promise<Array<Record<string, unknown>>>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of Object.keys(CHINOOK_ROWS)) {
    const rows = await select(table);
    out[table] = `${rows.length} rows, sha256 ${createHash('sha256').update(JSON.stringify(rows.map((r) => Object.values(r)))).digest('hex').slice(0, 16)}`;
  }
  return out;
}
