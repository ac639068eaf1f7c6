import { EXIT, HoldfastError } from '../../core/errors.js';
import { formatBytes, ProgressReporter } from '../../core/progress.js';
import { exportBundle, exportBundleFile, type ExportSummary } from '../../repository/bundle-export.js';
import type { HoldfastCommand } from '../command.js';
import { exportUsage } from './export-usage.js';

export const exportCommand: HoldfastCommand = {
  ...exportUsage,
  async run(ctx, args) {
    // yargs hands a lone "-" over as "".
    const to = args.to === '' ? '-' : String(args.to);
    const toStdout = to === '-';
    if (toStdout && process.stdout.isTTY) {
      throw new HoldfastError('usage', 'refusing to write a binary bundle to a terminal', { hint: 'redirect stdout (--to - > FILE, or a pipe), or name a file with --to FILE' });
    }
    const repo = ctx.repository();
    await repo.open({ create: false });
    const id = await repo.resolve(String(args.snapshot));
    const progress = ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose);
    const sink = progress.sink('export');
    sink.phase(toStdout ? 'to stdout' : `to ${to}`);
    let summary: ExportSummary;
    try {
      const options = { signal: ctx.signal, onBytes: sink.add };
      summary = toStdout ? await exportBundle(repo, id, process.stdout, options) : await exportBundleFile(repo, id, to, { ...options, force: Boolean(args.force) });
    } finally {
      progress.stop();
    }
    const doc = { status: 'ok', repository: repo.location, file: toStdout ? '-' : to, ...summary };
    // With --to -, stdout carries the bundle: the summary goes to stderr.
    if (ctx.out.json) {
      if (toStdout) process.stderr.write(`${JSON.stringify(doc, null, 2)}\n`);
      else ctx.out.document(doc);
    } else {
      const line = `snapshot ${id} exported${toStdout ? '' : ` to ${to}`}: ${summary.artifacts} artifacts, ${formatBytes(summary.bytes)}, sha256 ${summary.sha256}; from ${repo.location}`;
      if (toStdout) ctx.out.info(line);
      else ctx.out.line(line);
    }
    if (repo.encrypted) ctx.out.info('note: the bundle is not encrypted (the repository is): keep it as safe as the databases, or import it into an encrypted repository and delete it');
    return EXIT.ok;
  },
};
