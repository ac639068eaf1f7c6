import { describe, expect, test } from 'vitest';
import { HoldfastError } from '../../src/core/errors.js';
import { assertServiceName, envName, formatEndpoint, parseEndpoint, redactUrl, splitAssignment } from '../../src/core/service.js';

function thrown(fn: () => unknown): HoldfastError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HoldfastError);
    return error as HoldfastError;
  }
  throw new Error('expected a HoldfastError, nothing was thrown');
}

describe('parseEndpoint', () => {
  test('postgres://user@host:5432/db', () => {
    expect(parseEndpoint('postgres://user@host:5432/db', false)).toEqual({ scheme: 'postgres', host: 'host', port: 5432, user: 'user', path: 'db', params: {} });
  });

  test('no port, no user, query parameters', () => {
    expect(parseEndpoint('mysql://10.0.0.5/shop?ssl-mode=REQUIRED&x=1', false)).toEqual({
      scheme: 'mysql',
      host: '10.0.0.5',
      path: 'shop',
      params: { 'ssl-mode': 'REQUIRED', x: '1' },
    });
  });

  test('an IPv6 host in brackets: the host is kept without brackets, and formats back', () => {
    const e = parseEndpoint('postgres://app@[::1]:5433/app', false);
    expect(e).toMatchObject({ host: '::1', port: 5433, user: 'app', path: 'app' });
    expect(formatEndpoint(e)).toBe('postgres://app@[::1]:5433/app');
  });

  test('percent-encoded user and database names are decoded', () => {
    expect(parseEndpoint('postgres://my%20user@h/my%2Fdb', false)).toMatchObject({ user: 'my user', path: 'my/db' });
  });

  test('volume:name and container:name', () => {
    expect(parseEndpoint('volume:app_uploads', false)).toEqual({ scheme: 'volume', host: '', path: 'app_uploads', params: {} });
    expect(parseEndpoint('container:pg-main', false)).toEqual({ scheme: 'container', host: '', path: 'pg-main', params: {} });
    expect(formatEndpoint(parseEndpoint('volume:app_uploads', false))).toBe('volume:app_uploads');
  });

  test('a password in a URL from the command line: a config error that does not repeat the password', () => {
    const e = thrown(() => parseEndpoint('postgres://app:Sup3rSecretPw@127.0.0.1:5432/app', false, 'db'));
    expect(e.code).toBe('config');
    expect(e.service).toBe('db');
    expect(e.message).not.toContain('Sup3rSecretPw');
    expect(e.hint).not.toContain('Sup3rSecretPw');
    expect(e.hint).toContain('HOLDFAST_DB_PASSWORD');
  });

  test('a password in a URL from holdfast.yml is kept apart and never formatted', () => {
    const e = parseEndpoint('postgres://app:Sup3rSecretPw@127.0.0.1:5432/app', true);
    expect(e.password).toBe('Sup3rSecretPw');
    expect(formatEndpoint(e)).toBe('postgres://app@127.0.0.1:5432/app');
    expect(formatEndpoint(e, false)).toBe('postgres://127.0.0.1:5432/app');
  });

  test('an unparseable URL: a config error with the password redacted', () => {
    const e = thrown(() => parseEndpoint('postgres://app:Sup3rSecretPw@bad host/app', true, 'db'));
    expect(e.code).toBe('config');
    expect(e.message).toContain('***');
    expect(e.message).not.toContain('Sup3rSecretPw');
    expect(thrown(() => parseEndpoint('just some words', false)).code).toBe('config');
  });
});

describe('assertServiceName', () => {
  const bad = ['db;rm -rf /', '$(x)', '`x`', '../x', 'a/b', 'a b', '', 'a'.repeat(64), '.hidden', '-flag', 'a..b', 'db\n', 'zoë'];
  test.each(bad)('rejects %j', (name) => {
    expect(thrown(() => assertServiceName(name)).code).toBe('config');
  });

  const good = ['db', 'app_db-1.x', 'A1', 'a'.repeat(63), '1st'];
  test.each(good)('accepts %j', (name) => {
    expect(() => assertServiceName(name)).not.toThrow();
  });
});

describe('redactUrl', () => {
  test('replaces the password of every URL in a text', () => {
    expect(redactUrl('from postgres://app:pw1@h:5432/a to mysql://root:pw2@m/b')).toBe('from postgres://app:***@h:5432/a to mysql://root:***@m/b');
  });

  test('leaves URLs without a password alone', () => {
    expect(redactUrl('postgres://app@h:5432/a and http://h:9200/x')).toBe('postgres://app@h:5432/a and http://h:9200/x');
  });

  test('an empty user with a password', () => {
    expect(redactUrl('redis://:Secret123@h:6379')).not.toContain('Secret123');
  });

  test('a password that itself contains "@" is redacted whole', () => {
    // new URL() takes the last "@" as the end of the user info, so such URLs work in holdfast.yml.
    expect(new URL('postgres://app:Sup3r@Secret@db.local:5432/app').password).toBe('Sup3r%40Secret');
    const redacted = redactUrl('postgres://app:Sup3r@Secret@db.local:5432/app');
    expect(redacted).not.toContain('Sup3r');
    expect(redacted).not.toContain('Secret');
  });
});

describe('splitAssignment', () => {
  test('NAME=URL, split at the first "="', () => {
    expect(splitAssignment('db=postgres://app@h/app?sslmode=require', '--service')).toEqual(['db', 'postgres://app@h/app?sslmode=require']);
  });

  test.each(['postgres://app@h/app', '=postgres://h/app', 'db=', ''])('%j: a usage error with an example', (raw) => {
    const e = thrown(() => splitAssignment(raw, '--service'));
    expect(e.code).toBe('usage');
    expect(e.message).toContain('--service expects NAME=URL');
    expect(e.hint).toContain('--service db=');
  });

  test('the error does not repeat a password', () => {
    const e = thrown(() => splitAssignment('postgres://app:TopSecret9@h/app', '--target'));
    expect(e.message).not.toContain('TopSecret9');
    expect(e.message).toContain('--target');
  });
});

describe('envName', () => {
  test('upper case, anything else becomes "_"', () => {
    expect(envName('my-db.1')).toBe('MY_DB_1');
  });
});
