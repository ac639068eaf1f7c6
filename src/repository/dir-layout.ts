import type { Transform } from 'node:stream';
import type { Unseal } from './artifact-reader.js';
import type { RepositoryCipher } from './repository-cipher.js';

/**
 * How a dir repository names and encodes its files, plain or encrypted. In
 * an encrypted one, manifests, annotations and artifacts are sealed, each
 * bound to its context (`<snapshot>/<service>/<artifact>`, ...), and service
 * and artifact file names are opaque (artifact names carry database names).
 */
export class DirLayout {
  constructor(readonly cipher?: RepositoryCipher) {}

  get encrypted(): boolean {
    return this.cipher !== undefined;
  }

  serviceDir(service: string): string {
    return this.cipher ? this.cipher.opaqueName('service', service) : service;
  }

  artifactFile(service: string, name: string): string {
    return this.cipher ? this.cipher.opaqueName('artifact', service, name) : name;
  }

  /** The cipher stage of an artifact written to `where`, or undefined for a plain repository. */
  seal(where: string): (() => Transform) | undefined {
    const cipher = this.cipher;
    return cipher && (() => cipher.seal(where));
  }

  unseal(where: string): Unseal | undefined {
    const cipher = this.cipher;
    return cipher && (() => cipher.open(where));
  }

  /** The size of the stored (compressed) bytes held in a file of `fileBytes` bytes, from the size alone. */
  storedSize(fileBytes: number): number {
    return this.cipher ? this.cipher.plainSize(fileBytes) : fileBytes;
  }

  encodeDocument(text: string, context: string): string | Buffer {
    return this.cipher ? this.cipher.sealDocument(text, context) : text;
  }

  /** Throws an 'integrity' error naming `where` when a sealed document fails authentication. */
  decodeDocument(data: Buffer, context: string, where: string): string {
    return this.cipher ? this.cipher.openDocument(data, context, where) : data.toString('utf8');
  }
}

export const manifestContext = (id: string) => `${id}/manifest.json`;
export const annotationContext = (id: string, kind: string) => `${id}/annotations/${kind}`;
export const artifactWhere = (id: string, service: string, name: string) => `${id}/${service}/${name}`;
