/**
 * Fault suite: the restore's tar check against archives crafted so that a
 * second reader sees something other than what GNU tar extracts. Each is
 * listed by the real GNU tar (which does see the hidden entries) and must be
 * refused by the check, naming the trick.
 */
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { scanArchive } from '../../drivers/volume/volume-tar-scan.js';
import { tarOf } from '../support/tar-build.js';
import { CRAFTED_TARS } from './crafted-tars.js';

const counts = { archives: 0, refused: 0 };
afterAll(() => console.log(`crafted tars: ${counts.refused} of ${counts.archives} refused by the restore check`));

describe('crafted volume archives are refused by the check that runs before tar', () => {
  test.each(CRAFTED_TARS.map((c) => [c.what, c] as const))('%s', async (_what, crafted) => {
    counts.archives++;
    // GNU tar's own reading: what it would extract.
    const listing = execFileSync('tar', ['-tvf', '-'], { input: crafted.archive, encoding: 'utf8' });
    expect(listing.length).toBeGreaterThan(0);
    const scan = await scanArchive(Readable.from([crafted.archive]), false);
    expect(scan.unsafeCount, `GNU tar lists:\n${listing}`).toBeGreaterThan(0);
    expect(scan.unsafe.join('\n')).toMatch(crafted.reason);
    counts.refused++;
  });

  test('a garbage size field and a global pax path are refused as unreadable, not skipped', async () => {
    const archive = tarOf([{ name: 'f', type: 'file', data: 'x' }]);
    archive.write('0000000009x\0', 124, 'latin1'); // not octal
    let sum = 0;
    archive.fill(' ', 148, 156);
    for (let i = 0; i < 512; i++) sum += archive[i]!;
    archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await expect(scanArchive(Readable.from([archive]), false)).rejects.toThrow(/not an octal number/);
    const record = '20 path=../escaped\n';
    const global = tarOf([{ name: 'pax', type: { flag: 'g' }, data: `${record.length} ${record.slice(3)}` }, { name: 'f', type: 'file', data: 'x' }]);
    await expect(scanArchive(Readable.from([global]), false)).rejects.toThrow(/global pax header sets path/);
  });
});
