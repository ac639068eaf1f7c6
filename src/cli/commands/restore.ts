import { EXIT, HoldfastError } from '../../core/errors.js';
import { formatDuration, ProgressReporter } from '../../core/progress.js';
import { runRestore } from '../../core/restore-executor.js';
import { assertServiceName, envName, parseEndpoint, splitAssignment, type Service } from '../../core/service.js';
import { strings, type HoldfastCommand } from '../command.js';
import { restoreUsage } from './restore-usage.js';

/** `--target NAME=URL`: a URL, or an absolute path for file-level restores. */
function parseTargets(values: string[], snapshotServices: Record<string, { engine: string }>, configured: Map<string, Service>): Map<string, Service> {
  const targets = new Map<string, Service>();
  for (const raw of values) {
    const [name, where] = splitAssignment(raw, '--target');
    assertServiceName(name);
    const recorded = snapshotServices[name];
    if (!recorded) throw new HoldfastError('usage', `--target names ${JSON.stringify(name)}, which is not in the snapshot`, { hint: `it holds: ${Object.keys(snapshotServices).join(', ')}` });
    const url = where.startsWith('/') ? `file:${where}` : where;
    const secretEnv = [`HOLDFAST_${envName(name)}_TARGET`, `HOLDFAST_${envName(name)}`];
    // Without a target password of its own, the service's configured one (password_file / password_env) applies.
    const own = configured.get(name)?.options ?? {};
    const options = Object.fromEntries(Object.entries(own).filter(([k]) => k === 'password_file' || k === 'password_env'));
    targets.set(name, { name, engine: recorded.engine, endpoint: parseEndpoint(url, false, name), options, secretEnv, origin: 'flag' });
  }
  return targets;
}

/** `--option KEY=VALUE`, repeatable: engine restore options, as target URL parameters would give them. */
export function engineOptions(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of values) {
    const at = raw.indexOf('=');
    const key = at > 0 ? raw.slice(0, at) : '';
    const value = raw.slice(at + 1);
    if (at <= 0) throw new HoldfastError('usage', `--option expects KEY=VALUE, got ${JSON.stringify(raw)}`, { hint: 'for example --option rename_pattern=(.+)' });
    if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new HoldfastError('usage', `--option ${JSON.stringify(key)}: option names are lower-case words joined by "_"`, { hint: 'for example --option rename_pattern=(.+)' });
    out[key] = value;
  }
  return out;
}

/** --rename-pattern / --rename-replacement, checked together. */
export function renameOptions(pattern: unknown, replacement: unknown): Record<string, string> {
  if (replacement !== undefined && pattern === undefined) throw new HoldfastError('usage', '--rename-replacement needs --rename-pattern', { hint: 'for example --rename-pattern "(.+)" --rename-replacement "restored_$1"' });
  if (pattern === undefined) return {};
  if (String(pattern) === '') throw new HoldfastError('usage', '--rename-pattern is empty', { hint: 'for example --rename-pattern "(.+)"' });
  return { rename_pattern: String(pattern), rename_replacement: replacement === undefined ? '' : String(replacement) };
}

export const restoreCommand: HoldfastCommand = {
  ...restoreUsage,
  async run(ctx, args) {
    const repo = ctx.repository();
    await repo.open({ create: false });
    const snapshot = await repo.load(await repo.resolve(String(args.snapshot)));
    const options: Record<string, unknown> = { ...engineOptions(strings(args.option)), jobs: args.jobs, globals: args.globals };
    if (args.database !== undefined) options.database = args.database;
    Object.assign(options, renameOptions(args['rename-pattern'], args['rename-replacement']));
    const configured = new Map(ctx.config.services.map((s) => [s.name, s]));
    const outcomes = await runRestore(repo, await ctx.drivers(), {
      snapshot,
      only: strings(args.services),
      targets: parseTargets(strings(args.target), snapshot.services, configured),
      configured,
      force: Boolean(args.force),
      accept: strings(args.accept),
      recreate: Boolean(args.recreate),
      options,
      signal: ctx.signal,
      progress: ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose),
    });
    if (ctx.signal.aborted) throw new HoldfastError('interrupted', 'restore interrupted', { hint: 'the target may hold part of the data; run the restore again' });
    const allOk = outcomes.every((o) => o.status === 'ok');
    if (ctx.out.json) {
      ctx.out.document({ snapshot: snapshot.id, status: allOk ? 'ok' : 'failed', services: outcomes });
    } else {
      for (const o of outcomes) {
        if (o.status === 'failed') {
          for (const n of o.notes) ctx.out.info(`note: [${o.service}] ${n}`);
          process.stderr.write(`holdfast: [${o.service}] ${o.error?.message}\n${o.error?.hint ? `  hint: ${o.error.hint}\n` : ''}`);
          continue;
        }
        const fp = o.fingerprint ? (o.fingerprint.equal ? `fingerprints equal (${o.fingerprint.compared} tables)` : `FINGERPRINTS DIFFER: ${o.fingerprint.differences.slice(0, 5).join('; ')}`) : 'no fingerprint compared';
        ctx.out.line(`${o.service}: restored to ${o.location} in ${formatDuration(o.durationMs)}; ${fp}`);
        for (const n of o.notes) ctx.out.info(`note: [${o.service}] ${n}`);
      }
    }
    if (allOk) return EXIT.ok;
    // Only bad usage or configuration (a wrong kind of target, ...): exit 2, as for any usage error.
    const usageOnly = outcomes.every((o) => o.status === 'ok' || o.error?.code === 'usage' || o.error?.code === 'config');
    return usageOnly ? EXIT.usage : EXIT.failed;
  },
};
