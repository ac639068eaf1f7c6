import { describe, expect, test } from 'vitest';
import { EXIT, exitCodeFor, HoldfastError, toHoldfastError, type ErrorCode } from '../../src/core/errors.js';

const sysError = (code: string, message = `${code}: something`) => Object.assign(new Error(message), { code });

describe('exitCodeFor', () => {
  test.each<[ErrorCode, number]>([
    ['usage', 2],
    ['config', 2],
    ['connect', 1],
    ['auth', 1],
    ['not-found', 1],
    ['tool', 1],
    ['repository', 1],
    ['integrity', 1],
    ['target', 1],
    ['no-space', 1],
    ['timeout', 1],
    ['interrupted', 1],
    ['internal', 1],
  ])('%s -> %i', (code, exit) => {
    expect(exitCodeFor(new HoldfastError(code, 'x'))).toBe(exit);
  });

  test('anything that is not a HoldfastError -> 1', () => {
    expect(exitCodeFor(new Error('x'))).toBe(EXIT.failed);
    expect(exitCodeFor('a string')).toBe(EXIT.failed);
    expect(exitCodeFor(undefined)).toBe(EXIT.failed);
  });

  test('the exit statuses of the design', () => {
    expect(EXIT).toEqual({ ok: 0, failed: 1, usage: 2, partial: 3, stale: 4 });
  });
});

describe('toHoldfastError', () => {
  test.each([
    ['ENOSPC', 'no-space'],
    ['EDQUOT', 'no-space'],
    ['ECONNREFUSED', 'connect'],
    ['EHOSTUNREACH', 'connect'],
    ['ENOTFOUND', 'connect'],
    ['ETIMEDOUT', 'connect'],
    ['EACCES', 'repository'],
    ['EROFS', 'repository'],
    ['EBADF', 'internal'],
  ])('%s -> %s', (sys, code) => {
    const cause = sysError(sys);
    const e = toHoldfastError(cause, { service: 'db' });
    expect(e).toBeInstanceOf(HoldfastError);
    expect(e.code).toBe(code);
    expect(e.message).toContain(`${sys}: something`);
    expect(e.service).toBe('db');
    expect(e.cause).toBe(cause);
  });

  test('no-space and connect errors carry a hint', () => {
    expect(toHoldfastError(sysError('ENOSPC')).hint).toMatch(/free space/);
    expect(toHoldfastError(sysError('ECONNREFUSED')).hint).toMatch(/host and port/);
  });

  test('a HoldfastError passes through, gaining a service and driver it lacked', () => {
    const original = new HoldfastError('auth', 'password authentication failed', { hint: 'check the password' });
    expect(toHoldfastError(original)).toBe(original);
    const named = toHoldfastError(original, { service: 'db', driver: 'postgres' });
    expect(named).toMatchObject({ code: 'auth', message: 'password authentication failed', service: 'db', driver: 'postgres', hint: 'check the password' });
    expect(named.describe()).toBe('[db] [postgres] password authentication failed');
  });

  test('a service the error already names is kept', () => {
    const original = new HoldfastError('tool', 'x', { service: 'first', driver: 'postgres' });
    expect(toHoldfastError(original, { service: 'second', driver: 'mysql' })).toBe(original);
  });

  test('non-errors become internal errors with their text', () => {
    expect(toHoldfastError('plain text')).toMatchObject({ code: 'internal', message: 'plain text' });
  });
});

describe('HoldfastError', () => {
  test('toJSON has code, message, service, driver and hint, and no cause', () => {
    const e = new HoldfastError('connect', 'cannot reach', { service: 'db', hint: 'start it', cause: new Error('secret inside') });
    expect(e.toJSON()).toEqual({ code: 'connect', message: 'cannot reach', service: 'db', hint: 'start it' });
    expect(JSON.stringify(e)).not.toContain('secret inside');
  });

  test('describe() without a service is the message', () => {
    expect(new HoldfastError('usage', 'bad flag').describe()).toBe('bad flag');
  });
});
