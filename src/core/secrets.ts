import { readFileSync } from 'node:fs';
import { HoldfastError } from './errors.js';
import { envName, type Service } from './service.js';

/**
 * Looks up the password of a service, never from argv. In order:
 *   HOLDFAST_<SERVICE>_PASSWORD, HOLDFAST_<SERVICE>_PASSWORD_FILE
 *   (for a restore target: HOLDFAST_<SERVICE>_TARGET_PASSWORD[_FILE] first),
 *   the config keys `password_env` / `password_file`,
 *   a password written into a holdfast.yml URL.
 * Returns undefined when none is set: the driver may then rely on the engine's
 * own mechanisms (PGPASSWORD, ~/.pgpass, trust authentication, ...).
 */
export function lookupPassword(service: Service, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const prefix of passwordEnvPrefixes(service)) {
    const base = `${prefix}_PASSWORD`;
    if (env[base] !== undefined) return env[base];
    if (env[`${base}_FILE`]) return readSecretFile(env[`${base}_FILE`]!, service.name);
  }
  const fromEnv = optionString(service, 'password_env');
  if (fromEnv) {
    const value = env[fromEnv];
    if (value === undefined) {
      throw new HoldfastError('config', `password_env names ${fromEnv}, which is not set`, {
        service: service.name,
        hint: `export ${fromEnv} before running holdfast, or remove password_env`,
      });
    }
    return value;
  }
  const file = optionString(service, 'password_file');
  if (file) return readSecretFile(file, service.name);
  return service.endpoint?.password;
}

/** `HOLDFAST_<NAME>` unless the service says otherwise (restore targets try their own first). */
export function passwordEnvPrefixes(service: Service): string[] {
  return service.secretEnv ?? [`HOLDFAST_${envName(service.name)}`];
}

function readSecretFile(path: string, service: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new HoldfastError('config', `cannot read the password file ${path}`, {
      service,
      hint: 'check the path and that holdfast may read it',
      cause,
    });
  }
}

function optionString(service: Service, key: string): string | undefined {
  const value = service.options[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Replaces every occurrence of the given secrets in a text, for logs and errors. */
export function redactSecrets(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}
