/** The physical strategy (mariadb-backup) for a MySQL / MariaDB server inside its own container: the offer and the copy. */
import type { ArtifactSink, OfferPlace, StrategyOffer } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { runText } from '../../src/place/place.js';
import type { MyTarget } from './mysql-connection.js';
import { stageDump } from './mysql-container-fifo.js';
import { LOG_COPY_INTERVAL } from './mysql-physical-backup.js';
import type { ServerFacts } from './mysql-inspector.js';
import { sameSeries } from './mysql-strategies.js';
import { containerTool } from './mysql-tool-place.js';
import { checkMysqlToolExit, toolNames, type ToolInfo } from './mysql-tools.js';

/**
 * mariadb-backup reads the server's data directory, so in a container it
 * runs there: the image's own tool (it matches the server, and the
 * container's root reads the files of its mysql user) through docker exec,
 * with the container's credentials given by the wrapper of
 * mysql-container.ts (MYSQL_PWD in the tool's environment, never argv). Its
 * xbstream leaves through the named pipe this host reads
 * (mysql-container-fifo.ts), else the exec's stdout, into one artifact.
 * The tool holds commits itself (BACKUP STAGE BLOCK_COMMIT near its end),
 * as on the host, for ~40 ms with LOG_COPY_INTERVAL (mysql-physical-backup.ts). An image without it gets an offer whose unmet
 * requirement names the missing tool and what runs instead.
 *
 * It is the physical copy of `backup --physical` / `--tag pre-upgrade`
 * (before the volume tar, which stops the server): the copy records the
 * mount that holds the data directory, and a rollback prepares it on this
 * host and puts it back there (mysql-physical-volume.ts). An image without
 * the tool keeps the volume tar, and the plan says why.
 */

// The wrapper (mysql-container.ts) runs a plain command in this mode.
const PLAIN = { HOLDFAST_MY_MODE: 'plain' };

export function fallbackHint(names: string): string {
  return `${names} reads the data directory where the server runs, so it must be in the container's image (the official mariadb image has it); without it the dump strategy (the default) runs inside the container instead, or a tar of its volumes with the server stopped (--strategy NAME=tar)`;
}

/** Why the image's backup tool cannot run here, or undefined when it can. */
async function unusable(t: MyTarget, facts: ServerFacts): Promise<{ tool?: ToolInfo; lacks?: string }> {
  const c = t.container!;
  if (c.pin && c.pin.kind !== 'container') return { lacks: `the place is ${c.pin.by}, and only the container reads its data directory` };
  const tool = await containerTool(t, 'backup', facts.family);
  if (!tool) return { lacks: `its image lacks ${toolNames('backup', facts.family)}` };
  if (!sameSeries(tool.version, facts.versionNumber)) return { tool, lacks: `its ${tool.name} is ${tool.version} and the server ${facts.versionNumber}` };
  return { tool };
}

export async function containerPhysicalOffer(t: MyTarget, facts: ServerFacts): Promise<StrategyOffer> {
  const c = t.container!;
  const names = toolNames('backup', facts.family);
  const { tool, lacks } = await unusable(t, facts);
  return {
    name: 'physical',
    consistency: 'transactional',
    summary: `${tool?.name ?? names} --backup --stream=xbstream of the whole server, the server running (prepared at restore)`,
    requirements: [
      {
        what: `${names} of the server's series (${facts.versionNumber}) in the image of container ${c.name}`,
        met: !lacks,
        detail: lacks ? `${lacks}; the dump (the default strategy) runs inside the container instead` : `${tool!.name} ${tool!.version}`,
        hint: fallbackHint(names),
      },
    ],
    place: physicalPlace(t, lacks ?? `its image has ${tool!.name} ${tool!.version}`),
    restoresIntoNewer: false,
    physical: true,
  };
}

/** Where the image's backup tool runs, and why (StrategyOffer.place, details.place). */
export function physicalPlace(t: MyTarget, reason: string): OfferPlace {
  return { kind: 'container', where: `inside container ${t.container!.name}`, reason };
}

/** Runs the image's backup tool in the container and stores its xbstream as one artifact. */
export async function copyInContainer(t: MyTarget, facts: ServerFacts, sink: ArtifactSink, artifact: { name: string; kind: string }, signal?: AbortSignal): Promise<{ tool: ToolInfo; dataOwner?: string }> {
  const c = t.container!;
  const { tool, lacks } = await unusable(t, facts);
  if (lacks || !tool) {
    throw new HoldfastError('tool', `a physical backup of the server inside container ${c.name} cannot run: ${lacks}`, { service: t.service, driver: 'mysql', hint: fallbackHint(toolNames('backup', facts.family)) });
  }
  // With --stream it writes nothing into its --target-dir (seen with 10.11: the directory is not even made); the
  // pipe's private directory is named anyway, so that a version that does write there writes nowhere else, and
  // it is removed with the pipe (the exec that makes the pipe knows its directory: the argument follows on stdin).
  // Without a pipe, nothing is named: no extra exec to make and remove a directory.
  const judge = (exit: ToolExit) => checkMysqlToolExit(tool.name, exit, t.service);
  const argv = [tool.path, '--backup', '--stream=xbstream', LOG_COPY_INTERVAL];
  const staged = await stageDump(c, argv, sink, artifact, judge);
  if (staged) {
    c.output = 'pipe';
    await staged.go([`--target-dir=${staged.dir}`]);
  } else {
    c.output = 'exec';
    await c.place.toArtifact(argv, sink, artifact, { judge, ...(signal ? { signal } : {}) });
  }
  // The data directory's owner (the image's mysql user): a restore into a volume gives the files back to it.
  const owner = await runText(c.place, ['stat', '-c', '%u:%g', facts.dataDir], { env: PLAIN }).catch(() => undefined);
  const dataOwner = owner?.exitCode === 0 && /^\d+:\d+$/.test(owner.stdout.trim()) ? owner.stdout.trim() : undefined;
  return { tool, ...(dataOwner ? { dataOwner } : {}) };
}
