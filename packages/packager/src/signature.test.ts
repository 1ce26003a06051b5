import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyPair, keyIdToBytes } from './keys.js';
import { parseSignature, signMessage, verifyMessage } from './signature.js';

const message = new TextEncoder().encode('{"format":"cmpkg/1"}');
const key = generateKeyPair();

function thrown(
  work: () => unknown,
): Error & { code?: string; category?: string; details?: Record<string, unknown> } {
  try {
    work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

/** Replaces line `index` (0-based) of a signature file. */
function withLine(text: string, index: number, line: string): string {
  const lines = text.split('\n');
  lines[index] = line;
  return lines.join('\n');
}

/** A legacy ("Ed", not prehashed) signature, built by hand the way minisign -l does. */
function legacySignature(bytes: Uint8Array, signer: KeyPair, trustedComment: string): string {
  const signature = nacl.sign.detached(bytes, signer.secretKey);
  const line = Buffer.concat([Buffer.from('Ed'), keyIdToBytes(signer.keyId), signature]);
  const global = nacl.sign.detached(
    Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]),
    signer.secretKey,
  );
  return `untrusted comment: legacy\n${line.toString('base64')}\ntrusted comment: ${trustedComment}\n${Buffer.from(global).toString('base64')}\n`;
}

describe('signMessage', () => {
  it('writes the four minisign lines with a prehashed "ED" signature', () => {
    const text = signMessage(message, key, {
      trustedComment: 'cmpkg/1 sample@1.0.0 abc',
      untrustedComment: 'hi',
    });
    const lines = text.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('untrusted comment: hi');
    expect(lines[2]).toBe('trusted comment: cmpkg/1 sample@1.0.0 abc');
    expect(lines[4]).toBe('');
    const raw = Buffer.from(lines[1]!, 'base64');
    expect(raw.subarray(0, 2).toString('latin1')).toBe('ED');
    expect(new Uint8Array(raw.subarray(2, 10))).toEqual(keyIdToBytes(key.keyId));
    // Independently: the signature is ed25519 over BLAKE2b-512(message)...
    const prehash = createHash('blake2b512').update(message).digest();
    expect(nacl.sign.detached.verify(prehash, raw.subarray(10), key.publicKey)).toBe(true);
    expect(nacl.sign.detached.verify(message, raw.subarray(10), key.publicKey)).toBe(false);
    // ...and the global signature is over signature || trusted comment.
    const global = Buffer.from(lines[3]!, 'base64');
    const signedComment = Buffer.concat([raw.subarray(10), Buffer.from('cmpkg/1 sample@1.0.0 abc')]);
    expect(nacl.sign.detached.verify(signedComment, global, key.publicKey)).toBe(true);
  });

  it('is deterministic and has a default untrusted comment naming the key', () => {
    const a = signMessage(message, key, { trustedComment: 't' });
    expect(a).toBe(signMessage(message, key, { trustedComment: 't' }));
    expect(a.split('\n')[0]).toBe(`untrusted comment: signature from cmpkg secret key ${key.keyId}`);
  });

  it('refuses multi-line comments', () => {
    expect(thrown(() => signMessage(message, key, { trustedComment: 'a\nb' }))).toMatchObject({
      code: 'E_USAGE',
      message: 'the trusted comment must be a single line',
    });
    expect(
      thrown(() => signMessage(message, key, { trustedComment: 'a', untrustedComment: 'x\r' })),
    ).toMatchObject({ code: 'E_USAGE', message: 'the untrusted comment must be a single line' });
  });
});

describe('parseSignature', () => {
  const text = signMessage(message, key, { trustedComment: 'trusted: with colon', untrustedComment: 'u' });

  it('round-trips', () => {
    const sig = parseSignature(text);
    expect(sig).toMatchObject({
      algorithm: 'ED',
      keyId: key.keyId,
      trustedComment: 'trusted: with colon',
      untrustedComment: 'u',
    });
    expect(sig.signature).toHaveLength(64);
    expect(sig.globalSignature).toHaveLength(64);
    expect(() => verifyMessage(message, sig, key)).not.toThrow();
  });

  it('accepts CRLF line ends and a missing final newline', () => {
    expect(parseSignature(text.replace(/\n/g, '\r\n')).trustedComment).toBe('trusted: with colon');
    expect(() => verifyMessage(message, text.replace(/\n/g, '\r\n'), key)).not.toThrow();
    expect(() => verifyMessage(message, text.trimEnd(), key)).not.toThrow();
    expect(() => verifyMessage(message, `${text}\n\n`, key)).not.toThrow();
  });

  const lines = text.split('\n');
  const sigRaw = Buffer.from(lines[1]!, 'base64');
  it.each([
    ['line 1 prefix', withLine(text, 0, 'comment: u'), /sig\.minisig: line 1: expected "untrusted comment:"/],
    ['line 2 missing', lines[0]!, /line 2: missing the signature/],
    [
      'line 2 not base64',
      withLine(text, 1, `${lines[1]!.slice(0, -2)}#=`),
      /line 2: the signature is not base64/,
    ],
    [
      'line 2 length',
      withLine(text, 1, sigRaw.subarray(0, 73).toString('base64')),
      /line 2: a signature is 74 bytes, this one is 73/,
    ],
    [
      'line 2 algorithm',
      withLine(text, 1, Buffer.concat([Buffer.from('EX'), sigRaw.subarray(2)]).toString('base64')),
      /line 2: unsupported signature algorithm "EX"/,
    ],
    ['line 3 missing', lines.slice(0, 2).join('\n'), /line 3: expected "trusted comment:"/],
    ['line 3 prefix', withLine(text, 2, 'comment: x'), /line 3: expected "trusted comment:"/],
    ['line 4 missing', lines.slice(0, 3).join('\n'), /line 4: missing the global signature/],
    ['line 4 not base64', withLine(text, 3, 'not base64'), /line 4: the global signature is not base64/],
    ['line 4 length', withLine(text, 3, 'AAAA'), /line 4: a global signature is 64 bytes, this one is 3/],
    ['line 5', `${text}extra\n`, /line 5: unexpected content after the global signature/],
    ['too large', `untrusted comment: ${'x'.repeat(70_000)}`, /signature file is larger than 65536 bytes/],
    ['empty', '', /line 1: expected "untrusted comment:"/],
  ])(
    'rejects a malformed signature (%s) with E_SIGNATURE_INVALID naming the line',
    (_name, input, expected) => {
      const error = thrown(() => parseSignature(input, 'sig.minisig'));
      expect(error).toMatchObject({
        code: 'E_SIGNATURE_INVALID',
        category: 'safety',
        details: { file: 'sig.minisig' },
      });
      expect(error.message).toMatch(/^sig\.minisig: /);
      expect(error.message).toMatch(expected);
      // verifyMessage parses text the same way.
      expect(thrown(() => verifyMessage(message, input, key, { source: 'sig.minisig' })).message).toMatch(
        expected,
      );
    },
  );
});

