import type { StrategyOffer } from '../../src/core/driver.js';
import type { ServerFacts } from './postgres-inspector.js';
import { PG_TOOLS_HINT, toolVersion } from './postgres-tools.js';

async function toolRequirement(name: string, facts: ServerFacts) {
  const found = await toolVersion(name);
  return {
    what: `${name} of major ${facts.major} or newer`,
    met: !!found && found.major >= facts.major,
    detail: found ? `${found.path} is ${found.version}` : 'not installed',
    hint: PG_TOOLS_HINT,
  };
}

/** The strategies, strongest first, with their requirements checked against the server. */
export async function postgresStrategies(facts: ServerFacts, tablespaces: readonly string[] = []): Promise<StrategyOffer[]> {
  // A restore onto another server needs these (or --tablespace-map / --no-tablespaces): the plan says so up front.
  const uses = tablespaces.length ? `; tablespaces ${tablespaces.join(', ')} (a restore elsewhere needs them, --tablespace-map or --no-tablespaces)` : '';
  const [pgDump, pgDumpAll, pgBasebackup] = await Promise.all(['pg_dump', 'pg_dumpall', 'pg_basebackup'].map((n) => toolRequirement(n, facts)));
  return [
    {
      name: 'pg_dump',
      consistency: 'transactional',
      summary: `pg_dump per database from an exported snapshot, plus pg_dumpall --globals-only${uses}`,
      requirements: [pgDump!, pgDumpAll!],
      restoresIntoNewer: true,
    },
    {
      name: 'pg_basebackup',
      consistency: 'transactional',
      summary: 'physical copy of the cluster with its WAL (pg_basebackup -Ft -X fetch)',
      requirements: [
        pgBasebackup!,
        {
          what: 'a role with REPLICATION',
          met: facts.canReplicate,
          detail: facts.canReplicate ? 'granted' : 'the user lacks REPLICATION',
          hint: 'ALTER ROLE <user> REPLICATION, and a "replication" line in pg_hba.conf',
        },
        {
          what: 'max_wal_senders > 0',
          met: facts.maxWalSenders > 0,
          detail: `max_wal_senders = ${facts.maxWalSenders}`,
          hint: 'set max_wal_senders (10 is the default) and restart the server',
        },
      ],
      restoresIntoNewer: false,
      physical: true,
    },
  ];
}
