import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { HoldfastError } from '../core/errors.js';
import { SEGMENT_FORMAT, SEGMENT_SIZE } from './segment-cipher.js';

/**
 * The key of an encrypted repository: a random 256-bit master key, stored in
 * config.json only wrapped (AES-256-GCM) by a key derived from a passphrase
 * (scrypt) or from a key file (HKDF). Unwrapping authenticates, so a wrong
 * passphrase is known at open, before anything else happens.
 *
 * scrypt N=2^17, r=8, p=1: 128 MiB of memory and ~0.3-0.6 s per open on a
 * current x86 core (OWASP's minimum for scrypt; age uses 2^18). The
 * parameters are stored per slot, so they can be raised later.
 */
export const SCRYPT_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const;

export interface EncryptionConfig {
  /** The file format of artifacts, manifests and annotations. */
  format: typeof SEGMENT_FORMAT;
  segmentSize: number;
  /** Each slot wraps the same master key; any one opens the repository. */
  slots: KeySlot[];
}

export type KeySlot =
  | { type: 'passphrase'; kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }; wrapped: string }
  | { type: 'key-file'; kdf: { name: 'hkdf-sha256'; salt: string }; wrapped: string };

/** Where the secrets of a repository come from (the CLI: environment, key file, terminal prompt). */
export interface RepositorySecrets {
  /** A passphrase, or undefined when none was given; `confirm` asks twice on a terminal. */
  passphrase(options: { confirm: boolean }): Promise<string | undefined>;
  /** A key file path, when one was given. */
  keyFile?: string;
  /** Whether a passphrase was set (environment), known without asking. */
  readonly passphraseSet: boolean;
  /** How a user supplies them, for hints. */
  howToSet: string;
}

export const NO_SECRETS: RepositorySecrets = { passphrase: async () => undefined, passphraseSet: false, howToSet: 'set HOLDFAST_PASSWORD' };

const MIN_PASSPHRASE = 8;
const KEY_FILE_MIN = 32;

/** Creates a master key and wraps it with every secret given (a key file, a passphrase, or both). */
export async function createEncryption(repoId: string, location: string, secrets: RepositorySecrets): Promise<{ config: EncryptionConfig; masterKey: Buffer }> {
  const masterKey = randomBytes(32);
  const slots: KeySlot[] = [];
  if (secrets.keyFile) {
    const salt = randomBytes(32);
    const material = await readKeyFile(secrets.keyFile, true);
    slots.push({ type: 'key-file', kdf: { name: 'hkdf-sha256', salt: salt.toString('base64') }, wrapped: wrap(keyFileKek(material, salt), masterKey, repoId, 'key-file') });
  }
  if (!secrets.keyFile || secrets.passphraseSet) {
    const passphrase = await secrets.passphrase({ confirm: true });
    if (passphrase !== undefined) {
      if (passphrase.length < MIN_PASSPHRASE) {
        throw new HoldfastError('usage', `the passphrase is shorter than ${MIN_PASSPHRASE} characters`, { hint: 'choose a longer one (a few random words)' });
      }
      const salt = randomBytes(32);
      const kdf = { name: 'scrypt' as const, ...SCRYPT_DEFAULTS, salt: salt.toString('base64') };
      slots.push({ type: 'passphrase', kdf, wrapped: wrap(await scryptKek(passphrase, kdf), masterKey, repoId, 'passphrase') });
    }
  }
  if (slots.length === 0) {
    throw new HoldfastError('usage', `an encrypted repository at ${location} needs a passphrase or a key file`, { hint: secrets.howToSet });
  }
  return { config: { format: SEGMENT_FORMAT, segmentSize: SEGMENT_SIZE, slots }, masterKey };
}

