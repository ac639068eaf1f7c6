import type { CommandUsage } from '../command.js';

export const restoreUsage: CommandUsage = {
  command: 'restore <snapshot> [services..]',
  describe: 'Restore services of a snapshot, in place or elsewhere (--target), then compare fingerprints',
  builder: (y) =>
    y
      .positional('snapshot', { type: 'string', describe: 'id, unique prefix, tag or "latest"' })
      .positional('services', { type: 'string', array: true, describe: 'services to restore (default: all)' })
      .option('target', { type: 'string', array: true, describe: 'where a service goes: NAME=URL (e.g. db=postgres://127.0.0.1:5432/copy) or NAME=/empty/dir; its password from HOLDFAST_<NAME>_TARGET_PASSWORD[_FILE], else HOLDFAST_<NAME>_PASSWORD' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a non-empty target; restore into bind-mount paths and with a helper image that only the snapshot names' })
      .option('allow-devices', { type: 'boolean', default: false, describe: 'recreate the device nodes a volume backup recorded (refused without it)' })
      .option('terminate', { type: 'boolean', default: true, describe: 'end the sessions connected to a database that the restore replaces, and name them (--no-terminate: wait for them to leave instead, up to --sessions-timeout, then fail naming them)' })
      .option('sessions-timeout', { type: 'number', default: 60, describe: 'with --no-terminate: how many seconds to wait for the sessions to leave' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'change nothing: check what the restore needs from the account it connects as (create databases, own the target, superuser for roles), each need with its fix' })
      .option('recreate', {
        type: 'boolean',
        default: false,
        describe: "on another Docker host: start a service's missing container from its recorded image on fresh volumes (values of its environment variables from holdfast's environment), then restore into it",
      })
      .option('database', { type: 'string', describe: 'restore only this database of the snapshot' })
      .option('jobs', { type: 'number', default: 2, describe: 'parallel jobs of the engine restore tool, where it has them' })
      .option('globals', { type: 'boolean', default: true, describe: 'restore roles and tablespaces (--no-globals to skip)' })
      .option('owner', { type: 'boolean', default: true, describe: 'PostgreSQL: give objects and databases their recorded owners (--no-owner: the restoring user owns them)' })
      .option('acl', { type: 'boolean', default: true, describe: 'PostgreSQL: restore grants and database ACLs (--no-acl: default privileges)' })
      .option('tablespaces', { type: 'boolean', default: true, describe: 'PostgreSQL: put tables and indexes in their recorded tablespaces (--no-tablespaces: the default one)' })
      .option('tablespace-map', { type: 'string', array: true, describe: 'PostgreSQL: OLD=NEW, restore what was in tablespace OLD into NEW on the target; repeatable' })
      .option('rename-pattern', { type: 'string', describe: 'restore indices (OpenSearch) or collections (Qdrant) under new names: a regular expression over each name, e.g. "(.+)"' })
      .option('rename-replacement', { type: 'string', describe: 'what --rename-pattern matches becomes, with $1 for its groups, e.g. "restored_$1"' })
      .option('accept', { type: 'string', array: true, describe: 'a known, declared fingerprint difference that does not fail the comparison: an object path (app.public.t) or one property of it (app.public.t:owner); repeatable' })
      .option('option', { type: 'string', array: true, describe: 'an engine restore option KEY=VALUE, repeatable (the same keys as target URL parameters, e.g. rename_pattern=...)' })
      .example('$0 restore latest search --rename-pattern "(.+)" --rename-replacement "restored_$1"', 'restore OpenSearch indices / Qdrant collections next to the originals')
      .example('$0 restore latest search --target search=opensearch://127.0.0.1:9201 --option rename_pattern=^logs-', 'engine options as KEY=VALUE'),
};
