import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { EXIT, HoldfastError } from '../../core/errors.js';
import { formatBytes, ProgressReporter } from '../../core/progress.js';
import { importBundle, type ImportSummary } from '../../repository/bundle-import.js';
import type { HoldfastCommand } from '../command.js';
import { importUsage } from './import-usage.js';

export const importCommand: HoldfastCommand = {
  ...importUsage,
  async run(ctx, args) {
    // yargs hands a lone "-" over as "".
    const file = args.file === '' || args.file === undefined ? '-' : String(args.file);
    if (file === '-' && process.stdin.isTTY) throw new HoldfastError('usage', 'import - reads a bundle from stdin, which is a terminal', { hint: 'pipe a bundle in, or name the file' });
    if (file !== '-') {
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw new HoldfastError('usage', `${file} is not a file`, { hint: 'name a bundle written by `holdfast export SNAPSHOT --to FILE`' });
    }
    const repo = ctx.repository();
    await repo.open({ create: false });
    const progress = ProgressReporter.forTerminal(ctx.out.quiet || ctx.out.json, ctx.out.verbose);
    const sink = progress.sink('import');
    sink.phase(file === '-' ? 'from stdin' : `from ${file}`);
    let summary: ImportSummary;
    try {
      const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
      summary = await importBundle(repo, source, { signal: ctx.signal, onBytes: sink.add });
    } finally {
      progress.stop();
    }
    if (ctx.out.json) {
      ctx.out.document({ ...summary, repository: repo.location, status: summary.status === 'present' ? 'already-present' : 'ok' });
    } else if (summary.status === 'present') {
      ctx.out.line(`snapshot ${summary.snapshot} is already in the repository ${repo.location} (imported before): nothing to do`);
    } else {
      ctx.out.line(`snapshot ${summary.snapshot} imported and verified: ${summary.services.join(', ')}; ${summary.artifacts} artifacts, ${formatBytes(summary.bytes)}; into ${repo.location}`);
      ctx.out.info(`restore it with: holdfast restore ${summary.snapshot}`);
    }
    return EXIT.ok;
  },
};
