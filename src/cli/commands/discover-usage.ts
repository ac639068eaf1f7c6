import type { CommandUsage } from '../command.js';

export const discoverUsage: CommandUsage = {
  command: 'discover',
  describe: 'List the services found: engine, endpoint, version, databases',
};
