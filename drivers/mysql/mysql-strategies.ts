import type { Requirement, StrategyOffer } from '../../src/core/driver.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import type { MyTarget } from './mysql-connection.js';
import type { ServerFacts } from './mysql-inspector.js';
import { containerPhysicalOffer } from './mysql-physical-container.js';
import { placeTool } from './mysql-tool-place.js';
import { checkTool, FAMILY_TITLE, readable, toolNames, TOOLS_HINT } from './mysql-tools.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** `10.11.19` and `10.11.6` share a series; mariadb-backup wants the server's series. */
export function sameSeries(a: string, b: string): boolean {
  return a.split('.').slice(0, 2).join('.') === b.split('.').slice(0, 2).join('.');
}

/** The strategies, strongest first, with their requirements checked against the server and this host. */
export async function mysqlStrategies(t: MyTarget, facts: ServerFacts): Promise<StrategyOffer[]> {
  const title = FAMILY_TITLE[facts.family];
  const dump = await placeTool(t, 'dump', facts.family);
  const dumpOffer: StrategyOffer = {
    name: 'dump',
    consistency: 'transactional',
    summary: `${dump.tool?.name ?? toolNames('dump', facts.family)} --single-transaction per database (routines, events, triggers), accounts and grants, binlog position`,
    requirements: [
      {
        what: `${toolNames('dump', facts.family)} of the ${title} family`,
        met: !dump.problem,
        detail: dump.problem ?? `${dump.tool!.path} is ${FAMILY_TITLE[dump.tool!.family]} ${dump.tool!.version}${dump.tool!.inContainer ? ` in container ${t.container!.name}` : ''}`,
        hint: t.container ? `use an image that ships ${toolNames('dump', facts.family)} (the official mariadb and mysql images do), or install it on this host: ${TOOLS_HINT[facts.family]}` : TOOLS_HINT[facts.family],
      },
    ],
    // Where it runs and why: the plan's one line names it (not the summary too).
    place: dump.place,
    restoresIntoNewer: true,
  };
  // In a container the image's own backup tool reads the data directory where it is (mysql-physical-container.ts).
  if (t.container) return [dumpOffer, await containerPhysicalOffer(t, facts)];
  const backup = await checkTool('backup', facts.family);
  const local = !!t.socket || LOOPBACK.has(t.host);
  const dataDirReadable = local && (await readable(facts.dataDir));
  const physicalTool: Requirement = {
    what: `${toolNames('backup', facts.family)} of the server's series (${facts.versionNumber})`,
    met: !backup.problem && !!backup.tool && sameSeries(backup.tool.version, facts.versionNumber),
    detail: backup.problem ?? (backup.tool ? `${backup.tool.path} is ${backup.tool.version}` : undefined),
    hint: TOOLS_HINT[facts.family],
  };
  return [
    dumpOffer,
    {
      name: 'physical',
      consistency: 'transactional',
      summary: `${toolNames('backup', facts.family)} --backup --stream=xbstream of the whole server (prepared at restore)`,
      requirements: [
        physicalTool,
        {
          what: 'the server runs on this host and its data directory is readable',
          met: dataDirReadable,
          detail: !local ? `${t.host} is not this host` : dataDirReadable ? facts.dataDir : `${facts.dataDir} is not readable by this user`,
          hint: 'run holdfast on the database host as a user who may read the data directory (root or the mysql user)',
        },
      ],
      place: hostPlaceRecord(backup.tool ? `${backup.tool.name} ${backup.tool.version} (${backup.tool.path})` : 'reached by its URL'),
      restoresIntoNewer: false,
      physical: true,
    },
  ];
}
