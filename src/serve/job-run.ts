/**
 * Runs one scheduled job in this process through the very command handlers
 * the CLI runs (backup, verify --restore-test, forget, check), with their
 * JSON document captured instead of printed: the same code path, flags and
 * defaults as `holdfast backup --json`, and the job's AbortSignal in place
 * of the CLI's signal handlers.
 */
import yargs from 'yargs';
import type { CommandUsage, HoldfastCommand } from '../cli/command.js';
import { buildContext, type CommandContext, type GlobalFlags } from '../cli/context.js';
import { prepareDocker, type DockerFlags } from '../cli/docker-context.js';
import type { Output } from '../cli/output.js';
import { EXIT, toHoldfastError } from '../core/errors.js';
import type { JobSpec } from './serve-config.js';

export type RunStatus = 'ok' | 'partial' | 'failed' | 'interrupted';

export interface ServiceResult {
  service: string;
  status: string;
  bytes: number;
  storedBytes: number;
  durationMs: number;
  error?: string;
  hint?: string;
}

export interface JobOutcome {
  status: RunStatus;
  exitCode: number;
  snapshot?: string;
  /** backup: per service; restore-test: per service verdicts (status = verdict). */
  services: ServiceResult[];
  failedServices: Array<{ service: string; error?: string; hint?: string }>;
  error?: string;
  hint?: string;
  /** The command's JSON document, for the log. */
  document?: unknown;
}

/** The CLI argument list a job stands for. */
export function jobArgv(job: JobSpec): string[] {
  switch (job.type) {
    case 'backup':
      return ['backup', ...job.services, ...(job.verify ? ['--verify'] : [])];
    case 'restore-test':
      return ['verify', job.snapshot, '--restore-test'];
    case 'forget':
      // Wait for a backup another holdfast is committing rather than fail the forget.
      return ['forget', ...Object.entries(job.keep).flatMap(([unit, n]) => [`--keep-${unit}`, n]), ...job.keepTags.flatMap((t) => ['--keep-tag', t]), '--retry-lock', '600'];
    case 'check':
      return ['check', ...(job.readData ? ['--read-data'] : [])];
  }
}

async function commandFor(job: JobSpec): Promise<HoldfastCommand> {
  switch (job.type) {
    case 'backup':
      return (await import('../cli/commands/backup.js')).backupCommand;
    case 'restore-test':
      return (await import('../cli/commands/verify.js')).verifyCommand;
    case 'forget':
      return (await import('../cli/commands/forget.js')).forgetCommand;
    case 'check':
      return (await import('../cli/commands/check.js')).checkCommand;
  }
}

/** The arguments yargs gives the command's handler for argv: the same defaults as on the command line. */
function parseArgs(usage: CommandUsage, argv: string[]): Record<string, unknown> {
  let parsed: Record<string, unknown> | undefined;
  yargs(argv)
    .command(usage.command, usage.describe, (y) => (usage.builder ? usage.builder(y) : y), (a) => {
      parsed = a as Record<string, unknown>;
    })
    .strict()
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new Error(message);
    })
    .parseSync();
  if (!parsed) throw new Error(`internal: ${argv.join(' ')} was not parsed`);
  return parsed;
}

/** An Output that keeps the command's JSON document and passes warnings to the log. */
function capturingOutput(warn: (text: string) => void, keep: (doc: unknown) => void): Output {
  return { json: true, quiet: true, verbose: false, line: () => {}, details: () => {}, info: () => {}, warn, document: keep };
}

export interface JobRunOptions {
  flags: GlobalFlags & DockerFlags;
  signal: AbortSignal;
  warn(text: string): void;
}

export async function runJob(job: JobSpec, options: JobRunOptions): Promise<JobOutcome> {
  let document: Record<string, unknown> | undefined;
  const out = capturingOutput(options.warn, (doc) => (document = doc as Record<string, unknown>));
  let exitCode: number;
  try {
    const command = await commandFor(job);
    const args = { ...options.flags, ...parseArgs(command, jobArgv(job)), json: true, quiet: true };
    // A fresh context per run: discovery sees the containers of now, and holdfast.yml's services as they are.
    const ctx: CommandContext = { ...buildContext({ ...options.flags, json: true, quiet: true }, options.signal), out };
    await prepareDocker(ctx, options.flags);
    exitCode = await command.run(ctx, args);
  } catch (error) {
    const e = toHoldfastError(error);
    const interrupted = options.signal.aborted;
    return { status: interrupted ? 'interrupted' : 'failed', exitCode: EXIT.failed, services: [], failedServices: [], error: e.describe(), ...(e.hint ? { hint: e.hint } : {}) };
  }
  return outcomeOf(job, exitCode, document, options.signal.aborted);
}

function outcomeOf(job: JobSpec, exitCode: number, doc: Record<string, unknown> | undefined, aborted: boolean): JobOutcome {
  const status: RunStatus = aborted && exitCode !== EXIT.ok ? 'interrupted' : exitCode === EXIT.ok ? 'ok' : exitCode === EXIT.partial ? 'partial' : 'failed';
  const outcome: JobOutcome = { status, exitCode, services: [], failedServices: [], document: doc };
  if (typeof doc?.snapshot === 'string') outcome.snapshot = doc.snapshot;
  if (job.type === 'backup' && Array.isArray(doc?.services)) {
    for (const s of doc.services as Array<Record<string, unknown>>) {
      const error = s.error as { message?: string; hint?: string } | undefined;
      const r: ServiceResult = { service: String(s.service), status: String(s.status), bytes: Number(s.bytes ?? 0), storedBytes: Number(s.storedBytes ?? 0), durationMs: Number(s.durationMs ?? 0) };
      if (error?.message) r.error = error.message;
      if (error?.hint) r.hint = error.hint;
      outcome.services.push(r);
    }
  }
  const restoreTest = doc?.restoreTest as { services?: Array<Record<string, unknown>> } | undefined;
  for (const t of restoreTest?.services ?? []) {
    if (t.verdict !== 'ok') outcome.failedServices.push({ service: String(t.service), error: `restore test ${String(t.verdict)}${t.detail ? `: ${String(t.detail)}` : ''}` });
  }
  for (const s of outcome.services) if (s.status !== 'ok') outcome.failedServices.push({ service: s.service, ...(s.error ? { error: s.error } : {}), ...(s.hint ? { hint: s.hint } : {}) });
  if (status !== 'ok') {
    const first = outcome.failedServices[0];
    outcome.error = first ? `${first.service}: ${first.error ?? 'failed'}` : `${job.type} exited ${exitCode}`;
    if (first?.hint) outcome.hint = first.hint;
    const problems = doc?.problems as Array<{ problem?: string }> | undefined;
    if (job.type === 'check' && problems?.length) outcome.error = `${problems.length} problems: ${problems.slice(0, 3).map((p) => p.problem).join('; ')}`;
    if (doc?.status === 'error') {
      const e = doc.error as { message?: string; hint?: string };
      outcome.error = e.message ?? outcome.error;
      if (e.hint) outcome.hint = e.hint;
    }
  }
  return outcome;
}
