import { HoldfastError } from '../../core/errors.js';
import { redactRawUrl } from '../../core/service.js';

/**
 * Where an s3:// repository lives, read from `--repo s3://bucket/prefix` and
 * the usual AWS environment. Light on purpose: no SDK import here.
 *
 *   AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL   a custom endpoint (MinIO, Ceph, SeaweedFS, versitygw, ...);
 *                                           addressing is then path-style (http://host/bucket/key)
 *   AWS_REGION, AWS_DEFAULT_REGION          the region (default us-east-1 for a custom endpoint)
 *   HOLDFAST_S3_PATH_STYLE=0|1              force the addressing style either way
 * Credentials are the SDK's default chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * (/ AWS_SESSION_TOKEN), AWS_PROFILE with ~/.aws/credentials and ~/.aws/config, SSO, instance roles.
 */
export interface S3Location {
  bucket: string;
  /** '' or a key prefix ending in '/'. */
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle: boolean;
  /** How messages name the server: the endpoint, or "AWS S3". */
  server: string;
}

export function isS3Location(location: string): boolean {
  return /^s3:\/\//i.test(location);
}

export function parseS3Location(location: string, env: NodeJS.ProcessEnv = process.env): S3Location {
  const match = /^s3:\/\/([^/?#]*)\/?([^?#]*)$/i.exec(location);
  const bucket = match?.[1] ?? '';
  if (!match || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new HoldfastError('config', `repository ${location}: not an S3 location with a valid bucket name`, {
      hint: 'write it as s3://bucket or s3://bucket/prefix (bucket names: 3-63 lower-case letters, digits, dots and hyphens)',
    });
  }
  const parts = (match[2] ?? '').split('/').filter((p) => p.length > 0);
  if (parts.some((p) => p === '.' || p === '..')) {
    throw new HoldfastError('config', `repository ${location}: the prefix may not contain . or .. segments`, { hint: 'use a plain prefix such as s3://bucket/backups/app' });
  }
  const prefix = parts.length ? parts.join('/') + '/' : '';
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) {
    throw new HoldfastError('config', `the S3 endpoint ${JSON.stringify(redactRawUrl(endpoint))} is not a URL such as http://127.0.0.1:9000`, {
      hint: 'set AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) to the scheme, host and port of the S3-compatible server',
    });
  }
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? (endpoint ? 'us-east-1' : undefined);
  const style = nonEmpty(env.HOLDFAST_S3_PATH_STYLE);
  const forcePathStyle = style !== undefined ? style === '1' || style === 'true' : endpoint !== undefined;
  return { bucket, prefix, endpoint, region, forcePathStyle, server: endpoint ? `the S3 server at ${redactRawUrl(endpoint)}` : 'AWS S3' };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}
