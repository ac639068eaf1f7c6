/**
 * Fault suite: device nodes and symlinks out of a volume pass a restore's
 * tar check only as the backup recorded them (devices only with
 * --allow-devices); anything else of the kind is refused.
 */
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { outsideFromListing, restoreAllowance } from '../../drivers/volume/volume-tar-outside.js';
import { scanArchive } from '../../drivers/volume/volume-tar-scan.js';
import { tarOf } from '../support/tar-build.js';

describe('what a backup recorded passes, and only that', () => {
  const archive = tarOf([
    { name: './tz', type: 'symlink', link: '/etc/localtime' },
    { name: './dev/console', type: 'chardev', major: 5, minor: 1 },
  ]);

  test('GNU tar listing of a real tree: the device node and the outward symlink are recorded', () => {
    const listing = [
      'drwxr-xr-x  0/0          0 2026-12-03 10:00:00.0 ./',
      'lrwxrwxrwx  0/0          0 2026-12-03 10:00:00.0 ./tz -> /etc/localtime',
      'lrwxrwxrwx  0/0          0 2026-12-03 10:00:00.0 ./in -> tz',
      'crw-r--r--  0/0       5,1 2026-12-03 10:00:00.0 ./dev/console',
      '-rw-r--r--  0/0          5 2026-12-03 10:00:00.0 ./with\\ttab',
    ].join('\n');
    // `in` leads out too, through `tz`.
    expect(outsideFromListing(listing)).toEqual({ devices: ['dev/console'], outsideLinks: { tz: '/etc/localtime', in: 'tz' } });
  });

  test('recorded: the symlink passes, the device only with --allow-devices; another target or path is refused', async () => {
    const recorded = { devices: ['dev/console'], outsideLinks: { tz: '/etc/localtime' } };
    const scan = (allow: ReturnType<typeof restoreAllowance>, tar = archive) => scanArchive(Readable.from([tar]), false, allow);
    expect((await scan(restoreAllowance(recorded, true))).unsafe).toEqual([]);
    expect((await scan(restoreAllowance(recorded, false))).unsafe).toEqual(['./dev/console: a device node']);
    expect((await scan(restoreAllowance(undefined, true))).unsafe).toEqual(['./tz: a symlink to the absolute path /etc/localtime', './dev/console: a device node']);
    const other = tarOf([{ name: './tz', type: 'symlink', link: '/etc/shadow' }]);
    expect((await scan(restoreAllowance(recorded, true), other)).unsafe).toEqual(['./tz: a symlink to the absolute path /etc/shadow']);
    // Even a recorded outward symlink is never a way out for the entries after it.
    const through = tarOf([{ name: './tz', type: 'symlink', link: '/etc/localtime' }, { name: './tz/x', type: 'file', data: 'x' }]);
    expect((await scan(restoreAllowance(recorded, true), through)).unsafe).toEqual(['./tz/x: its directory leads outside the target through a symlink']);
  });
});
