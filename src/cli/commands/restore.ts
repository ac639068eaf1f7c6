import { EXIT, HoldfastError } from '../../core/errors.js';
import { placeLine } from '../../core/place-record.js';
import { formatDuration, ProgressReporter } from '../../core/progress.js';
import { recordedResult, runRestore, sourceService } from '../../core/restore-executor.js';
import { describeNeeds, restoreNeedsOf, type ServiceRestoreNeeds } from '../../core/restore-needs.js';
import type { Manifest } from '../../repository/manifest.js';
import type { CommandContext } from '../context.js';
import { assertServiceName, envName, parseEndpoint, splitAssignment, type Service } from '../../core/service.js';
import { strings, type HoldfastCommand } from '../command.js';
import { fingerprintObjects } from '../fingerprint-words.js';
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
    const options: Record<string, unknown> = { ...engineOptions(strings(args.option)), jobs: args.jobs, globals: args.globals, terminate: args.terminate, sessions_timeout: args['sessions-timeout'] };
    if (args.database !== undefined) options.database = args.database;
    if (args['allow-devices']) options.allow_devices = true;
    for (const key of ['owner', 'acl', 'tablespaces'] as const) if (args[key] === false) options[key] = false;
    if (strings(args['tablespace-map']).length) options.tablespace_map = strings(args['tablespace-map']);
    Object.assign(options, renameOptions(args['rename-pattern'], args['rename-replacement']));
    const configured = new Map(ctx.config.services.map((s) => [s.name, s]));
    const targets = parseTargets(strings(args.target), snapshot.services, configured);
    if (args['dry-run']) return dryRun(ctx, snapshot, { only: strings(args.services), targets, configured, force: Boolean(args.force), options });
    const outcomes = await runRestore(repo, await ctx.drivers(), {
      snapshot,
      only: strings(args.services),
      targets,
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
      ctx.out.document({ snapshot: snapshot.id, repository: repo.location, status: allOk ? 'ok' : 'failed', services: outcomes });
    } else {
      for (const o of outcomes) {
        if (o.status === 'failed') {
          for (const n of o.notes) ctx.out.info(`note: [${o.service}] ${n}`);
          process.stderr.write(`holdfast: [${o.service}] ${o.error?.message}\n${o.error?.hint ? `  hint: ${o.error.hint}\n` : ''}`);
          continue;
        }
        const engine = snapshot.services[o.service]?.engine ?? '';
        const fp = o.fingerprint ? (o.fingerprint.equal ? `fingerprints equal (${engine === 'volume' ? fingerprintObjects(engine, o.fingerprint.compared) : `${o.fingerprint.compared} objects`})` : `FINGERPRINTS DIFFER: ${o.fingerprint.differences.slice(0, 5).join('; ')}`) : 'no fingerprint compared';
        ctx.out.line(`${o.service}: restored to ${o.location} in ${formatDuration(o.durationMs)}; ${fp}`);
        // Where its tools ran, once per service (as `show` prints a backup's).
        if (o.place) ctx.out.line(`  place: ${placeLine(o.place)}`);
        for (const n of o.notes) ctx.out.info(`note: [${o.service}] ${n}`);
      }
    }
    if (allOk) return EXIT.ok;
    // Only bad usage or configuration (a wrong kind of target, ...): exit 2, as for any usage error.
    const usageOnly = outcomes.every((o) => o.status === 'ok' || o.error?.code === 'usage' || o.error?.code === 'config');
    return usageOnly ? EXIT.usage : EXIT.failed;
  },
};

/**
 * `restore --dry-run`: what each service's restore would need from the
 * account it connects as, with the fixes; nothing is restored or changed.
 * Exit 1 when a need is unmet.
 */
async function dryRun(
  ctx: CommandContext,
  snapshot: Manifest,
  request: { only: string[]; targets: Map<string, Service>; configured: Map<string, Service>; force: boolean; options: Record<string, unknown> },
): Promise<number> {
  const registry = await ctx.drivers();
  const names = request.only.length > 0 ? request.only : Object.keys(snapshot.services).filter((n) => snapshot.services[n]!.status === 'ok');
  const results: ServiceRestoreNeeds[] = [];
  for (const name of names) {
    const record = snapshot.services[name];
    if (!record || record.status !== 'ok') throw new HoldfastError('not-found', `snapshot ${snapshot.id} has nothing to restore for ${JSON.stringify(name)}`, { hint: `it holds: ${Object.keys(snapshot.services).join(', ')}` });
    const source = sourceService(name, record, request.configured.get(name));
    const target = request.targets.get(name) ?? source;
    results.push(await restoreNeedsOf(registry.get(record.driver), { service: name, target, strategy: record.strategy, inPlace: !request.targets.has(name), force: request.force, options: request.options, recorded: recordedResult(record) }));
  }
  const ok = results.every((r) => !r.error && r.needs.every((n) => n.met));
  if (ctx.out.json) {
    ctx.out.document({ snapshot: snapshot.id, dryRun: true, status: ok ? 'ok' : 'failed', services: results });
  } else {
    for (const r of results) {
      const lines = describeNeeds(r);
      ctx.out.line(lines.length ? `${r.service}: a restore to ${r.where} needs:` : `${r.service}: nothing to check beforehand for a restore to ${r.where}`);
      for (const l of lines) ctx.out.line(`  ${l}`);
    }
    ctx.out.line(ok ? `dry run: snapshot ${snapshot.id} can be restored as asked (nothing was changed)` : `dry run: the restore would fail; see MISSING above (nothing was changed)`);
  }
  return ok ? EXIT.ok : EXIT.failed;
}
