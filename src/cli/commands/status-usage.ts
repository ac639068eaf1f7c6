import type { CommandUsage } from '../command.js';

export const statusUsage: CommandUsage = {
  command: 'status',
  describe: "Each service's last good snapshot and its age, and its last restore test (exit 4 when one is missing or older than --max-age)",
  builder: (y) =>
    y
      .option('max-age', { type: 'string', describe: 'a good snapshot older than this (e.g. 26h, 90m, 7d) makes the exit status 4' })
      .option('max-restore-test-age', { type: 'string', describe: 'also exit 4 when the last restore test of a service is missing, not ok, or older than this' })
      .example('$0 status --max-age 26h', 'for cron or a monitor: exit 0 when every service has a good snapshot of the last 26 hours, 4 otherwise')
      .epilogue('Services: those of holdfast.yml, --service and Docker discovery; with none configured, every service the repository holds. Exit status: 0 fresh, 4 stale or missing, 1 or 2 when the repository or configuration cannot be read.'),
};
