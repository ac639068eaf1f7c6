import type { CommandUsage } from '../command.js';

export const serveUsage: CommandUsage = {
  command: 'serve',
  describe: "Run holdfast.yml's jobs on their schedules (backup, restore-test, forget, check), with notifications and a Prometheus endpoint",
  builder: (y) =>
    y
      .option('check', { type: 'boolean', default: false, describe: 'check the configuration and the repository, print the next run times of every job, and exit' })
      .option('log-format', { choices: ['text', 'json'] as const, default: 'text', describe: 'log lines as text, or as JSON lines (time, level, msg, job, runId, ...)' })
      .option('metrics-port', { type: 'number', describe: "the metrics endpoint's port (overrides serve.metrics.port; 0: any free port)" })
      .example('$0 serve --check', 'validate jobs: and print when each job runs next')
      .epilogue('Configuration: jobs:, serve: and notify: in holdfast.yml (see the README). SIGTERM/SIGINT: no new runs; the running job may finish within serve.grace (default 10m), then it is interrupted cleanly. Exit status: 0 after a clean stop, 2 for a bad configuration (nothing is started), 1 when an interrupted job did not stop within 60 s of its abort.'),
};
