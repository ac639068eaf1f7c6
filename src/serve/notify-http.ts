/**
 * One HTTP POST with a timeout and retries, for webhooks and pings. It never
 * throws: a notification that cannot be delivered is reported to the caller
 * (which logs it) and never fails the job it is about.
 */
export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed: "connection refused", "HTTP 500", "timed out after 10s". */
  error?: string;
}

export interface PostOptions {
  timeoutMs: number;
  retries: number;
  /** Delay before retry n (1-based); default 1 s, 2 s, 4 s ... */
  backoffMs?: (attempt: number) => number;
  contentType?: string;
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timed out after ${timeoutMs / 1000}s`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  return e.cause?.message ?? e.message;
}

export async function postWithRetries(url: string, body: string, options: PostOptions): Promise<DeliveryResult> {
  const backoff = options.backoffMs ?? ((n) => 1000 * 2 ** (n - 1));
  let error = '';
  for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, backoff(attempt - 1)));
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': options.contentType ?? 'application/json', 'user-agent': 'holdfast' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, attempts: attempt };
      error = `HTTP ${response.status}`;
      // A 4xx other than 408/429 will not change on a retry.
      if (response.status < 500 && response.status !== 408 && response.status !== 429) return { ok: false, attempts: attempt, error };
    } catch (e) {
      error = describeFailure(e, options.timeoutMs);
    }
  }
  return { ok: false, attempts: options.retries + 1, error };
}
