import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { hostPlace } from '../../src/place/host-place.js';
import { runText, runWithInput } from '../../src/place/place.js';

describe('the host place', () => {
  test('runs a command with its environment and reports its exit code and stderr', async () => {
    const out = await runText(hostPlace, ['sh', '-c', 'printf "%s" "$GREETING"; echo oops >&2; exit 3'], { env: { GREETING: 'hello' } });
    expect(out).toEqual({ stdout: 'hello', exitCode: 3, stderr: 'oops\n' });
  });

  test('feeds stdin and blanks secrets out of stderr', async () => {
    const exit = await runWithInput(hostPlace, ['sh', '-c', 'read line; echo "got $line s3cret" >&2'], Readable.from(['abc\n']), { secrets: ['s3cret'] });
    expect(exit.exitCode).toBe(0);
    expect(exit.stderr).toContain('got abc');
    expect(exit.stderr).not.toContain('s3cret');
  });

  test('reaches an endpoint as it is', async () => {
    const r = await hostPlace.reach('127.0.0.1', 5432);
    expect([r.host, r.port]).toEqual(['127.0.0.1', 5432]);
    await r.close();
  });
});
