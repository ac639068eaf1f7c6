import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { lookupPassword, passwordEnvPrefixes, redactSecrets } from '../../src/core/secrets.js';
import { parseEndpoint, type Service } from '../../src/core/service.js';
import { cleanupTemp, tempDir } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

function svc(extra: Partial<Service> = {}): Service {
  return { name: 'my-db', endpoint: parseEndpoint('postgres://app:FromUrl@h/app', true), options: {}, origin: 'config', ...extra };
}

async function secretFile(content: string): Promise<string> {
  const path = join(await tempDir(), 'secret');
  await writeFile(path, content);
  return path;
}

describe('lookupPassword', () => {
  test('HOLDFAST_<NAME>_PASSWORD comes first', async () => {
    const env = {
      HOLDFAST_MY_DB_PASSWORD: 'FromEnv',
      HOLDFAST_MY_DB_PASSWORD_FILE: await secretFile('FromEnvFile\n'),
      OTHER: 'FromOption',
    };
    const service = svc({ options: { password_env: 'OTHER', password_file: await secretFile('FromOptionFile') } });
    expect(lookupPassword(service, env)).toBe('FromEnv');
  });

  test('then HOLDFAST_<NAME>_PASSWORD_FILE, without its trailing newline', async () => {
    const env = { HOLDFAST_MY_DB_PASSWORD_FILE: await secretFile('FromEnvFile\n'), OTHER: 'FromOption' };
    expect(lookupPassword(svc({ options: { password_env: 'OTHER' } }), env)).toBe('FromEnvFile');
  });

  test('secretEnv prefixes are tried in order (a restore target before its source)', () => {
    const target = svc({ secretEnv: ['HOLDFAST_MY_DB_TARGET', 'HOLDFAST_MY_DB'] });
    expect(passwordEnvPrefixes(target)).toEqual(['HOLDFAST_MY_DB_TARGET', 'HOLDFAST_MY_DB']);
    expect(lookupPassword(target, { HOLDFAST_MY_DB_TARGET_PASSWORD: 'Target', HOLDFAST_MY_DB_PASSWORD: 'Source' })).toBe('Target');
    expect(lookupPassword(target, { HOLDFAST_MY_DB_PASSWORD: 'Source' })).toBe('Source');
  });

  test('then the password_env option', () => {
    expect(lookupPassword(svc({ options: { password_env: 'PGPASS_FOR_APP' } }), { PGPASS_FOR_APP: 'FromOption' })).toBe('FromOption');
  });

  test('then the password_file option', async () => {
    expect(lookupPassword(svc({ options: { password_file: await secretFile('FromOptionFile\r\n') } }), {})).toBe('FromOptionFile');
  });

  test('password_env comes before password_file, as documented', async () => {
    const service = svc({ options: { password_env: 'APP_PW', password_file: await secretFile('FromOptionFile') } });
    expect(lookupPassword(service, { APP_PW: 'FromOptionEnv' })).toBe('FromOptionEnv');
  });

  test('then a password written in the holdfast.yml URL', () => {
    expect(lookupPassword(svc(), {})).toBe('FromUrl');
  });

  test('nothing set: undefined', () => {
    expect(lookupPassword(svc({ endpoint: parseEndpoint('postgres://app@h/app', false) }), {})).toBeUndefined();
  });

  test('password_env naming an unset variable: a config error naming it and the service', () => {
    expect(() => lookupPassword(svc({ options: { password_env: 'NOT_SET_ANYWHERE' } }), {})).toThrow(
      expect.objectContaining({ code: 'config', service: 'my-db', message: expect.stringContaining('NOT_SET_ANYWHERE') }),
    );
  });

  test('a password file that cannot be read: a config error naming the path', async () => {
    const missing = join(await tempDir(), 'nope');
    expect(() => lookupPassword(svc(), { HOLDFAST_MY_DB_PASSWORD_FILE: missing })).toThrow(
      expect.objectContaining({ code: 'config', service: 'my-db', message: expect.stringContaining(missing) }),
    );
  });
});

describe('redactSecrets', () => {
  test('blanks every occurrence of each secret; ignores empty and very short ones', () => {
    expect(redactSecrets('auth failed for pw hunter2 (hunter2)', ['hunter2', undefined, '', 'pw'])).toBe('auth failed for pw *** (***)');
  });
});
