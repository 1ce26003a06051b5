import { createHash, type Hash } from 'node:crypto';

/**
 * The two names of an archive's bytes, computed in one pass: `sha256:<hex>` (what cmpkg records
 * and prints) and `sha512-<base64>` (npm's Subresource Integrity spelling, for registries). The
 * writer, the reader and a registry spell them through this one class, so they always agree.
 *
 * @example
 * const hash = new ArchiveDigest();
 * for await (const chunk of createReadStream('sample-1.0.0.cmpkg')) hash.update(chunk);
 * hash.digest; // 'sha256:9f86d0…'
 * hash.integrity; // 'sha512-7iaw3Ur…'
 */
export class ArchiveDigest {
  readonly #sha256: Hash = createHash('sha256');
  readonly #sha512: Hash = createHash('sha512');
  #result: { digest: string; integrity: string } | undefined;

  /** Adds bytes; throws once {@link digest} or {@link integrity} has been read (the hashes are final). */
  update(chunk: Uint8Array): void {
    this.#sha256.update(chunk);
    this.#sha512.update(chunk);
  }

  /** `sha256:<hex>` of every byte given to {@link update}. */
  get digest(): string {
    return this.#final().digest;
  }

  /** `sha512-<base64>` of every byte given to {@link update}. */
  get integrity(): string {
    return this.#final().integrity;
  }

  /** A node Hash can be finalised once; the first read does it for both names. */
  #final(): { digest: string; integrity: string } {
    this.#result ??= {
      digest: `sha256:${this.#sha256.digest('hex')}`,
      integrity: `sha512-${this.#sha512.digest('base64')}`,
    };
    return this.#result;
  }
}
