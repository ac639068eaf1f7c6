import { spawn } from 'node:child_process';
import { sampleRss } from './rss-sampler.js';

export interface Timed {
  seconds: number;
  peakRssMiB: number;
  stdout: string;
}

/** Runs a command (argument array, no shell unless the caller runs bash itself) and measures wall time and peak RSS. */
export function timed(command: string, args: string[], env: Record<string, string> = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const rss = sampleRss(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const peak = rss.stop();
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMiB: Math.round(peak / 1024), stdout });
    });
  });
}

/** The faster of `runs` runs (these machines are noisy: the minimum is the least disturbed). */
export async function best(runs: number, run: () => Promise<Timed>): Promise<Timed> {
  let winner: Timed | undefined;
  for (let i = 0; i < runs; i++) {
    const t = await run();
    if (!winner || t.seconds < winner.seconds) winner = { ...t, peakRssMiB: Math.max(t.peakRssMiB, winner?.peakRssMiB ?? 0) };
  }
  return winner!;
}
