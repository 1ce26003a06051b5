import { createHash } from 'node:crypto';
import { PackageError, UsageError } from '@cmpkg/core';
import nacl from 'tweetnacl';
import {
  decodeBase64Strict,
  encodeBase64,
  type KeyPair,
  keyIdFromBytes,
  keyIdToBytes,
  type PublicKey,
} from './keys.js';

/**
 * A parsed minisign signature file.
 *
 * @example
 * const sig: MinisignSignature = parseSignature(readFileSync('cmpkg.sig', 'utf8'), 'cmpkg.sig');
 * sig.trustedComment; // 'cmpkg/1 sample@1.0.0 <sha256>'
 */
export interface MinisignSignature {
  /** "ED": ed25519 over BLAKE2b-512(message) (what minisign 0.11 makes); "Ed": legacy, over the message itself. */
  algorithm: 'ED' | 'Ed';
  /** Key id of the signing key, as minisign prints it. */
  keyId: string;
  /** 64 bytes. */
  signature: Uint8Array;
  trustedComment: string;
  /** 64 bytes, over signature || trustedComment. */
  globalSignature: Uint8Array;
  untrustedComment: string;
}

const UNTRUSTED_PREFIX = 'untrusted comment: ';
const TRUSTED_PREFIX = 'trusted comment: ';
const SIGNATURE_LINE_BYTES = 2 + 8 + nacl.sign.signatureLength;
/** Far above anything cmpkg writes; only here so a garbage file is not split into millions of lines. */
const MAX_SIGNATURE_TEXT = 64 * 1024;

function blake2b512(message: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('blake2b512').update(message).digest());
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

function requireOneLine(name: string, value: string): void {
  if (/[\r\n]/.test(value)) throw new UsageError(`the ${name} must be a single line`);
}

/**
 * Signs `message` and returns the minisign signature file text (prehashed "ED" format, which stock
 * `minisign -V` verifies): untrusted comment line, base64 signature line, trusted comment line, and
 * base64 global signature over signature || trusted comment.
 *
 * @example
 * const sigText = signMessage(manifestBytes, key, { trustedComment: 'cmpkg/1 sample@1.0.0 ab12…' });
 */
export function signMessage(
  message: Uint8Array,
  key: KeyPair,
  options: { trustedComment: string; untrustedComment?: string },
): string {
  const untrustedComment = options.untrustedComment ?? `signature from cmpkg secret key ${key.keyId}`;
  requireOneLine('trusted comment', options.trustedComment);
  requireOneLine('untrusted comment', untrustedComment);
  if (key.secretKey.length !== nacl.sign.secretKeyLength) {
    throw new UsageError(
      `secret key must be ${nacl.sign.secretKeyLength} bytes, got ${key.secretKey.length}`,
    );
  }
  const signature = nacl.sign.detached(blake2b512(message), key.secretKey);
  const line = new Uint8Array(SIGNATURE_LINE_BYTES);
  line.set(Buffer.from('ED', 'ascii'), 0);
  line.set(keyIdToBytes(key.keyId), 2);
  line.set(signature, 10);
  const globalSignature = nacl.sign.detached(concat(signature, utf8(options.trustedComment)), key.secretKey);
  return [
    `${UNTRUSTED_PREFIX}${untrustedComment}`,
    encodeBase64(line),
    `${TRUSTED_PREFIX}${options.trustedComment}`,
    encodeBase64(globalSignature),
    '',
  ].join('\n');
}

function invalid(
  source: string | undefined,
  message: string,
  details: Record<string, unknown> = {},
): PackageError {
  return new PackageError('E_SIGNATURE_INVALID', source ? `${source}: ${message}` : message, {
    details: { ...(source ? { file: source } : {}), ...details },
  });
}

/**
 * Parses minisign signature file text ("ED" prehashed, or legacy "Ed"). `source` (a file name) goes
 * into error messages. A malformed file is `E_SIGNATURE_INVALID` naming the line.
 *
 * @example
 * const sig = parseSignature(sigText, 'sample-1.0.0.cmpkg: cmpkg.sig');
 * sig.keyId; // '7D39ED2DB81BB22A'
 */
