import { HoldfastError } from '../../src/core/errors.js';
import { lastLines } from '../../src/core/process.js';
import { redactSecrets } from '../../src/core/secrets.js';
import type { StreamRun } from '../../src/docker/docker-api.js';
import { pgExec, type PgContainer } from './postgres-container.js';
import type { PgQueryable } from './postgres-queryable.js';

/**
 * One psql process inside the container, kept open: SQL goes in on stdin,
 * each result comes back as one line of JSON (`jsonb_agg` of the rows), and
 * a marker line says a statement finished. It holds a transaction open as
 * long as needed (the exported snapshot for pg_dump) and answers the same
 * queries a pg.Client would, so the fingerprint and inspector code serve
 * both. With ON_ERROR_STOP, psql exits on the first error, and the pending
 * call fails with its message.
 */
export class PsqlSession implements PgQueryable {
  private buffer = '';
  private lines: string[] = [];
  private waiter?: () => void;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private closed = false;
  private exit?: { exitCode: number | null; stderr: string };

  private constructor(
    private readonly run: StreamRun,
    private readonly pc: PgContainer,
    readonly database: string,
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

  static async open(pc: PgContainer, database: string, signal?: AbortSignal): Promise<PsqlSession> {
    const run = await pgExec(pc, ['psql', '--no-psqlrc', '--no-align', '--tuples-only', '--quiet', '--set', 'ON_ERROR_STOP=1', '--no-password'], { database, stdin: true, ...(signal ? { signal } : {}) });
    const session = new PsqlSession(run, pc, database);
    // The settings that make row text stable across servers (as the host path's connect()).
    await session.command("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'");
    return session;
  }

  /** Rows of one SELECT (no trailing semicolon), as JSON values. */
  query<R extends Record<string, any> = any>(sql: string): Promise<{ rows: R[] }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.enqueue(async () => {
      const out = await this.send(`SELECT coalesce(jsonb_agg(q), '[]'::jsonb)::text FROM (${sql}) q;`);
      return { rows: JSON.parse(out.join('\n') || '[]') as R[] };
    });
  }

  /** Statements without rows (BEGIN, SET, CREATE DATABASE ...). */
  command(sql: string): Promise<void> {
    return this.enqueue(async () => {
      await this.send(`${sql};`);
    });
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
    const marker = `__holdfast_done_${++this.seq}__`;
    if (this.closed) throw this.failure();
    this.run.stdin!.write(`${sql}\n\\echo ${marker}\n`);
    for (;;) {
      const at = this.lines.indexOf(marker);
      if (at >= 0) return this.lines.splice(0, at + 1).slice(0, at);
      if (this.closed) throw this.failure();
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }

  private failure(): HoldfastError {
    const text = redactSecrets(lastLines(this.exit?.stderr ?? '', 4), this.pc.secrets);
    const auth = /password authentication failed|no password supplied|authentication failed/i.test(text);
    return new HoldfastError(auth ? 'auth' : 'tool', `psql in container ${this.pc.name} (database ${this.database}) stopped: ${text || `exit status ${this.exit?.exitCode ?? 'unknown'}`}`, {
      service: this.pc.service,
      driver: 'postgres',
      hint: auth ? 'set HOLDFAST_<SERVICE>_PASSWORD (or POSTGRES_PASSWORD in the container) to the password of POSTGRES_USER' : 'see the message; the server log of the container has more (docker logs)',
    });
  }
}
