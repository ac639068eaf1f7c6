import { renameOption, type RestoreContext } from './driver.js';
import { HoldfastError } from './errors.js';
import type { ArtifactRecord } from '../repository/manifest.js';

/** One dumped database of a snapshot, mapped to the artifact that holds it and the name it gets on the target. */
export interface MappedDatabase<D extends { name: string; artifact: string }> {
  db: D;
  record: ArtifactRecord;
  to: string;
}

/**
 * Which of a snapshot's dumped databases a restore loads, and under which
 * names: `--database NAME` picks one; a rename pattern renames; a target URL
 * that names one database takes one database; otherwise each keeps its name.
 * The same rule for every engine that dumps per database.
 */
export function mapDatabases<D extends { name: string; artifact: string }>(ctx: RestoreContext, target: { service: string; database?: string | undefined; driver: string }, recorded: D[]): Array<MappedDatabase<D>> {
  const only = ctx.options.database === undefined ? undefined : String(ctx.options.database);
  let chosen = recorded;
  if (only !== undefined) {
    chosen = recorded.filter((d) => d.name === only);
    if (chosen.length === 0) {
      throw new HoldfastError('not-found', `the snapshot has no database ${JSON.stringify(only)}`, {
        service: target.service,
        driver: target.driver,
        hint: `it has: ${recorded.map((d) => d.name).join(', ')}`,
      });
    }
  }
  const rename = renameOption(ctx.options);
  if (!rename && !ctx.inPlace && target.database && chosen.length > 1) {
    throw new HoldfastError('usage', `the target names one database (${target.database}) but the snapshot holds ${chosen.length}: ${chosen.map((d) => d.name).join(', ')}`, {
      service: target.service,
      driver: target.driver,
      hint: 'pick one with --database NAME, or drop the database from the target URL to restore each under its own name',
    });
  }
  return chosen.map((db) => {
    const record = ctx.artifacts.records.find((r) => r.name === db.artifact);
    if (!record) throw new HoldfastError('integrity', `the snapshot lacks the artifact ${db.artifact} of database ${db.name}`, { service: target.service, driver: target.driver });
    return { db, record, to: rename?.[db.name] ?? (!ctx.inPlace && target.database ? target.database : db.name) };
  });
}
