import { runTool, type ToolRun } from '../core/process.js';

/**
 * Compression runs in the zstd CLI (multi-threaded, -T0), fed through a pipe.
 * Chosen by measurement (bench/compression-bench.ts): on a mixed text/JSON
 * dump zstd -3 compresses several times faster than gzip -6 at a smaller
 * size, and a child process keeps the work off Node's event loop.
 * Node 20 has no zstd in zlib; the CLI is in every distribution.
 */
export interface CompressionSettings {
  codec: 'zstd';
  level: number;
}

export const DEFAULT_COMPRESSION: CompressionSettings = { codec: 'zstd', level: 3 };

const ZSTD_HINT = 'install zstd (Debian/Ubuntu: apt-get install zstd) so that holdfast can compress';

export function startCompressor(settings: CompressionSettings, signal?: AbortSignal): ToolRun {
  return withHint(runTool('zstd', ['-q', '-c', '-T0', `-${settings.level}`], { stdin: 'pipe', signal }));
}

export function startDecompressor(signal?: AbortSignal): ToolRun {
  return withHint(runTool('zstd', ['-q', '-d', '-c'], { stdin: 'pipe', signal }));
}

function withHint(run: ToolRun): ToolRun {
  run.done = run.done.catch((error: unknown) => {
    if (error instanceof Error && 'hint' in error) (error as { hint?: string }).hint = ZSTD_HINT;
    throw error;
  });
  return run;
}
