/**
 * The one error type of holdfast. Every failure a user can meet is a
 * HoldfastError with a code (what kind of failure), the service and driver it
 * concerns, a hint that says what to do, and the underlying cause.
 * The CLI maps codes to exit statuses and prints the hint; stack traces only
 * with --verbose.
 */
export type ErrorCode =
  | 'usage' // bad flags or arguments
  | 'config' // bad configuration: holdfast.yml, URLs, names
  | 'connect' // the server cannot be reached
  | 'auth' // the server refused the credentials
  | 'not-found' // a database, snapshot, artifact or service that does not exist
  | 'tool' // an engine tool is missing, too old or failed
  | 'repository' // the repository is unusable (not a dir, not writable, locked, corrupt)
  | 'integrity' // a checksum or fingerprint does not match
  | 'target' // a restore target that cannot be used (not empty without --force, ...)
  | 'no-space' // the disk is full
  | 'timeout'
  | 'hook' // a pre- or post-hook of a service failed
  | 'interrupted' // SIGINT / SIGTERM
  | 'internal';

export interface HoldfastErrorOptions {
  service?: string;
  driver?: string;
  hint?: string;
  cause?: unknown;
}

export class HoldfastError extends Error {
  readonly code: ErrorCode;
  readonly service?: string;
  readonly driver?: string;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: HoldfastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HoldfastError';
    this.code = code;
    if (options.service !== undefined) this.service = options.service;
    if (options.driver !== undefined) this.driver = options.driver;
    if (options.hint !== undefined) this.hint = options.hint;
  }

  /** The message with its service and driver prefixes, as the user reads it. */
  describe(): string {
    const where = [this.service && `[${this.service}]`, this.driver && `[${this.driver}]`]
      .filter(Boolean)
      .join(' ');
    return where ? `${where} ${this.message}` : this.message;
  }

  /** A copy that names the service, when the thrower did not know it. */
  forService(service: string, driver?: string): HoldfastError {
    if (this.service && (this.driver || !driver)) return this;
    const copy = new HoldfastError(this.code, this.message, {
      service: this.service ?? service,
      driver: this.driver ?? driver,
      hint: this.hint,
      cause: this.cause,
    });
    copy.stack = this.stack;
    return copy;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.service ? { service: this.service } : {}),
      ...(this.driver ? { driver: this.driver } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
    };
  }
}

/**
 * Exit statuses of DESIGN.md: 0 done, 1 failed, 2 bad usage or configuration, 3 partial;
 * and 4 for `status`: some service has no good snapshot, or one older than --max-age.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3, stale: 4 } as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof HoldfastError && (error.code === 'usage' || error.code === 'config')) {
    return EXIT.usage;
  }
  return EXIT.failed;
}

/** Wraps anything thrown into a HoldfastError, recognising common system errors. */
export function toHoldfastError(error: unknown, options: HoldfastErrorOptions = {}): HoldfastError {
  if (error instanceof HoldfastError) {
    return options.service ? error.forService(options.service, options.driver) : error;
  }
  const err = error as NodeJS.ErrnoException | undefined;
  const message = err?.message ?? String(error);
  switch (err?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new HoldfastError('no-space', `no space left on the device: ${message}`, {
        ...options,
        hint: 'free space on the repository disk or point --repo at a larger one; nothing was committed',
        cause: error,
      });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new HoldfastError('repository', `permission denied: ${message}`, {
        ...options,
        hint: 'check that holdfast may write there',
        cause: error,
      });
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
      return new HoldfastError('connect', `cannot reach the server: ${message}`, {
        ...options,
        hint: 'check the host and port in the service URL, and that the server is running',
        cause: error,
      });
    default:
      return new HoldfastError('internal', message, { ...options, cause: error });
  }
}