/** Unwraps the master key: a key file when one is given and the repository has a key-file slot, else the passphrase. */
export async function unlockEncryption(config: EncryptionConfig, repoId: string, location: string, secrets: RepositorySecrets): Promise<Buffer> {
  if (config.format !== SEGMENT_FORMAT) {
    throw new HoldfastError('repository', `${location} is encrypted with ${JSON.stringify(config.format)}; this holdfast reads ${SEGMENT_FORMAT}`, {
      hint: 'use the holdfast version that created it',
    });
  }
  const fileSlot = config.slots.find((s) => s.type === 'key-file');
  const passSlot = config.slots.find((s) => s.type === 'passphrase');
  if (secrets.keyFile && fileSlot) {
    const material = await readKeyFile(secrets.keyFile, false);
    const key = unwrap(keyFileKek(material, Buffer.from(fileSlot.kdf.salt, 'base64')), fileSlot.wrapped, repoId, 'key-file');
    if (!key) throw new HoldfastError('config', `the key file ${secrets.keyFile} is not the key of the repository at ${location}`, { hint: 'use the key file given at `holdfast init --encrypt`' });
    return key;
  }
  if (!passSlot) {
    throw new HoldfastError('config', `the repository at ${location} is encrypted with a key file and none was given`, {
      hint: 'set HOLDFAST_KEY_FILE or --key-file to the key file given at `holdfast init --encrypt`',
    });
  }
  const passphrase = await secrets.passphrase({ confirm: false });
  if (passphrase === undefined) {
    throw new HoldfastError('config', `the repository at ${location} is encrypted and no passphrase was given`, { hint: secrets.howToSet });
  }
  if (passSlot.type !== 'passphrase') throw new HoldfastError('internal', 'slot type');
  const key = unwrap(await scryptKek(passphrase, passSlot.kdf), passSlot.wrapped, repoId, 'passphrase');
  if (!key) {
    throw new HoldfastError('config', `wrong passphrase for the repository at ${location}`, {
      hint: 'check HOLDFAST_PASSWORD / HOLDFAST_PASSWORD_FILE (a trailing newline in the file is ignored); a lost passphrase cannot be recovered',
    });
  }
  return key;
}

function scryptKek(passphrase: string, kdf: { N: number; r: number; p: number; salt: string }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem above 128 * N * r, which is what scrypt needs.
    scrypt(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r }, (error, key) =>
      error ? reject(new HoldfastError('repository', `scrypt failed: ${error.message}`, { cause: error })) : resolve(key),
    );
  });
}

function keyFileKek(material: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', material, salt, 'holdfast key file v1', 32));
}

async function readKeyFile(path: string, createIfMissing: boolean): Promise<Buffer> {
  let material: Buffer;
  try {
    material = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && createIfMissing) {
      material = randomBytes(KEY_FILE_MIN);
      await writeFile(path, material, { mode: 0o600, flag: 'wx' });
      return material;
    }
    throw new HoldfastError('config', `cannot read the key file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      hint: 'check HOLDFAST_KEY_FILE / --key-file and that holdfast may read it',
      cause: error,
    });
  }
  if (material.length < KEY_FILE_MIN) {
    throw new HoldfastError('config', `the key file ${path} has ${material.length} bytes; a key file needs at least ${KEY_FILE_MIN}`, {
      hint: `make one with \`head -c 32 /dev/urandom > ${path}\`, or give a path that does not exist to \`holdfast init --encrypt --key-file\``,
    });
  }
  return material;
}

function wrap(kek: Buffer, masterKey: Buffer, repoId: string, type: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(`holdfast master key v1\0${repoId}\0${type}`));
  return Buffer.concat([iv, cipher.update(masterKey), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

/** The master key, or undefined when the key-encryption key is not the right one. */
function unwrap(kek: Buffer, wrapped: string, repoId: string, type: string): Buffer | undefined {
  const data = Buffer.from(wrapped, 'base64');
  if (data.length !== 12 + 32 + 16) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', kek, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(`holdfast master key v1\0${repoId}\0${type}`));
  decipher.setAuthTag(data.subarray(44));
  const key = decipher.update(data.subarray(12, 44));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return key;
}
