import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import { toolToArtifact } from '../../src/core/tool-artifact.js';
import { withConnection, type MyTarget } from './mysql-connection.js';
import { defaultsFiles } from './mysql-defaults-file.js';
import { readDefinitions } from './mysql-definitions.js';
import { fingerprintDatabase } from './mysql-fingerprint.js';
import { selectDatabases, serverFacts, type ServerFacts } from './mysql-inspector.js';
import { copyInContainer, physicalPlace } from './mysql-physical-container.js';
import { sameSeries } from './mysql-strategies.js';
import { checkMysqlToolExit, requireTool, toolNames, TOOLS_HINT, type ToolInfo } from './mysql-tools.js';
import { spoolDir } from '../../src/core/spool-dir.js';
import { containerRecord } from '../../src/core/container-record.js';
import { dataMountRecord } from '../volume/volume-data-mount.js';

export const PHYSICAL_ARTIFACT = 'server.xbstream';

/**
 * How often the tool's redo-log thread looks for new log (ms). Commits are
 * blocked (BACKUP STAGE BLOCK_COMMIT) until that thread has copied the log to
 * the end, and at the default 1000 ms it sleeps through most of the block:
 * measured with a writer committing all along (bench/mysql-rollback-hold.sh,
 * MariaDB 10.11 in a container), the longest commit wait was 1031 ms with the
 * default and 44 ms with 20.
 */
export const LOG_COPY_INTERVAL = '--log-copy-interval=20';

/**
 * Strategy `physical`: `mariadb-backup --backup --stream=xbstream` (MySQL:
 * `xtrabackup`), the whole server as one stream straight into the
 * repository; no staging copy (in a container: the image's own tool,
 * mysql-physical-container.ts). Measured on a 341 MB data directory
 * (MariaDB 10.11, 2 cores), into zstd -3: streamed 1.27 s; into a directory
 * then tar 1.9 s, and that needs the space of a second copy. The tool reads the
 * data directory, so it runs on the database host. It is a raw copy plus the
 * redo log written meanwhile: `--prepare` at restore makes it consistent, as
 * of the moment the tool blocked commits near its end (BACKUP STAGE
 * BLOCK_COMMIT).
 */
export async function backupPhysical(ctx: BackupContext, t: MyTarget): Promise<BackupResult> {
  const { facts, databases } = await withConnection(t, undefined, async (c) => ({ facts: await serverFacts(c), databases: await selectDatabases(c, { ...t, database: undefined }, undefined) }));
  if (t.database) ctx.note(`a physical backup holds the whole server, not only ${t.database}`);
  ctx.progress.phase(toolNames('backup', facts.family).split(' or ')[0]!);
  // In a container the image's own tool copies the files where they are (mysql-physical-container.ts).
  const { tool, dataOwner } = t.container ? await copyInContainer(t, facts, ctx.artifacts, { name: PHYSICAL_ARTIFACT, kind: 'physical' }, ctx.signal) : { tool: await copyOnHost(ctx, t, facts), dataOwner: undefined };
  // Taken after the copy: it matches the restored server when nothing wrote meanwhile.
  let fingerprint: Fingerprint | undefined;
  if (ctx.fingerprintScope !== 'none') {
    ctx.progress.phase('fingerprint');
    // Rows and definitions (issue #11: a physical copy is proven like a dump).
    fingerprint = { scope: ctx.fingerprintScope, items: {}, definitions: {} };
    for (const db of databases) {
      await withConnection(t, db.name, async (c) => {
        await fingerprintDatabase(c, db.name, fingerprint!.scope, fingerprint!.items);
        await readDefinitions(c, db.name, { scope: fingerprint!.scope }, fingerprint!.definitions);
      });
    }
    ctx.note('physical: the fingerprint was taken after the copy; it matches the restore only if nothing wrote meanwhile');
  }
  return {
    details: {
      family: facts.family,
      serverVersion: facts.version,
      serverVersionNumber: facts.versionNumber,
      serverIdentity: facts.identity,
      tool: tool.name,
      toolVersion: tool.version,
      databases: databases.map((d) => d.name),
      fingerprintExact: false,
      // Where the tool ran, and how its stream left a container (a named pipe read here, or the exec's stdout).
      place: t.container ? physicalPlace(t, t.container.pin?.by ?? `its image has ${tool.name} ${tool.version}`) : hostPlaceRecord(`${tool.name} ${tool.version} (${tool.path})`),
      ...(t.container?.output ? { output: t.container.output } : {}),
      // uid:gid of the data directory in the container, for a restore into a volume (mysql-physical-volume.ts).
      ...(dataOwner ? { dataOwner } : {}),
      ...(ctx.service.container ? { container: containerRecord(ctx.service.container) } : {}),
      // The mount holding the data directory: what a rollback stops the container for and puts this copy back into.
      ...(t.container ? dataMountRecord(ctx.service.container?.mounts, facts.dataDir) : {}),
    },
    ...(fingerprint ? { fingerprint } : {}),
    inspection: { version: facts.version, objects: databases.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })), details: { family: facts.family } },
  };
}

/** The host's tool, reading the data directory of a server on this host. */
async function copyOnHost(ctx: BackupContext, t: MyTarget, facts: ServerFacts): Promise<ToolInfo> {
  const tool = await requireTool('backup', facts.family, t.service);
  if (!sameSeries(tool.version, facts.versionNumber)) {
    throw new HoldfastError('tool', `${tool.path} is ${tool.version} and the server ${facts.versionNumber}: a physical backup needs the tool of the server's own series`, {
      service: t.service,
      driver: 'mysql',
      hint: TOOLS_HINT[facts.family],
    });
  }
  const files = await defaultsFiles(t);
  const spool = await spoolDir('holdfast-mysql-physical-');
  try {
    await toolToArtifact(ctx.artifacts, { name: PHYSICAL_ARTIFACT, kind: 'physical' }, tool.path, [`--defaults-file=${await files.create('backup')}`, '--backup', '--stream=xbstream', LOG_COPY_INTERVAL, `--target-dir=${spool.path}`], {
      secrets: [t.password],
      checkExit: (exit) => checkMysqlToolExit(tool.name, exit, t.service),
    });
  } finally {
    await files.dispose();
    await spool.remove();
  }
  return tool;
}
