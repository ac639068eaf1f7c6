import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

/**
 * A streamed HTTP upload with bounds, for drivers that send an artifact to a
 * server (a generic helper; Qdrant's snapshot upload uses it). fetch with a
 * streamed body waits for the whole body to be sent before it looks at the
 * answer, so a server that answers 500 before reading and closes, one that
 * stops reading, or one that never answers made it wait forever (issue 12
 * item 5). Here:
 * - an answer that comes while the body is still being sent ends the upload
 *   at once with that status and body;
 * - no progress (bytes taken by the socket, or answer bytes) for `stallMs`
 *   while sending fails with "stalled";
 * - after the body is sent, the answer must come within `answerMs`;
 * - a connection closed early fails with what was sent;
 * and on every failure the body stream is destroyed (the artifact freed).
 */
export interface BoundedUpload {
  url: URL;
  method?: string;
  headers: Record<string, string>;
  body: Readable;
  /** Longest time without progress while sending. */
  stallMs: number;
  /** Longest wait for the answer once everything is sent (the server may work before it answers). */
  answerMs: number;
  signal?: AbortSignal;
  onBytes?: (n: number) => void;
}

export interface UploadAnswer {
  status: number;
  text: string;
  /** The answer came before the server had the whole body. */
  early: boolean;
}

export class UploadStallError extends Error {
  constructor(
    message: string,
    readonly sent: number,
    /** The server had the whole body (it may have kept it) when the step failed. */
    readonly bodyComplete = false,
  ) {
    super(message);
  }
}

/** Seconds from HOLDFAST_STALL_SECONDS (default 120): how long a network step may make no progress. */
export function stallMs(): number {
  const v = Number(process.env.HOLDFAST_STALL_SECONDS);
  return (Number.isFinite(v) && v > 0 ? v : 120) * 1000;
}

/**
 * Seconds from HOLDFAST_ANSWER_SECONDS (default 3600): how long a server may
 * work on an upload it has fully received before it answers (Qdrant recovers
 * the snapshot before answering an upload with wait=true).
 */
export function answerMs(): number {
  const v = Number(process.env.HOLDFAST_ANSWER_SECONDS);
  return (Number.isFinite(v) && v > 0 ? v : 3600) * 1000;
}

export function boundedUpload(o: BoundedUpload): Promise<UploadAnswer> {
  return new Promise<UploadAnswer>((resolve, reject) => {
    const req = (o.url.protocol === 'https:' ? httpsRequest : httpRequest)(o.url, { method: o.method ?? 'POST', headers: { ...o.headers, 'transfer-encoding': 'chunked' } });
    let sent = 0;
    let bodyDone = false;
    let settled = false;
    let last = Date.now();
    const progress = () => (last = Date.now());
    const finish = (error: Error | undefined, answer?: UploadAnswer) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (error || answer?.early) {
        o.body.destroy();
        req.destroy();
      }
      if (error) reject(error);
      else resolve(answer!);
    };
    const onAbort = () => finish(new Error('aborted'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setInterval(() => {
      const idle = Date.now() - last;
      if (!bodyDone && idle > o.stallMs) finish(new UploadStallError(`the server stopped reading the upload after ${sent} bytes (no progress for ${Math.round(idle / 1000)} s)`, sent));
      else if (bodyDone && idle > o.answerMs) finish(new UploadStallError(`the server took all ${sent} bytes but gave no answer within ${Math.round(o.answerMs / 1000)} s`, sent, true));
    }, Math.max(50, Math.min(1000, o.stallMs / 4)));

    let responded = false;
    req.on('response', (res: IncomingMessage) => {
      responded = true;
      progress();
      const early = !bodyDone;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        progress();
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      const done = () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), early });
      res.on('end', done);
      // A server that answers and closes at once may cut its own answer short: what arrived counts.
      res.on('error', done);
      res.on('close', done);
    });
    // Once an answer is in, a reset of the connection (the server closing on an unread body) is its ending, not the failure.
    req.on('error', (e) => responded || finish(new UploadStallError(`the connection failed after ${sent} bytes of the upload: ${e.message}`, sent, bodyDone)));
    o.body.on('error', (e) => finish(e));

    (async () => {
      for await (const chunk of o.body) {
        if (settled) return;
        const buf = chunk as Buffer;
        sent += buf.length;
        o.onBytes?.(buf.length);
        const more = req.write(buf, progress);
        if (!more) {
          await new Promise<void>((r) => {
            const go = () => {
              req.off('drain', go);
              req.off('close', go);
              r();
            };
            req.on('drain', go);
            req.on('close', go);
          });
          progress();
        }
      }
      if (settled) return;
      bodyDone = true;
      progress();
      req.end();
    })().catch((e: Error) => finish(e));
  });
}

/**
 * Wraps a streamed response body so that a pause of more than `ms` between
 * chunks fails it (a server that stops sending). `abort` cancels the request.
 */
export async function* stallGuarded<T extends { byteLength: number }>(body: AsyncIterable<T>, ms: number, abort: () => void): AsyncGenerator<T> {
  const it = body[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The stall is the reason; the abort (which fails the pending read too) comes after it.
        reject(new Error(`no data for ${Math.round(ms / 1000)} s`));
        setImmediate(abort);
      }, ms);
    });
    try {
      const next = await Promise.race([it.next(), stalled]);
      if (next.done) return;
      yield next.value;
    } finally {
      clearTimeout(timer);
    }
  }
}
