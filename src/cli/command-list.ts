import type { CommandUsage, HoldfastCommand } from './command.js';
import { backupUsage } from './commands/backup-usage.js';
import { checkUsage } from './commands/check-usage.js';
import { discoverUsage } from './commands/discover-usage.js';
import { exportUsage } from './commands/export-usage.js';
import { forgetUsage } from './commands/forget-usage.js';
import { imageUsage } from './commands/image-usage.js';
import { importUsage } from './commands/import-usage.js';
import { initUsage } from './commands/init-usage.js';
import { planUsage } from './commands/plan-usage.js';
import { restoreUsage } from './commands/restore-usage.js';
import { rollbackUsage } from './commands/rollback-usage.js';
import { showUsage } from './commands/show-usage.js';
import { snapshotsUsage } from './commands/snapshots-usage.js';
import { statusUsage } from './commands/status-usage.js';
import { serveUsage } from './commands/serve-usage.js';
import { verifyUsage } from './commands/verify-usage.js';

/** A command as the CLI lists it: its usage now, its handler (and all it imports) only when it runs. */
export interface ListedCommand {
  usage: CommandUsage;
  load(): Promise<HoldfastCommand>;
}

/** Every command, in the order of `holdfast --help`. */
export const COMMANDS: readonly ListedCommand[] = [
  { usage: initUsage, load: async () => (await import('./commands/init.js')).initCommand },
  { usage: discoverUsage, load: async () => (await import('./commands/discover.js')).discoverCommand },
  { usage: planUsage, load: async () => (await import('./commands/plan.js')).planCommand },
  { usage: backupUsage, load: async () => (await import('./commands/backup.js')).backupCommand },
  { usage: snapshotsUsage, load: async () => (await import('./commands/snapshots.js')).snapshotsCommand },
  { usage: showUsage, load: async () => (await import('./commands/show.js')).showCommand },
  { usage: restoreUsage, load: async () => (await import('./commands/restore.js')).restoreCommand },
  { usage: rollbackUsage, load: async () => (await import('./commands/rollback.js')).rollbackCommand },
  { usage: verifyUsage, load: async () => (await import('./commands/verify.js')).verifyCommand },
  { usage: checkUsage, load: async () => (await import('./commands/check.js')).checkCommand },
  { usage: exportUsage, load: async () => (await import('./commands/export.js')).exportCommand },
  { usage: importUsage, load: async () => (await import('./commands/import.js')).importCommand },
  { usage: forgetUsage, load: async () => (await import('./commands/forget.js')).forgetCommand },
  { usage: statusUsage, load: async () => (await import('./commands/status.js')).statusCommand },
  { usage: serveUsage, load: async () => (await import('./commands/serve.js')).serveCommand },
  { usage: imageUsage, load: async () => (await import('./commands/image.js')).imageCommand },
];
