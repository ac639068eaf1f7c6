import { describe, expect, test } from 'vitest';
import { parsePax } from '../../drivers/volume/volume-tar-parse.js';

/** One pax record "LEN key=value\n" around raw value bytes, LEN counting itself. */
function record(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

describe('pax extended headers', () => {
  test('a binary value (GNU tar --xattrs stores system.posix_acl_access raw) does not shift the records after it', () => {
    const acl = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x06, 0x00, 0xd2, 0x04, 0x00, 0x00]);
    const header = Buffer.concat([
      record('SCHILY.acl.access', Buffer.from('user::rw-\nuser:1234:rw-\ngroup::r--\nmask::rw-\nother::r--\n')),
      record('SCHILY.xattr.system.posix_acl_access', acl),
      record('path', Buffer.from('shared/report')),
    ]);
    const out = parsePax(header);
    expect(out.path).toBe('shared/report');
    expect(out['SCHILY.acl.access']).toContain('user:1234:rw-');
    expect(Object.keys(out)).toEqual(['SCHILY.acl.access', 'SCHILY.xattr.system.posix_acl_access', 'path']);
  });

  test('a length that runs past the header is refused', () => {
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(/malformed pax header/);
  });
});
