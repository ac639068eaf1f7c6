/**
 * How long a network step may go without progress (no byte sent or
 * received) before it fails: HOLDFAST_STALL_TIMEOUT_SECONDS, default 120. A
 * server that stops reading an upload or stops answering is an error within
 * this time, never a wait without end.
 */
export function stallTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.HOLDFAST_STALL_TIMEOUT_SECONDS ?? 120);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 120) * 1000;
}

/** For messages and hints: "120 s". */
export function stallTimeoutText(env: NodeJS.ProcessEnv = process.env): string {
  return `${Math.round(stallTimeoutMs(env) / 100) / 10} s`;
}
