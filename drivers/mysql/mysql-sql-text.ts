/**
 * Just enough SQL lexing for account statements (`CREATE USER`, `GRANT`,
 * `SET DEFAULT ROLE` as dump tools write them): split a script into
 * statements, and find the account a statement is about. Quotes, backticks
 * and comments are honoured, so a name holding `;` or ` TO ` does not fool it.
 */

/** Splits on `;` outside quotes and comments. Executable comments (`/*!40101 ... *\/`) stay statements. */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  while (i < n) {
    const ch = script[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      i = skipQuoted(script, i);
    } else if (ch === '/' && script[i + 1] === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if ((ch === '-' && script[i + 1] === '-' && /\s/.test(script[i + 2] ?? ' ')) || ch === '#') {
      const end = script.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (ch === ';') {
      push(out, script.slice(start, i));
      start = ++i;
    } else i++;
  }
  push(out, script.slice(start));
  return out;
}

function push(out: string[], raw: string): void {
  // Line comments alone are not statements (the server answers "Query was empty").
  const text = raw.replace(/^\s*(?:(?:--\s|#)[^\n]*\n?\s*)*/g, '').trim();
  if (text) out.push(text);
}

function skipQuoted(s: string, at: number): number {
  const q = s[at]!;
  let i = at + 1;
  while (i < s.length) {
    if (s[i] === '\\' && q !== '`') i += 2;
    else if (s[i] === q) {
      if (s[i + 1] === q) i += 2;
      else return i + 1;
    } else i++;
  }
  return i;
}

type Token = { kind: 'word' | 'quoted' | 'punct'; text: string };

function tokens(statement: string): Token[] {
  // An executable comment's body is the statement: `/*M!100005 SET DEFAULT ROLE ... */`.
  const body = statement.replace(/^\/\*M?!\d*\s?/, '').replace(/\*\/\s*$/, '');
  const out: Token[] = [];
  let i = 0;
  while (i < body.length) {
    const ch = body[i]!;
    if (/\s/.test(ch)) i++;
    else if (ch === "'" || ch === '"' || ch === '`') {
      const end = skipQuoted(body, i);
      out.push({ kind: 'quoted', text: unquote(body.slice(i, end)) });
      i = end;
    } else if (/[A-Za-z0-9_$.%]/.test(ch)) {
      let j = i;
      while (j < body.length && /[A-Za-z0-9_$.%-]/.test(body[j]!)) j++;
      out.push({ kind: 'word', text: body.slice(i, j) });
      i = j;
    } else {
      out.push({ kind: 'punct', text: ch });
      i++;
    }
  }
  return out;
}

function unquote(q: string): string {
  const mark = q[0]!;
  const inner = q.slice(1, -1);
  if (mark === '`') return inner.replace(/``/g, '`');
  return inner.replace(/\\(.)/g, '$1').split(mark + mark).join(mark);
}

/** An account as a statement names it; `host` undefined for `role` or `user` without `@`. */
export interface AccountName {
  user: string;
  host?: string;
}

function accountAt(t: Token[], at: number): AccountName | undefined {
  const name = t[at];
  if (!name || name.kind === 'punct') return undefined;
  if (t[at + 1]?.text === '(') return undefined; // CURRENT_USER()
  if (t[at + 1]?.text === '@' && t[at + 2] && t[at + 2]!.kind !== 'punct') return { user: name.text, host: t[at + 2]!.text };
  return { user: name.text };
}

const word = (t: Token | undefined, w: string) => t?.kind === 'word' && t.text.toUpperCase() === w;

/**
 * The account a statement creates or changes: `CREATE USER|ROLE [IF NOT EXISTS] a`,
 * `ALTER USER a`, `GRANT ... TO a`, `SET DEFAULT ROLE ... FOR a`, `REVOKE ... FROM a`.
 * Undefined for anything else (session settings, the dump tool's own role juggling).
 */
export function statementAccount(statement: string): AccountName | undefined {
  const t = tokens(statement);
  const first = t[0]?.text.toUpperCase();
  if (first === 'CREATE' || first === 'ALTER') {
    let i = 1;
    if (word(t[i], 'OR') && word(t[i + 1], 'REPLACE')) i += 2;
    if (!word(t[i], 'USER') && !word(t[i], 'ROLE')) return undefined;
    i++;
    if (word(t[i], 'IF')) i += word(t[i + 1], 'NOT') ? 3 : 2;
    return accountAt(t, i);
  }
  const keyword = first === 'GRANT' ? 'TO' : first === 'REVOKE' ? 'FROM' : first === 'SET' && word(t[1], 'DEFAULT') ? 'FOR' : undefined;
  if (!keyword) return undefined;
  const at = t.findIndex((x, i) => i > 0 && word(x, keyword));
  return at < 0 ? undefined : accountAt(t, at + 1);
}

/** Quotes a string literal for SQL text. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The database a `GRANT ... ON db.obj TO ...` is about, and the same statement about another database. */
export interface GrantOn {
  database: string;
  /** `db.*`: a grant on the database, which MariaDB and MySQL take before the database exists. */
  wholeDatabase: boolean;
  rewrite(to: string): string;
}

/**
 * `GRANT privileges ON [FUNCTION|PROCEDURE|TABLE] db.obj TO ...` as dump
 * tools and SHOW GRANTS write it; undefined for global grants (`*.*`), role
 * grants and anything else. The ON is found outside quotes and column lists.
 */
export function grantOn(statement: string): GrantOn | undefined {
  if (!/^GRANT\s/i.test(statement)) return undefined;
  let depth = 0;
  let i = 0;
  let on = -1;
  while (i < statement.length) {
    const ch = statement[i]!;
    if (ch === "'" || ch === '"' || ch === '`') i = skipQuoted(statement, i);
    else {
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (depth === 0 && /\s/.test(ch) && /^\sON\s/i.test(statement.slice(i, i + 4))) {
        on = i + 4;
        break;
      }
      i++;
    }
  }
  if (on < 0) return undefined;
  const rest = statement.slice(on);
  const m = /^(\s*(?:(?:FUNCTION|PROCEDURE|PACKAGE\s+BODY|PACKAGE|TABLE)\s+)?)(`(?:[^`]|``)*`|[A-Za-z0-9_$]+)\s*\.\s*/i.exec(rest);
  if (!m) return undefined;
  const raw = m[2]!;
  const database = raw.startsWith('`') ? raw.slice(1, -1).replace(/``/g, '`') : raw;
  const head = statement.slice(0, on) + m[1]!;
  const tail = rest.slice(m[0].length);
  return { database, wholeDatabase: tail.startsWith('*'), rewrite: (to) => `${head}\`${to.replace(/`/g, '``')}\`.${tail}` };
}
