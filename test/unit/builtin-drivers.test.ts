import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { builtinDrivers, defaultRegistry } from '../../drivers/index.js';

const DRIVERS = fileURLToPath(new URL('../../drivers/', import.meta.url));

/** Folders under drivers/ that hold a `*-driver.ts`, with that file. */
const driverFolders = readdirSync(DRIVERS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => {
    const files = readdirSync(join(DRIVERS, d.name)).filter((f) => f.endsWith('-driver.ts'));
    return files.map((file) => ({ folder: d.name, file: join(DRIVERS, d.name, file) }));
  });

describe('built-in drivers', () => {
  test('there is at least one driver folder', () => {
    expect(driverFolders.map((d) => d.folder)).toContain('postgres');
  });

  test.each(driverFolders)('$folder: its driver is registered and its engine is the folder name', async ({ folder, file }) => {
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const exported = Object.values(module).filter((v): v is { engine: string } => typeof v === 'object' && v !== null && 'engine' in v && 'backup' in v);
    // Driver objects are not handed to expect(): its formatter would call their inspect() method.
    expect(exported.length, `${file} exports one driver object`).toBe(1);
    const real = exported[0]! as unknown as { engine: string; title: string; schemes: readonly string[]; detect: unknown };
    expect(real.engine).toBe(folder);
    // builtinDrivers holds lazy stand-ins: same engine, title, schemes and detect function as the module's driver.
    const registered = builtinDrivers.find((d) => d.engine === real.engine);
    expect(registered, `the driver of ${file} is in builtinDrivers (drivers/index.ts)`).toBeDefined();
    expect(registered!.title).toBe(real.title);
    expect([...registered!.schemes]).toEqual([...real.schemes]);
    expect(registered!.detect).toBe(real.detect);
  });

  test('every registered driver lives in the folder of its engine', () => {
    const folders = new Set(driverFolders.map((d) => d.folder));
    for (const driver of builtinDrivers) expect(folders.has(driver.engine), `drivers/${driver.engine}/ has a *-driver.ts`).toBe(true);
  });

  test('engines are unique and the default registry holds them all', () => {
    const engines = builtinDrivers.map((d) => d.engine);
    expect(new Set(engines).size).toBe(engines.length);
    expect(defaultRegistry().all().map((d) => d.engine)).toEqual(engines);
  });

  test('each driver answers to its own URL schemes', () => {
    for (const driver of builtinDrivers) {
      expect(driver.schemes.length).toBeGreaterThan(0);
      for (const scheme of driver.schemes) {
        expect(driver.detect({ endpoint: { scheme, host: 'h', path: '', params: {} } })?.engine).toBe(driver.engine);
      }
    }
  });
});
