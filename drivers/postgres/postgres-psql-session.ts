import { HoldfastError } from '../../src/core/errors.js';
import { lastLines } from '../../src/core/process.js';
import { redactSecrets } from '../../src/core/secrets.js';
import { envName } from '../../src/core/service.js';
import type { StreamRun } from '../../src/docker/docker-api.js';
import type { Place } from '../../src/place/place.js';
import type { PgSession } from './postgres-queryable.js';

/**
 * One psql process where the place is (inside the container), kept open:
 * SQL goes in on stdin, each result comes back as one line of JSON
 * (`jsonb_agg` of the rows), and a marker line says a statement finished.
 * It holds a transaction open as long as needed (the exported snapshot for
 * pg_dump) and answers the same queries a pg.Client would, so one driver
 * serves both places. psql runs with ON_ERROR_STOP off: after each statement
 * `\if :ERROR` prints the SQLSTATE and message of a failure, and the call
 * rejects with them while the session goes on (a fallback CREATE DATABASE,
 * a property that cannot be applied), as with a pg.Client.
 */
export interface PsqlSessionOptions {
  service: string;
  /** For messages: "container shop-db-1". */
  where: string;
  /** The command's environment (PGDATABASE among it). */
  env: Record<string, string | undefined>;
  secrets: Array<string | undefined>;
  signal?: AbortSignal;
}

const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=1 -c bytea_output=hex';

export class PsqlSession implements PgSession {
  private buffer = '';
  private lines: string[] = [];
  private waiter?: () => void;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private closed = false;
  private exit?: { exitCode: number | null; stderr: string };

  private constructor(
    private readonly run: StreamRun,
    private readonly o: PsqlSessionOptions,
    public database: string,
  ) {
    run.stdout.setEncoding('utf8');
    run.stdout.on('data', (d: string) => {
      this.buffer += d;
      const parts = this.buffer.split('\n');
      this.buffer = parts.pop() ?? '';
      this.lines.push(...parts);
      this.waiter?.();
    });
    void run.done.then(
      (exit) => {
        this.exit = exit;
        this.closed = true;
        this.waiter?.();
      },
      () => {
        this.closed = true;
        this.waiter?.();
      },
    );
  }

  static async open(place: Place, database: string, o: PsqlSessionOptions): Promise<PsqlSession> {
    const run = await place.run(['psql', '--no-psqlrc', '--no-align', '--tuples-only', '--quiet', '--set', 'ON_ERROR_STOP=0', '--no-password'], {
      // The settings that make row text stable across servers (as connect() on the host), given at connection
      // time: no round trip through the exec before the first query.
      env: { ...o.env, PGDATABASE: database, PGOPTIONS: SESSION_OPTIONS },
      stdin: true,
      secrets: o.secrets,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return new PsqlSession(run, o, database);
  }

  /** Rows of one SELECT (no trailing semicolon), as JSON values. */
  query<R extends Record<string, any> = any>(sql: string): Promise<{ rows: R[] }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.enqueue(async () => {
      const out = await this.send(`SELECT coalesce(jsonb_agg(q), '[]'::jsonb)::text FROM (${sql}) q`);
      return { rows: JSON.parse(out.join('\n') || '[]') as R[] };
    });
  }

  /** One statement without rows (BEGIN, SET, CREATE DATABASE ...). */
  exec(sql: string): Promise<void> {
    return this.enqueue(async () => {
      await this.send(sql);
    });
  }

  /** The former name of exec(). */
  command(sql: string): Promise<void> {
    return this.exec(sql);
  }

  /**
   * \connect to another database in the same psql (same user, host and settings): a docker exec fewer than a new
   * session. Only for a name psql's meta-command reads as it is (letters, digits, _ . -; one with `=` would be a
   * connection string); the session must be idle, outside a transaction. False, and the session closed, when the
   * connection failed (psql then has none) or the name is not plain: the caller opens a new session.
   */
  async moveTo(database: string): Promise<boolean> {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(database) || this.closed) return false;
    if (database === this.database) return true;
    const moved = await this.enqueue(async () => {
      const out = await this.send(`\\connect ${database}\nSELECT current_database()`);
      return out.at(-1) === database;
    }).catch(() => false);
    if (moved) {
      this.database = database;
      return true;
    }
    await this.close().catch(() => undefined);
    return false;
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.run.stdin?.end('\\q\n');
      await this.run.done.catch(() => undefined);
    }
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async send(sql: string): Promise<string[]> {
    const n = ++this.seq;
    const done = `__holdfast_done_${n}__`;
    const failed = `__holdfast_error_${n}__`;
    if (this.closed) throw this.failure();
    this.run.stdin!.write(`${sql.replace(/;\s*$/, '')};\n\\if :ERROR\n\\echo ${failed} :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE\n\\endif\n\\echo ${done}\n`);
    for (;;) {
      const at = this.lines.indexOf(done);
      if (at >= 0) {
        const out = this.lines.splice(0, at + 1).slice(0, at);
        const e = out.findIndex((l) => l.startsWith(`${failed} `));
        if (e >= 0) {
          const [, code, ...message] = out.slice(e).join('\n').split(' ');
          throw Object.assign(new Error(message.join(' ').trim() || `statement failed (${code})`), { code });
        }
        return out;
      }
      if (this.closed) throw this.failure();
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }

  private failure(): HoldfastError {
    const text = redactSecrets(lastLines(this.exit?.stderr ?? '', 4), this.o.secrets);
    const auth = /password authentication failed|no password supplied|authentication failed/i.test(text);
    return new HoldfastError(auth ? 'auth' : 'tool', `psql ${this.o.where} (database ${this.database}) stopped: ${text || `exit status ${this.exit?.exitCode ?? 'unknown'}`}`, {
      service: this.o.service,
      driver: 'postgres',
      hint: auth
        ? `set HOLDFAST_${envName(this.o.service)}_PASSWORD (or POSTGRES_PASSWORD[_FILE] in the container, or the label holdfast.secret-file naming a file in it) to the password of POSTGRES_USER`
        : 'see the message; the server log of the container has more (docker logs)',
    });
  }
}
