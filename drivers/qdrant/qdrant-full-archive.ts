import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { TarParser, type TarMember } from '../volume/volume-tar-parse.js';

/**
 * Qdrant's full-storage snapshot (POST /snapshots) is a tar holding one
 * collection snapshot per collection, under that snapshot's file name, and
 * `config.json`: `{ collections_mapping: { collection: file }, collections_aliases: { alias: collection } }`
 * (lib/storage/src/content_manager/snapshots/mod.rs, SnapshotConfig).
 */
export const FULL_CONFIG_MEMBER = 'config.json';
const CONFIG_LIMIT = 16 * 1024 * 1024;

export interface FullSnapshotLayout {
  collections: Array<{ name: string; file: string; size: number; sha256: string }>;
  /** alias -> collection */
  aliases: Record<string, string>;
}

/**
 * Passes the archive through unchanged while reading it: the sha256 and size
 * of each member, and config.json. layout() then says which collection each
 * member is, so that a restore can upload members as they stream by
 * (config.json comes last in the archive) with their checksum.
 */
export class FullSnapshotReader extends Transform {
  private readonly parser: TarParser;
  private readonly members = new Map<string, { size: number; sha256: string }>();
  private current?: { path: string; hash: Hash; size: number };
  private config: Buffer[] = [];
  private configBytes = 0;

  constructor() {
    super();
    this.parser = new TarParser({
      member: (m) => {
        this.current = m.type === '0' ? { path: m.path, hash: createHash('sha256'), size: 0 } : undefined;
      },
      data: (chunk) => {
        const c = this.current;
        if (!c) return;
        c.hash.update(chunk);
        c.size += chunk.length;
        if (c.path === FULL_CONFIG_MEMBER && (this.configBytes += chunk.length) <= CONFIG_LIMIT) this.config.push(Buffer.from(chunk));
      },
      memberEnd: () => {
        const c = this.current;
        if (c) this.members.set(c.path, { size: c.size, sha256: c.hash.digest('hex') });
        this.current = undefined;
      },
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.parser.write(chunk);
    } catch (error) {
      done(new Error(`the full snapshot is not a readable tar archive: ${(error as Error).message}`));
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (!this.parser.ended) done(new Error('the full snapshot ended before its end-of-archive blocks (truncated)'));
    else done();
  }

  /** Throws when config.json is missing or names a file the archive does not hold. */
  layout(): FullSnapshotLayout {
    if (!this.members.has(FULL_CONFIG_MEMBER) || this.configBytes > CONFIG_LIMIT) throw new Error(`the full snapshot has no ${FULL_CONFIG_MEMBER} (or an implausibly large one): not a Qdrant storage snapshot`);
    const config = JSON.parse(Buffer.concat(this.config).toString('utf8')) as { collections_mapping?: Record<string, string>; collections_aliases?: Record<string, string> };
    const collections = Object.entries(config.collections_mapping ?? {})
      .map(([name, file]) => {
        const member = this.members.get(file);
        if (!member) throw new Error(`${FULL_CONFIG_MEMBER} maps ${name} to ${file}, which the archive does not hold`);
        return { name, file, ...member };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    return { collections, aliases: config.collections_aliases ?? {} };
  }
}

/**
 * Reads a tar stream member by member, handing each regular file's content
 * to `handle` as a stream while the archive streams (nothing is staged; the
 * source waits while a handler is slow). Handlers of consecutive members may
 * overlap by one; the first failure stops the read and is thrown.
 */
export async function forEachMember(source: Readable, handle: (member: TarMember, body: Readable) => Promise<void>): Promise<void> {
  let body: PassThrough | undefined;
  let blocked: { body: PassThrough; handled: Promise<void> } | undefined;
  let handled: Promise<void> | undefined;
  const pending: Array<Promise<void>> = [];
  let failure: unknown;
  const parser = new TarParser({
    member: (m) => {
      if (m.type !== '0') return;
      body = new PassThrough();
      handled = handle(m, body);
      handled.catch((error: unknown) => (failure ??= error));
      pending.push(handled);
    },
    data: (chunk) => {
      if (body && !body.write(chunk) && handled) blocked = { body, handled };
    },
    memberEnd: () => {
      body?.end();
      body = undefined;
    },
  });
  try {
    for await (const chunk of source) {
      parser.write(chunk as Buffer);
      if (blocked) {
        const settled = blocked.handled.then(() => undefined, () => undefined);
        await Promise.race([once(blocked.body, 'drain'), settled]);
        blocked = undefined;
      }
      if (failure) throw failure;
      // Members that ended are waited for before reading further.
      while (pending.length > (body ? 1 : 0)) await pending.shift();
    }
    if (!parser.ended) throw new Error('the archive ended before its end-of-archive blocks (truncated)');
    await Promise.all(pending);
  } catch (error) {
    body?.destroy(error as Error);
    source.destroy();
    await Promise.allSettled(pending);
    throw failure ?? error;
  }
}
