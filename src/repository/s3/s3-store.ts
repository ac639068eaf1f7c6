import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, type Readable } from 'node:stream';
import { HoldfastError } from '../../core/errors.js';
import { s3Error, s3ErrorName, s3Status } from './s3-errors.js';
import type { S3Location } from './s3-location.js';

const MIB = 1024 * 1024;

/** Part size of multipart uploads: 16 MiB by default, so up to ~156 GiB per compressed artifact (10,000 parts). */
function partSize(): number {
  const mb = Number(process.env.HOLDFAST_S3_PART_MB ?? 16);
  return Math.max(5, Number.isFinite(mb) ? mb : 16) * MIB;
}

/**
 * The few object-store verbs the S3 repository needs, over the AWS SDK v3,
 * keys relative to the repository's prefix. Every failure becomes one clear
 * HoldfastError (s3Error); "not found" is an answer, not an error.
 */
export class S3Store {
  private readonly client: S3Client;

  constructor(readonly where: S3Location) {
    // The SDK warns on every run under Node 20 that later SDK versions will need Node 22; holdfast pins its SDK.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      ...(where.region ? { region: where.region } : {}),
      ...(where.endpoint ? { endpoint: where.endpoint } : {}),
      forcePathStyle: where.forcePathStyle,
      // S3-compatible servers differ in what they accept of the newer
      // default integrity checksums; send them only where the API needs them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
    });
  }

  key(relative: string): string {
    return this.where.prefix + relative;
  }

  async checkBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.where.bucket }));
    } catch (error) {
      // HEAD answers carry no error body: a 404 is the missing bucket.
      if (s3Status(error) === 404) throw s3Error(Object.assign(new Error('NoSuchBucket'), { name: 'NoSuchBucket' }), 'opening the bucket', this.where);
      throw s3Error(error, 'opening the bucket', this.where);
    }
  }

  /** The object's text, or undefined when it does not exist. */
  async getText(relative: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(relative) }), { abortSignal: signal });
      return await out.Body!.transformToString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw s3Error(error, `reading ${relative}`, this.where);
    }
  }

  async exists(relative: string): Promise<boolean> {
    return (await this.size(relative)) !== undefined;
  }

  /** The object's size, or undefined when it does not exist. */
  async size(relative: string): Promise<number | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.where.bucket, Key: this.key(relative) }));
      return out.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw s3Error(error, `looking up ${relative}`, this.where);
    }
  }

  /**
   * Writes a small object. With `ifNoneMatch` the write is conditional
   * (If-None-Match: *): 'exists' when the key is taken, 'unsupported' when the
   * server does not implement conditional writes.
   */
  async putText(relative: string, text: string, options: { ifNoneMatch?: boolean } = {}): Promise<'ok' | 'exists' | 'unsupported'> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.where.bucket,
          Key: this.key(relative),
          Body: text,
          ContentType: 'application/json',
          ...(options.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return 'ok';
    } catch (error) {
      const name = s3ErrorName(error);
      if (options.ifNoneMatch && (name === 'PreconditionFailed' || s3Status(error) === 412 || name === 'ConditionalRequestConflict')) return 'exists';
      if (options.ifNoneMatch && (name === 'NotImplemented' || s3Status(error) === 501)) return 'unsupported';
      throw s3Error(error, `writing ${relative}`, this.where);
    }
  }

  async delete(relative: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(relative) }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw s3Error(error, `deleting ${relative}`, this.where);
    }
  }

  /** Deletes every object under a relative prefix; returns how many. */
  async deletePrefix(relative: string): Promise<number> {
    let count = 0;
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.where.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) throw Object.assign(new Error(`${failed[0]!.Key}: ${failed[0]!.Message ?? ''}`), { name: failed[0]!.Code ?? 'DeleteFailed' });
      } catch (error) {
        throw s3Error(error, `deleting objects under ${relative}`, this.where);
      }
      count += batch.length;
      batch = [];
    };
    for await (const key of this.listKeys(relative)) {
      batch.push(this.key(key));
      if (batch.length === 1000) await flush();
    }
    await flush();
    return count;
  }

  /** Keys (relative) under a relative prefix. */
  async *listKeys(relative: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({ Bucket: this.where.bucket, Prefix: this.key(relative), ContinuationToken: token }));
      } catch (error) {
        throw s3Error(error, `listing ${relative || 'the repository'}`, this.where);
      }
      for (const item of out.Contents ?? []) if (item.Key) yield item.Key.slice(this.where.prefix.length);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /** The next path segment of every key under a relative prefix ('snapshots/' → snapshot ids). */
  async listChildren(relative: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.where.bucket, Prefix: this.key(relative), Delimiter: '/', ContinuationToken: token }),
        );
      } catch (error) {
        throw s3Error(error, `listing ${relative}`, this.where);
      }
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix.slice(this.key(relative).length).replace(/\/$/, ''));
      for (const item of out.Contents ?? []) if (item.Key) names.push(item.Key.slice(this.key(relative).length));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  /** The object's bytes as a stream; errors (missing object included) surface on the stream. */
  openRead(relative: string, signal?: AbortSignal): Readable {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    this.client
      .send(new GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(relative) }), { abortSignal: signal })
      .then((response) => {
        const body = response.Body as Readable;
        body.on('error', (error) => out.destroy(s3Error(error, `reading ${relative}`, this.where)));
        body.pipe(out);
      })
      .catch((error: unknown) => {
        out.destroy(
          isNotFound(error)
            ? new HoldfastError('integrity', `the object ${relative} is missing from s3://${this.where.bucket}/${this.where.prefix}`, {
                hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check`',
              })
            : s3Error(error, `reading ${relative}`, this.where),
        );
      });
    return out;
  }

  /**
   * Streams `body` into one object: a multipart upload for anything larger
   * than a part, parts sent while the next one fills. On failure the upload
   * is aborted when the server can still be reached (otherwise the next
   * writer's cleanup aborts it).
   */
  async upload(relative: string, body: Readable, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.where.bucket, Key: this.key(relative), Body: body },
      partSize: partSize(),
      queueSize: 4,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      throw s3Error(error, `uploading ${relative}`, this.where);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Multipart uploads begun under a relative prefix and never completed nor aborted. */
  async listUploads(relative: string): Promise<Array<{ key: string; uploadId: string }>> {
    const found: Array<{ key: string; uploadId: string }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let out;
      try {
        out = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.where.bucket, Prefix: this.key(relative), KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (error) {
        throw s3Error(error, 'listing unfinished multipart uploads', this.where);
      }
      for (const u of out.Uploads ?? []) if (u.Key && u.UploadId) found.push({ key: u.Key.slice(this.where.prefix.length), uploadId: u.UploadId });
      if (!out.IsTruncated) return found;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    }
  }

  async abortUpload(relative: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.where.bucket, Key: this.key(relative), UploadId: uploadId }));
    } catch (error) {
      if (s3ErrorName(error) === 'NoSuchUpload' || isNotFound(error)) return;
      throw s3Error(error, `aborting the multipart upload of ${relative}`, this.where);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

function isNotFound(error: unknown): boolean {
  const name = s3ErrorName(error);
  return name === 'NoSuchKey' || name === 'NotFound';
}
