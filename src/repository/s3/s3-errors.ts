import { HoldfastError } from '../../core/errors.js';
import { stallTimeoutText } from '../../core/stall-timeout.js';
import type { S3Location } from './s3-location.js';

const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'AuthorizationHeaderMalformed',
  'XAdminUserNotFound', // versitygw: an unknown access key
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

/** The S3 error name ('NoSuchKey', 'PreconditionFailed', ...) or HTTP status of a failed call. */
export function s3ErrorName(error: unknown): string | undefined {
  return (error as SdkError | undefined)?.name;
}

export function s3Status(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

function networkCode(error: unknown): string | undefined {
  const e = error as SdkError | undefined;
  if (!e) return undefined;
  if (e.code && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') return 'timeout';
  if (/socket hang up|other side closed/i.test(e.message ?? '')) return 'ECONNRESET';
  for (const inner of e.errors ?? []) {
    const code = networkCode(inner);
    if (code) return code;
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause && cause !== error ? networkCode(cause) : undefined;
}

/**
 * One clear HoldfastError for a failed S3 call: a missing bucket, refused
 * credentials and an unreachable server each say what to do. Messages name
 * the bucket and the endpoint, never a credential.
 */
export function s3Error(error: unknown, doing: string, where: S3Location): HoldfastError {
  if (error instanceof HoldfastError) return error;
  const name = s3ErrorName(error) ?? '';
  const status = s3Status(error);
  const message = (error as SdkError | undefined)?.message ?? String(error);
  const net = networkCode(error);
  if (net === 'timeout') {
    return new HoldfastError('connect', `${where.server} stalled while ${doing}: no progress for ${stallTimeoutText()}`, {
      hint: 'check that the S3 server is healthy (its logs, its disk); on a slow link raise HOLDFAST_STALL_TIMEOUT_SECONDS; nothing half-written is listed, and the next backup removes the leftovers',
      cause: error,
    });
  }
  if (net) {
    return new HoldfastError('connect', `cannot reach ${where.server} while ${doing} (${net})`, {
      hint: 'check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and that the S3 server is running and reachable; nothing half-written is listed, and the next backup removes the leftovers',
      cause: error,
    });
  }
  if (name === 'NoSuchBucket') {
    return new HoldfastError('repository', `the bucket "${where.bucket}" does not exist on ${where.server}`, {
      hint: `create it first (e.g. \`aws s3 mb s3://${where.bucket}\`), or fix the bucket name in --repo`,
      cause: error,
    });
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new HoldfastError('auth', `no S3 credentials found for ${where.server}`, {
      hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in ~/.aws/credentials',
      cause: error,
    });
  }
  if (CREDENTIAL_ERRORS.has(name) || status === 403) {
    return new HoldfastError('auth', `${where.server} refused the credentials while ${doing} (${name || `HTTP ${status}`})`, {
      hint: `check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE and ~/.aws/credentials), and that they may read and write s3://${where.bucket}/${where.prefix}`,
      cause: error,
    });
  }
  if (name === 'Region is missing' || /Region is missing/i.test(message)) {
    return new HoldfastError('config', `no AWS region set for ${where.server}`, { hint: 'set AWS_REGION (e.g. us-east-1), or a region in your AWS profile', cause: error });
  }
  // An answer that is not S3's XML (a proxy's or a failing gateway's page): its status and body say more than the parser.
  const raw = (error as { $responseBodyText?: unknown }).$responseBodyText;
  const said = typeof raw === 'string' && raw.trim() !== '' && /deserializ|parse error/i.test(message) ? raw.trim().replace(/\s+/g, ' ').slice(0, 300) : `${name ? `${name}: ` : ''}${message}`;
  return new HoldfastError('repository', `${where.server} failed while ${doing}${status ? ` (HTTP ${status})` : ''}: ${said}`, {
    hint: `check the bucket s3://${where.bucket} and the server's logs`,
    cause: error,
  });
}