export function parseSignature(text: string, source?: string): MinisignSignature {
  if (text.length > MAX_SIGNATURE_TEXT)
    throw invalid(source, `signature file is larger than ${MAX_SIGNATURE_TEXT} bytes`);
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  // A final newline (or several) is fine; any other content past line 4 is not.
  while (lines.length > 4 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > 4)
    throw invalid(source, 'line 5: unexpected content after the global signature', { line: 5 });
  const [untrusted, sigLine, trusted, globalLine] = lines;
  if (untrusted === undefined || !untrusted.startsWith(UNTRUSTED_PREFIX)) {
    throw invalid(source, `line 1: expected "${UNTRUSTED_PREFIX.trim()}" (not a minisign signature)`, {
      line: 1,
    });
  }
  if (sigLine === undefined || sigLine === '')
    throw invalid(source, 'line 2: missing the signature', { line: 2 });
  const raw = decodeBase64Strict(sigLine);
  if (raw === undefined) throw invalid(source, 'line 2: the signature is not base64', { line: 2 });
  if (raw.length !== SIGNATURE_LINE_BYTES) {
    throw invalid(source, `line 2: a signature is ${SIGNATURE_LINE_BYTES} bytes, this one is ${raw.length}`, {
      line: 2,
    });
  }
  const algorithm = Buffer.from(raw.subarray(0, 2)).toString('latin1');
  if (algorithm !== 'ED' && algorithm !== 'Ed') {
    throw invalid(source, `line 2: unsupported signature algorithm "${algorithm}"`, { line: 2 });
  }
  if (trusted === undefined || !trusted.startsWith(TRUSTED_PREFIX)) {
    throw invalid(source, `line 3: expected "${TRUSTED_PREFIX.trim()}"`, { line: 3 });
  }
  if (globalLine === undefined || globalLine === '') {
    throw invalid(source, 'line 4: missing the global signature', { line: 4 });
  }
  const globalSignature = decodeBase64Strict(globalLine);
  if (globalSignature === undefined)
    throw invalid(source, 'line 4: the global signature is not base64', { line: 4 });
  if (globalSignature.length !== nacl.sign.signatureLength) {
    throw invalid(
      source,
      `line 4: a global signature is ${nacl.sign.signatureLength} bytes, this one is ${globalSignature.length}`,
      { line: 4 },
    );
  }
  return {
    algorithm,
    keyId: keyIdFromBytes(raw.subarray(2, 10)),
    signature: raw.slice(10),
    trustedComment: trusted.slice(TRUSTED_PREFIX.length),
    globalSignature,
    untrustedComment: untrusted.slice(UNTRUSTED_PREFIX.length),
  };
}

/**
 * Verifies a minisign signature of `message` by `key`: the key id, the signature (over
 * BLAKE2b-512(message) for "ED", the message for legacy "Ed") and the global signature over the
 * trusted comment. Returns nothing on success. Throws `E_UNTRUSTED_KEY` (both key ids in the message)
 * when signed by another key id, `E_SIGNATURE_INVALID` when the message, signature or trusted comment
 * was altered or the text is malformed. `options.source` names the signature in messages.
 *
 * @example
 * verifyMessage(manifestBytes, sigText, signerKey, { source: 'sample-1.0.0.cmpkg: cmpkg.sig' });
 */
export function verifyMessage(
  message: Uint8Array,
  signature: MinisignSignature | string,
  key: PublicKey,
  options: { source?: string } = {},
): void {
  const { source } = options;
  const sig = typeof signature === 'string' ? parseSignature(signature, source) : signature;
  if (sig.keyId !== key.keyId) {
    throw new PackageError(
      'E_UNTRUSTED_KEY',
      `${source ? `${source}: ` : ''}signed by key ${sig.keyId}, but the expected key is ${key.keyId}`,
      { details: { ...(source ? { file: source } : {}), keyId: sig.keyId, expectedKeyId: key.keyId } },
    );
  }
  const signed = sig.algorithm === 'ED' ? blake2b512(message) : message;
  if (
    sig.signature.length !== nacl.sign.signatureLength ||
    key.publicKey.length !== nacl.sign.publicKeyLength ||
    !nacl.sign.detached.verify(signed, sig.signature, key.publicKey)
  ) {
    throw invalid(
      source,
      `signature by key ${key.keyId} does not match the signed content (it was altered)`,
      {
        keyId: key.keyId,
      },
    );
  }
  if (
    sig.globalSignature.length !== nacl.sign.signatureLength ||
    !nacl.sign.detached.verify(
      concat(sig.signature, utf8(sig.trustedComment)),
      sig.globalSignature,
      key.publicKey,
    )
  ) {
    throw invalid(
      source,
      `the trusted comment's signature by key ${key.keyId} does not verify (it was altered)`,
      {
        keyId: key.keyId,
      },
    );
  }
}