describe('verifyMessage', () => {
  const text = signMessage(message, key, { trustedComment: 'cmpkg/1 sample@1.0.0 abc' });

  it('rejects a tampered message', () => {
    const tampered = new Uint8Array(message);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    const error = thrown(() => verifyMessage(tampered, text, key, { source: 'p.cmpkg: cmpkg.sig' }));
    expect(error).toMatchObject({ code: 'E_SIGNATURE_INVALID', category: 'safety' });
    expect(error.message).toBe(
      `p.cmpkg: cmpkg.sig: signature by key ${key.keyId} does not match the signed content (it was altered)`,
    );
    expect(thrown(() => verifyMessage(new Uint8Array([...message, 10]), text, key)).code).toBe(
      'E_SIGNATURE_INVALID',
    );
  });

  it('rejects a tampered trusted comment', () => {
    const forged = text.replace('sample@1.0.0', 'sample@9.9.9');
    expect(forged).not.toBe(text);
    const error = thrown(() => verifyMessage(message, forged, key));
    expect(error).toMatchObject({ code: 'E_SIGNATURE_INVALID' });
    expect(error.message).toMatch(/trusted comment's signature .* does not verify/);
  });

  it('rejects a swapped global signature', () => {
    const other = signMessage(message, key, { trustedComment: 'other' });
    const mixed = withLine(text, 3, other.split('\n')[3]!);
    expect(thrown(() => verifyMessage(message, mixed, key)).code).toBe('E_SIGNATURE_INVALID');
  });

  it('ignores the untrusted comment', () => {
    expect(() => verifyMessage(message, withLine(text, 0, 'untrusted comment: changed'), key)).not.toThrow();
  });

  it('reports another key as E_UNTRUSTED_KEY naming both key ids', () => {
    const other = generateKeyPair();
    const error = thrown(() => verifyMessage(message, text, other, { source: 'cmpkg.sig' }));
    expect(error).toMatchObject({
      code: 'E_UNTRUSTED_KEY',
      category: 'safety',
      details: { keyId: key.keyId, expectedKeyId: other.keyId },
    });
    expect(error.message).toBe(
      `cmpkg.sig: signed by key ${key.keyId}, but the expected key is ${other.keyId}`,
    );
  });

  it('rejects another key that claims the same key id', () => {
    const impostor = { ...generateKeyPair(), keyId: key.keyId };
    expect(thrown(() => verifyMessage(message, text, impostor)).code).toBe('E_SIGNATURE_INVALID');
    const forged = signMessage(message, impostor, { trustedComment: 'cmpkg/1 sample@1.0.0 abc' });
    expect(thrown(() => verifyMessage(message, forged, key)).code).toBe('E_SIGNATURE_INVALID');
  });

  it('accepts legacy "Ed" signatures over the message itself', () => {
    const legacy = legacySignature(message, key, 'old style');
    expect(parseSignature(legacy).algorithm).toBe('Ed');
    expect(() => verifyMessage(message, legacy, key)).not.toThrow();
    expect(thrown(() => verifyMessage(new Uint8Array([1]), legacy, key)).code).toBe('E_SIGNATURE_INVALID');
    // A prehashed signature relabelled as legacy (or the reverse) does not verify.
    const relabelled = withLine(
      text,
      1,
      Buffer.concat([Buffer.from('Ed'), Buffer.from(text.split('\n')[1]!, 'base64').subarray(2)]).toString(
        'base64',
      ),
    );
    expect(thrown(() => verifyMessage(message, relabelled, key)).code).toBe('E_SIGNATURE_INVALID');
  });

  it('rejects a signature object with a wrong-size field instead of crashing', () => {
    const sig = parseSignature(text);
    expect(
      thrown(() => verifyMessage(message, { ...sig, signature: sig.signature.subarray(0, 10) }, key)).code,
    ).toBe('E_SIGNATURE_INVALID');
    expect(
      thrown(() => verifyMessage(message, { ...sig, globalSignature: new Uint8Array(3) }, key)).code,
    ).toBe('E_SIGNATURE_INVALID');
  });
});
