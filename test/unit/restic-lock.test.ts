import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { describeResticLock, goDurationSeconds, parseResticLock } from '../../src/repository/restic-lock.js';

const said = (host: string, pid: number, ago: string, exclusive = true) =>
  `unable to create lock in backend: repository is already locked ${exclusive ? 'exclusively ' : ''}by PID ${pid} on ${host} by root (UID 0, GID 0)\n` +
  `lock was created at 2026-11-30 13:56:37 (${ago} ago)\nstorage ID 56b4bc6a\nthe \`unlock\` command can be used to remove stale locks\n`;

describe('restic lock messages', () => {
  test('Go durations', () => {
    expect(goDurationSeconds('2.100464295s')).toBeCloseTo(2.1);
    expect(goDurationSeconds('1m2.5s')).toBeCloseTo(62.5);
    expect(goDurationSeconds('3h0m1s')).toBe(10801);
    expect(goDurationSeconds('150ms')).toBeCloseTo(0.15);
  });

  test('a live lock on this host names its command and is not stale', () => {
    const lock = parseResticLock(said(hostname(), process.pid, '2.1s'))!;
    expect(lock).toMatchObject({ exclusive: true, pid: process.pid, stale: false, storageId: '56b4bc6a' });
    expect(lock.command).toContain('node');
    const { message, hint } = describeResticLock(lock, '/srv/restic');
    expect(message).toMatch(/locked exclusively by PID \d+ \(.*node.*\) on .* as root, since 2026-11-30 13:56:37/);
    expect(hint).toMatch(/wait until/);
    expect(hint).not.toMatch(/remove it with/);
  });

  test('a lock whose process is gone from this host is stale; one older than 30 minutes too; another host is not judged by pid', () => {
    expect(parseResticLock(said(hostname(), 2 ** 22 + 17, '5s'))).toMatchObject({ stale: true, staleWhy: 'its process is gone' });
    expect(parseResticLock(said('elsewhere', 1, '31m0s', false))).toMatchObject({ exclusive: false, stale: true });
    const remote = parseResticLock(said('elsewhere', 1, '5m0s'))!;
    expect(remote.stale).toBe(false);
    expect(describeResticLock(remote, '/srv/restic').hint).toMatch(/gone from elsewhere/);
  });

  test('other errors are not locks', () => {
    expect(parseResticLock('Fatal: wrong password or no key found')).toBeUndefined();
  });
});
