import { createHash } from 'node:crypto';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ToolExit, ToolRun } from '../core/process.js';
import type { ResticCli } from './restic-cli.js';

export interface SealedArtifact {
  /** The restic snapshot that holds it (restic prints the short id). */
  snapshot: string;
  sha256: string;
  bytes: number;
}

/**
 * One `restic backup --stdin`, fed from Node. The bytes are hashed on their
 * way in; restic's stdin ends only when `seal()` says the data is whole. On
 * any failure `kill()` kills restic first and only then closes its stdin, so
 * an end of input never turns a failed dump into a restic snapshot
 * (restic 0.14 has no --stdin-from-command; this is the same guarantee).
 */
export class ResticIntake {
  private readonly run: ToolRun;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private output = '';
  private broken?: Error;
  private waiting?: (error?: Error | null) => void;
  private finished = false;

  constructor(
    private readonly cli: ResticCli,
    path: string,
    tags: readonly string[],
    private readonly onBytes?: (n: number) => void,
  ) {
    this.run = cli.spawn(['backup', '--stdin', '--stdin-filename', path, '--tag', tags.join(','), '--json', '--quiet'], { stdin: 'pipe' });
    this.run.stdout!.setEncoding('utf8');
    this.run.stdout!.on('data', (chunk: string) => {
      this.output += chunk;
      if (this.output.length > 1 << 16) this.output = this.output.slice(-(1 << 15));
    });
    const stdin = this.run.stdin!;
    stdin.on('error', (error) => this.fail(error));
    stdin.on('drain', () => this.release());
    // restic gone before its input ended (a lock, a full disk): writes must stop.
    void this.run.done.then(() => {
      if (!this.finished) this.fail(new Error('restic backup ended before its input did'));
    });
  }

  /** Forwards to restic's stdin; its end() does not end restic's input. */
  writable(): Writable {
    return new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.broken) return callback(this.broken);
        this.hash.update(chunk);
        this.bytes += chunk.length;
        this.onBytes?.(chunk.length);
        if (this.run.stdin!.write(chunk)) callback();
        else this.waiting = callback;
      },
    });
  }

  /** Feeds a whole stream (hashing it) and returns when it ended; restic's input stays open. */
  async feed(source: Readable, signal?: AbortSignal): Promise<void> {
    await pipeline(source, new PassThrough({ highWaterMark: 1 << 20 }), this.writable(), ...(signal ? [{ signal }] : []));
  }

  /** The data is whole: end restic's input and wait for its snapshot. */
  async seal(action: string): Promise<SealedArtifact> {
    this.finished = true;
    if (this.broken) return this.failed(action);
    this.run.stdin!.end();
    const exit = await this.run.done;
    if (exit.code !== 0) throw this.cli.failure(action, exit);
    const summary = this.output
      .split('\n')
      .filter((line) => line.includes('"summary"'))
      .map((line) => JSON.parse(line) as { snapshot_id?: string })
      .at(-1);
    if (!summary?.snapshot_id) throw this.cli.failure(action, { ...exit, code: 1, stderr: `${exit.stderr}\nno snapshot id in restic's summary` });
    return { snapshot: summary.snapshot_id, sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  /** Kills restic before its input ends: nothing is saved. Resolves with restic's exit. */
  async kill(): Promise<ToolExit> {
    this.finished = true;
    this.run.child.kill('SIGKILL');
    const exit = await this.run.done;
    this.run.stdin!.destroy();
    this.release(new Error('restic was stopped'));
    return exit;
  }

  /** restic's own failure (a lock, a refused password), when it ended first. */
  async failed(action: string): Promise<never> {
    this.finished = true;
    const exit = await this.run.done;
    this.run.stdin!.destroy();
    throw this.cli.failure(action, exit.code === 0 ? { ...exit, code: 1 } : exit);
  }

  get resticEnded(): boolean {
    return this.broken !== undefined;
  }

  private fail(error: Error): void {
    this.broken ??= error;
    this.release(this.broken);
  }

  private release(error?: Error): void {
    const callback = this.waiting;
    this.waiting = undefined;
    callback?.(error ?? null);
  }
}
