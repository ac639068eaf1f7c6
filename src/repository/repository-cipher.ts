import { createHmac, hkdfSync } from 'node:crypto';
import type { Transform } from 'node:stream';
import { openBuffer, openStream, plainSize, sealBuffer, sealStream } from './segment-cipher.js';

/**
 * What an encrypted dir repository does with its master key: seal and open
 * files (artifacts, manifests, annotations), each bound to its context (its
 * place in the repository), and give services and artifacts opaque file
 * names, since artifact names carry database names.
 */
export class RepositoryCipher {
  private readonly namesKey: Buffer;

  constructor(private readonly masterKey: Buffer) {
    this.namesKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'holdfast file names v1', 32));
  }

  seal(context: string): Transform {
    return sealStream(this.masterKey, context);
  }

  open(context: string, where = `artifact ${context}`): Transform {
    return openStream(this.masterKey, context, where);
  }

  sealDocument(text: string, context: string): Buffer {
    return sealBuffer(this.masterKey, context, Buffer.from(text, 'utf8'));
  }

  openDocument(sealed: Buffer, context: string, where: string): string {
    return openBuffer(this.masterKey, context, sealed, where).toString('utf8');
  }

  /** A stable file name that says nothing of `parts`: 32 hex digits of an HMAC. */
  opaqueName(...parts: string[]): string {
    return createHmac('sha256', this.namesKey).update(parts.join('\0')).digest('hex').slice(0, 32);
  }

  /** The plaintext size of a sealed file of `fileBytes` bytes. */
  plainSize(fileBytes: number): number {
    return plainSize(fileBytes);
  }
}
