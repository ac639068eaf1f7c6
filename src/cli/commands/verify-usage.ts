import type { CommandUsage } from '../command.js';

export const verifyUsage: CommandUsage = {
  command: 'verify <snapshot>',
  describe: 'Recompute the checksum of every artifact of a snapshot and decompress it; with --restore-test, also restore each service into a scratch target and compare fingerprints',
  builder: (y) =>
    y
      .positional('snapshot', { type: 'string', describe: 'id, unique prefix, tag or "latest"' })
      .option('restore-test', {
        type: 'boolean',
        default: false,
        describe:
          'restore each service into a scratch target holdfast creates and removes (databases, collections, indices or volumes named holdfast_scratch_*, or a throwaway server; the source is never touched), compare fingerprints with those of the backup, and store the verdict beside the snapshot. The scratch target lives on the server of the backup (or the one --service / holdfast.yml names); its password from HOLDFAST_<NAME>_PASSWORD[_FILE]',
      })
      .option('accept', { type: 'string', array: true, describe: 'a known, declared fingerprint difference that does not fail the comparison: an object path (app.public.t) or one property of it (app.public.t:owner); repeatable (with --restore-test)' })
      .option('jobs', { type: 'number', default: 2, describe: 'parallel jobs of the engine restore tool, where it has them' })
      .example('$0 verify latest --restore-test', 'prove the newest snapshot restores; exit 1 on any mismatch'),
};
