import yargs, { type Argv } from 'yargs';
import { EXIT, HoldfastError } from '../core/errors.js';
import { HOLDFAST_VERSION } from '../core/version.js';
import { COMMANDS } from './command-list.js';
import type { GlobalFlags } from './context.js';
import type { DockerFlags } from './docker-context.js';
import { createOutput, reportError } from './output.js';
import { explainUsageError } from './usage-errors.js';

/** Stops work cleanly on the first SIGINT/SIGTERM; a second one exits at once. */
function installSignalHandlers(controller: AbortController): () => void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(`\nholdfast: ${signal} received, stopping and cleaning up (again to exit at once)\n`);
      controller.abort(new HoldfastError('interrupted', `stopped by ${signal}`));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** yargs reads `--to -` as an empty value plus an unknown argument "-": hand it `--to=-`, which it reads right. */
function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    if (arg === '-' && out.at(-1) === '--to') out.push(`${out.pop()}=-`);
    else out.push(arg);
  }
  return out;
}

export async function main(rawArgv: string[]): Promise<number> {
  const argv = joinDashValues(rawArgv);
  const controller = new AbortController();
  const uninstall = installSignalHandlers(controller);
  let code: number = EXIT.ok;
  let usageError: string | undefined;
  const parser: Argv = yargs(argv)
    .scriptName('holdfast')
    .usage('$0 <command> [options]\n\nEngine-aware backups: consistent per-engine snapshots, verified, restorable anywhere.')
    .option('config', { type: 'string', describe: 'holdfast.yml to read (default: ./holdfast.yml, or HOLDFAST_CONFIG)' })
    .option('repo', { type: 'string', describe: 'repository: a directory, s3://bucket/prefix, or restic:<restic repository> (its password from RESTIC_PASSWORD[_FILE]) (or HOLDFAST_REPO, or the config\'s repo:; there is no default)' })
    .option('key-file', { type: 'string', describe: 'key file of an encrypted repository (or HOLDFAST_KEY_FILE); passphrase from HOLDFAST_PASSWORD[_FILE] or a prompt' })
    .option('service', { type: 'string', array: true, default: [], describe: 'ad hoc service NAME=URL (repeatable); passwords from HOLDFAST_<NAME>_PASSWORD[_FILE]' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print only the outcome and errors: no progress, notes or result tables' })
    .option('verbose', { type: 'boolean', default: false, describe: 'stack traces for internal errors' })
    .option('docker', { type: 'boolean', describe: 'add the services of Docker containers (DOCKER_HOST), or HOLDFAST_DOCKER=1' })
    .option('project', { type: 'string', describe: 'only the containers of this compose project (implies --docker)' })
    .epilogue('Exit status: 0 done, 1 failed, 2 bad usage or configuration, 3 some services failed and the rest were saved, 4 (status) a service has no good snapshot or one older than --max-age.')
    .version(HOLDFAST_VERSION)
    .help()
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .fail((message, error) => {
      if (error) throw error;
      // The options known where parsing stopped (the command's and the global ones), for "did you mean".
      const known = Object.keys((parser as unknown as { getOptions(): { key?: Record<string, unknown> } }).getOptions().key ?? {});
      usageError = explainUsageError(message, argv, COMMANDS.map((c) => c.usage.command.split(' ')[0]!), known);
    })
    .wrap(Math.min(110, process.stdout.columns || 100));

  for (const { usage, load } of COMMANDS) {
    parser.command(
      usage.command,
      usage.describe,
      (y) => (usage.builder ? usage.builder(y) : y),
      async (args) => {
        // yargs runs the handler even after a failed validation (a missing argument): do nothing then.
        if (usageError) return;
        const flags = args as unknown as GlobalFlags;
        const out = createOutput(flags);
        try {
          // Loaded here, not at startup: configuration (yaml), drivers and repositories are for commands that run.
          const [{ buildContext }, { prepareDocker }, command] = await Promise.all([import('./context.js'), import('./docker-context.js'), load()]);
          const ctx = buildContext(flags, controller.signal);
          await prepareDocker(ctx, args as DockerFlags);
          await (await import('../core/leftover-sweep.js')).sweepSpool((line) => process.stderr.write(`${line}\n`));
          code = await command.run(ctx, args as Record<string, unknown>);
        } catch (error) {
          code = reportError(out, error);
        }
      },
    );
  }

  try {
    await parser.parseAsync();
  } catch (error) {
    code = reportError(createOutput({ json: argv.includes('--json'), quiet: false, verbose: argv.includes('--verbose') }), error);
  } finally {
    uninstall();
  }
  if (usageError) {
    process.stderr.write(`holdfast: ${usageError}\n  hint: see holdfast --help\n`);
    return EXIT.usage;
  }
  return code;
}
