import { spawn } from 'node:child_process';
import { sampleRss, sampleTreeRss } from './rss-sampler.js';

export interface Timed {
  seconds: number;
  peakRssMiB: number;
  /** With `tree`: the highest summed RSS of the process and its descendants (sampled). */
  treeRssMiB?: number;
  /** With `cpu`: user + system CPU seconds of the process and every descendant it waited for (load-independent). */
  cpuSeconds?: number;
  stdout: string;
}

/** Runs a command (argument array, no shell unless the caller runs bash itself) and measures wall time and peak RSS. */
export function timed(command: string, args: string[], env: Record<string, string> = {}, options: { tree?: boolean; cpu?: boolean } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    // bash's `times` prints its children's CPU time, which includes what they waited for in turn.
    const [cmd, argv] = options.cpu ? ['bash', ['-c', '"$@"; s=$?; times >&2; exit $s', 'timed', command, ...args]] : [command, args];
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const rss = sampleRss(child.pid!, 50, { child: options.cpu === true });
    const tree = options.tree ? sampleTreeRss(child.pid!) : undefined;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const peak = rss.stop();
      const treePeak = tree?.stop();
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const cpu = options.cpu ? childCpuSeconds(stderr) : undefined;
      resolve({
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        peakRssMiB: Math.round(peak / 1024),
        ...(treePeak !== undefined ? { treeRssMiB: Math.round(treePeak / 1024) } : {}),
        ...(cpu !== undefined ? { cpuSeconds: cpu } : {}),
        stdout,
      });
    });
  });
}

/**
 * Runs each contender `rounds` times, interleaved (A B C, A B C, ...), so that
 * a noisy neighbour hurts all of them alike; returns the median time of each
 * (and its highest peak RSS). `between` runs, untimed, before each contender:
 * e.g. a `sync`, so that one contender's unwritten pages are not written
 * back on the next one's time.
 */
export async function interleaved<K extends string>(
  rounds: number,
  contenders: Record<K, () => Promise<Timed>>,
  options: { between?: () => Promise<unknown> } = {},
): Promise<Record<K, Timed & { all: number[] }>> {
  const runs = {} as Record<K, Timed[]>;
  for (let i = 0; i < rounds; i++) {
    for (const [name, run] of Object.entries(contenders) as Array<[K, () => Promise<Timed>]>) {
      await options.between?.();
      (runs[name] ??= []).push(await run());
    }
  }
  const out = {} as Record<K, Timed & { all: number[] }>;
  for (const [name, list] of Object.entries(runs) as Array<[K, Timed[]]>) {
    const sorted = [...list].sort((a, b) => a.seconds - b.seconds);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const trees = list.flatMap((t) => (t.treeRssMiB === undefined ? [] : [t.treeRssMiB]));
    const cpus = list.flatMap((t) => (t.cpuSeconds === undefined ? [] : [t.cpuSeconds])).sort((a, b) => a - b);
    out[name] = {
      ...median,
      peakRssMiB: Math.max(...list.map((t) => t.peakRssMiB)),
      ...(trees.length ? { treeRssMiB: Math.max(...trees) } : {}),
      ...(cpus.length ? { cpuSeconds: cpus[Math.floor((cpus.length - 1) / 2)]! } : {}),
      all: list.map((t) => Math.round(t.seconds * 100) / 100),
    };
  }
  return out;
}

/** The children's line of bash's `times` (the last line: `0m41.2s 0m3.5s`), as user + system seconds. */
function childCpuSeconds(stderr: string): number | undefined {
  const line = stderr.trim().split('\n').at(-1) ?? '';
  const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(line.trim());
  return m ? Math.round((Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 100) / 100 : undefined;
}
