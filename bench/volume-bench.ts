/**
 * holdfast's volume backup against `tar -I 'zstd -T0 -3'` of the same
 * directory, in one run, and the hold window of each service of a small stack.
 *
 *   npm run build && node dist/bench/volume-bench.js [--small 10000] [--large-mb 256] [--rounds 3] [--baseline OTHER/bin/holdfast.js]
 *
 * --baseline adds another build of holdfast (e.g. the commit before a change,
 * unpacked with git archive and built) as one more interleaved contender, so
 * that a before/after comparison comes from one run under the same load.
 *
 * Data: `--small` files of 1-8 KiB (JSON-ish text with random ids) in 100
 * directories, and three large files (random bytes, log text, half and half).
 * It lives in a Docker volume that a writer container mounts; the raw
 * contender tars the volume's directory on the host, holdfast backs up the
 * writer's service (stop, tar in a helper container with GNU tar, resume;
 * the stream through Node into zstd, fsynced). Interleaved rounds, medians.
 * Then one backup of a stack (PostgreSQL + the writer) reports the hold
 * window per service, for `tar` (stop) and `tar-pause`.
 * Needs root and the test Docker daemon (scripts/install/docker.sh).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, DockerLab, IMAGES } from '../test/support/docker.js';
import { freePort } from '../test/support/free-port.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const OUT = fileURLToPath(new URL('../../bench/out/', import.meta.url));

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const small = Number(arg('small', '10000'));
const largeMb = Number(arg('large-mb', '256'));
const rounds = Number(arg('rounds', '3'));
const baselineBin = arg('baseline', '');
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
const log = (text: string) => process.stderr.write(`[volume-bench] ${text}\n`);

function textChunk(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = `{"at":"2026-11-${String(1 + (size % 28)).padStart(2, '0')}T10:${size % 60}:00Z","id":"${randomBytes(8).toString('hex')}","user":${size % 9973},"event":"${['view', 'click', 'buy', 'login'][size % 4]}","ms":${(size * 7) % 1000}}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

async function fill(dir: string): Promise<number> {
  let total = 0;
  for (let d = 0; d < 100; d++) await mkdir(join(dir, `d${d}`), { recursive: true });
  for (let i = 0; i < small; i++) {
    const body = textChunk(1024 + ((i * 2654435761) % 7168));
    await writeFile(join(dir, `d${i % 100}`, `f${i}.json`), body);
    total += body.length;
  }
  const mb = 1 << 20;
  const parts: Array<[string, () => Buffer]> = [
    ['random.bin', () => randomBytes(mb)],
    ['events.log', () => Buffer.from(textChunk(mb))],
    ['mixed.dat', () => Buffer.concat([randomBytes(mb / 2), Buffer.from(textChunk(mb / 2))])],
  ];
  for (const [name, chunk] of parts) {
    const buffers: Buffer[] = [];
    for (let i = 0; i < largeMb; i++) buffers.push(chunk());
    await writeFile(join(dir, name), Buffer.concat(buffers));
    total += largeMb * mb;
  }
  return total;
}

async function main(): Promise<void> {
  const lab = await new DockerLab().init();
  try {
    const project = `${lab.prefix}bench`;
    const volume = await lab.volume('data');
    const mountpoint = await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', volume]);
    log(`writing ${small} small files and 3 x ${largeMb} MiB into ${volume}`);
    const bytes = await fill(mountpoint);
    const writer = await lab.run('writer', ['--init', '-v', `${volume}:/data`, IMAGES.busybox, 'sleep', '100000'], { project, service: 'writer' });
    const work = await lab.dir('work');
    const repo = join(work, 'repo');
    const env = lab.env();
    const hf = (args: string[]) => timed(process.execPath, [BIN, '--repo', repo, '--quiet', ...args], env);
    const clearSnapshots = () => rm(join(repo, 'snapshots'), { recursive: true, force: true }).then(() => mkdir(join(repo, 'snapshots'), { recursive: true }));
    let lastHold: unknown;
    // The service's own time inside holdfast (plan and process start excluded), per run.
    const serviceMs: number[] = [];
    const holdfastBackup = async (bin = BIN): Promise<Timed> => {
      const t = await timed(process.execPath, [bin, '--repo', repo, '--quiet', 'backup', ...(bin === BIN ? ['--init'] : []), '--service', `data=container:${writer}`, '--json'], env);
      const doc = JSON.parse(t.stdout) as { snapshot: string; services: Array<{ durationMs: number }> };
      const id = doc.snapshot;
      if (bin === BIN) serviceMs.push(doc.services[0]!.durationMs);
      const manifest = JSON.parse(await readFile(join(repo, 'snapshots', id, 'manifest.json'), 'utf8')) as { services: { data: { details: { held: unknown; holdMs: number }; artifacts: Array<{ storedBytes: number }> } } };
      lastHold = { ...(manifest.services.data.details as object), stored: manifest.services.data.artifacts.reduce((n, a) => n + a.storedBytes, 0) };
      await clearSnapshots();
      return t;
    };
    const rawOut = join(work, 'raw.tar.zst');
    const raw = () => timed('tar', ['-I', 'zstd -T0 -3', '-cf', rawOut, '-C', mountpoint, '.']);
    const rawSync = () => timed('bash', ['-c', `tar -I 'zstd -T0 -3' -cf '${rawOut}' -C '${mountpoint}' . && sync '${rawOut}'`]);
    const rawGnuFlags = () => timed('tar', ['-I', 'zstd -T0 -3', '-cf', rawOut, '--format=posix', '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '--sparse', '-C', mountpoint, '.']);

    log('warming the page cache and the helper image');
    await raw();
    await holdfastBackup();
    log(`${rounds} interleaved rounds`);
    const contenders: Record<string, () => Promise<Timed>> = { raw, rawSync, rawGnuFlags, holdfast: () => holdfastBackup() };
    if (baselineBin) {
      contenders.baseline = () => holdfastBackup(baselineBin);
      await holdfastBackup(baselineBin);
    }
    type Result = Timed & { all: number[] };
    // Each contender starts with nothing left to write back: the raw ones leave their archive unflushed,
    // and the kernel would otherwise write it back during the next contender's run (324 MB/s disk here).
    const results = (await interleaved(rounds, contenders, { between: () => timed('sync', []) })) as { raw: Result; rawSync: Result; rawGnuFlags: Result; holdfast: Result; baseline?: Result };
    const rawStored = (await stat(rawOut)).size;

    log('hold windows per service: a stack of PostgreSQL and the writer');
    const port = await freePort();
    await lab.postgres('db', port, { volume: await lab.volume('pgdata'), project, service: 'db' });
    await lab.psql(lab.name('db'), 'CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 200000) g');
    const windows: Record<string, unknown> = {};
    for (const strategy of ['tar', 'tar-pause']) {
      const t = await hf(['backup', '--init', '--project', project, '--strategy', `writer=${strategy}`, '--json']);
      const doc = JSON.parse(t.stdout) as { snapshot: string; services: Array<{ service: string; strategy: string; durationMs: number }> };
      const manifest = JSON.parse(await readFile(join(repo, 'snapshots', doc.snapshot, 'manifest.json'), 'utf8')) as { services: Record<string, { strategy: string; details: { held?: Array<{ container: string; action: string; heldMs: number }>; holdMs?: number } }> };
      windows[strategy] = Object.fromEntries(
        Object.entries(manifest.services).map(([name, s]) => [name, { strategy: s.strategy, holdMs: s.details.holdMs ?? 0, held: s.details.held ?? [], durationMs: doc.services.find((x) => x.service === name)?.durationMs }]),
      );
      await clearSnapshots();
    }

    const secs = (t: Timed) => Math.round(t.seconds * 100) / 100;
    const rate = (t: Timed) => Math.round(MiB(bytes) / t.seconds);
    const summary = {
      date: new Date().toISOString(),
      data: { bytes, MiB: MiB(bytes), smallFiles: small, largeFiles: 3, largeMiB: largeMb },
      seconds: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { median: secs(v), all: v.all, MiBps: rate(v), peakRssMiB: v.peakRssMiB }])),
      throughputRatio: {
        holdfastVsTarZstd: Math.round((results.raw.seconds / results.holdfast.seconds) * 100) / 100,
        holdfastVsTarZstdSync: Math.round((results.rawSync.seconds / results.holdfast.seconds) * 100) / 100,
        holdfastVsTarZstdSameFlags: Math.round((results.rawGnuFlags.seconds / results.holdfast.seconds) * 100) / 100,
        ...(results.baseline ? { baselineVsTarZstd: Math.round((results.raw.seconds / results.baseline.seconds) * 100) / 100, baseline: baselineBin } : {}),
      },
      serviceSeconds: { all: serviceMs.map((ms) => ms / 1000), median: median(serviceMs.slice(1)) / 1000, ratioVsTarZstd: Math.round((results.raw.seconds / (median(serviceMs.slice(1)) / 1000)) * 100) / 100 },
      stored: { rawMiB: MiB(rawStored), lastHoldfast: lastHold },
      holdWindows: windows,
    };
    await mkdir(OUT, { recursive: true });
    const file = join(OUT, `volume-${summary.date.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\nwritten to ${file}\n`);
  } finally {
    await lab.cleanup();
  }
}

await main();
