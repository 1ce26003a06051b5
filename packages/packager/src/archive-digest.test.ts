import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ArchiveDigest } from './archive-digest.js';

describe('ArchiveDigest', () => {
  const bytes = Buffer.from('the archive bytes, in any number of chunks');

  it('names the bytes as sha256:<hex> and sha512-<base64>, however they are chunked', () => {
    const whole = new ArchiveDigest();
    whole.update(bytes);
    const split = new ArchiveDigest();
    for (let at = 0; at < bytes.length; at += 5) split.update(bytes.subarray(at, at + 5));
    expect(whole.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(whole.integrity).toBe(`sha512-${createHash('sha512').update(bytes).digest('base64')}`);
    expect({ digest: split.digest, integrity: split.integrity }).toEqual({
      digest: whole.digest,
      integrity: whole.integrity,
    });
  });

  it('can be read more than once, and refuses bytes after it was read', () => {
    const hash = new ArchiveDigest();
    hash.update(bytes);
    const first = hash.integrity;
    expect(hash.integrity).toBe(first);
    expect(hash.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(() => hash.update(bytes)).toThrow();
  });
});
