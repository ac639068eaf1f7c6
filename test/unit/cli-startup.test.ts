import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { COMMANDS } from '../../src/cli/command-list.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Import statements that load a module at run time: not `import type`, not `import { type A }` alone. */
const IMPORT = /^(?:import|export)\s+(?!type\s)([^'";]*?)\s*from\s*'([^']+)'|^import\s+'([^']+)'/gm;

function loadsAtRunTime(clause: string | undefined): boolean {
  const named = clause?.trim().match(/^\{([^}]*)\}$/);
  if (!named) return true;
  return named[1]!.split(',').some((name) => name.trim() !== '' && !name.trim().startsWith('type '));
}

/** What starting from `entry` loads before any dynamic import(): own files (relative to the root) and packages. */
function staticImports(entry: string): { files: string[]; packages: string[] } {
  const files = new Set([resolve(ROOT, entry)]);
  const packages = new Set<string>();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (m[2] ?? m[3])!;
      if (!loadsAtRunTime(m[1])) continue;
      if (spec.startsWith('.')) files.add(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  }
  return { files: [...files].map((f) => relative(ROOT, f)), packages: [...packages] };
}

describe('CLI startup', () => {
  // Every command pays for what main.ts loads before parsing: ~0.1 s for drivers, repositories, yaml and handlers.
  test('main.ts loads no handler, driver, repository, Docker code or client library before a command runs', () => {
    const { files, packages } = staticImports('src/cli/main.ts');
    expect(files.filter((f) => /^(drivers|src\/repository|src\/docker)\//.test(f) || /^src\/cli\/(commands\/(?!.*-usage\.ts$)|context\.ts|docker-context\.ts)/.test(f))).toEqual([]);
    expect(packages).toEqual(['yargs']);
    expect(files).toContain('src/cli/commands/backup-usage.ts');
  });

  test('a command context loads the drivers only when a command asks for them', () => {
    expect(staticImports('src/cli/context.ts').files.filter((f) => f.startsWith('drivers/'))).toEqual([]);
  });

  test('the PostgreSQL driver loads pg only when it connects from this host (a container is reached through its own psql)', () => {
    // Loading pg took ~30 ms of a container backup's fixed cost (a CPU profile of `holdfast backup` of container:NAME).
    expect(staticImports('drivers/postgres/postgres-driver.ts').packages).not.toContain('pg');
  });

  test('every listed command loads the handler that belongs to its usage', async () => {
    for (const { usage, load } of COMMANDS) {
      const command = await load();
      expect(command.command).toBe(usage.command);
      expect(command.describe).toBe(usage.describe);
      expect(command.builder).toBe(usage.builder);
      expect(typeof command.run).toBe('function');
    }
  });
});
