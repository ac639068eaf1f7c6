import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { ResticCli } from './restic-cli.js';

/**
 * How holdfast lays its snapshots out in a restic repository: every piece is
 * a restic snapshot of its own, told apart by tags.
 *   artifact:   tags holdfast-artifact, holdfast-id=<id>, holdfast-writer=<pid>-<start>
 *               path /holdfast/<id>/<service>/<artifact>
 *   manifest:   tags holdfast, holdfast-id=<id>; path /holdfast/<id>/manifest.json,
 *               holding { manifest, artifacts: { "<service>/<name>": <restic snapshot> } };
 *               written last: a holdfast snapshot exists once this does
 *   annotation: tags holdfast-annotation, holdfast-id=<id>, holdfast-kind=<kind>
 */
export const TAG = {
  manifest: 'holdfast',
  artifact: 'holdfast-artifact',
  annotation: 'holdfast-annotation',
  id: 'holdfast-id=',
  writer: 'holdfast-writer=',
  kind: 'holdfast-kind=',
} as const;

export interface ResticSnapshot {
  id: string;
  short_id: string;
  time: string;
  hostname: string;
  tags?: string[];
  paths: string[];
}

export interface CatalogEntry {
  snapshot: ResticSnapshot;
  role: 'manifest' | 'artifact' | 'annotation';
  holdfastId: string;
  writer?: string;
  kind?: string;
  path: string;
}

/** Every holdfast piece in the repository, from one `restic snapshots`. */
export async function readCatalog(cli: ResticCli, signal?: AbortSignal): Promise<CatalogEntry[]> {
  const snapshots = await cli.json<ResticSnapshot[] | null>(['snapshots', '--tag', TAG.manifest, '--tag', TAG.artifact, '--tag', TAG.annotation], 'list the snapshots', signal);
  const out: CatalogEntry[] = [];
  for (const snapshot of snapshots ?? []) {
    const tags = snapshot.tags ?? [];
    const value = (prefix: string) => tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);
    const holdfastId = value(TAG.id);
    const role = tags.includes(TAG.manifest) ? 'manifest' : tags.includes(TAG.artifact) ? 'artifact' : tags.includes(TAG.annotation) ? 'annotation' : undefined;
    if (!holdfastId || !role || !snapshot.paths[0]) continue;
    const writer = value(TAG.writer);
    const kind = value(TAG.kind);
    out.push({ snapshot, role, holdfastId, path: snapshot.paths[0], ...(writer ? { writer } : {}), ...(kind ? { kind } : {}) });
  }
  return out.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time));
}

/** `restic dump` of one file as a stream that errors (with restic's reason) unless restic exits 0. */
export function dumpStream(cli: ResticCli, snapshot: string, path: string, signal?: AbortSignal): Readable {
  const run = cli.spawn(['dump', snapshot, path], { signal });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  run.stdout!.pipe(out, { end: false });
  const ended = new Promise((resolve) => run.stdout!.once('end', resolve));
  Promise.all([run.done, ended])
    .then(([exit]) => (exit.code === 0 ? out.end() : out.destroy(cli.failure(`read ${path}`, exit))))
    .catch((error: Error) => out.destroy(error));
  out.once('close', () => {
    if (run.child.exitCode === null) run.child.kill('SIGTERM');
  });
  return out;
}

/**
 * Small JSON files (manifests, annotations) by restic snapshot id. A restic
 * snapshot id is the sha256 of the snapshot, which names its tree by hash in
 * turn: one id never stands for other content, in any repository. So what
 * was read once is kept in a local cache and `snapshots` costs one restic call.
 */
export class SmallFileCache {
  private readonly dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'holdfast', 'restic-snapshots');


  async read(cli: ResticCli, entry: CatalogEntry): Promise<string> {
    const file = join(this.dir, `${entry.snapshot.id.replace(/[^0-9a-f]/g, '')}.json`);
    const cached = await readFile(file, 'utf8').catch(() => undefined);
    if (cached !== undefined) return cached;
    const chunks: Buffer[] = [];
    for await (const chunk of dumpStream(cli, entry.snapshot.id, entry.path)) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, file);
    } catch {
      // A cache that cannot be written only costs time.
    }
    return text;
  }
}

/** This process as a writer: `<pid>-<start time>` (the pid alone may be reused). */
export function writerTag(): string {
  return `${process.pid}-${processStart(process.pid) ?? 0}`;
}

/** Whether the writer that tagged a snapshot may still be running. */
export function writerMayRun(entry: CatalogEntry): boolean {
  if (entry.snapshot.hostname !== hostname()) return true; // cannot tell from here
  const [pid, start] = (entry.writer ?? '').split('-').map(Number);
  if (!pid) return false;
  const now = processStart(pid);
  if (now === undefined) return false;
  return !start || now === start;
}

function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the parenthesised command name.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}
