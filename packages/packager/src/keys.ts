import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PackageError, UsageError } from '@cmpkg/core';
import nacl from 'tweetnacl';

/**
 * An ed25519 public key in minisign's shape.
 *
 * @example
 * const key: PublicKey = parsePublicKey('RWQqshu4Le05fbK/j5yuAyWTILk0bnNG0mPCSTOSJvPB+NjCFwX0iJhC');
 * key.keyId; // '7D39ED2DB81BB22A'
 */
export interface PublicKey {
  /** minisign key id as minisign prints it: 16 upper-case hex digits (the little-endian u64 of the 8 id bytes). */
  keyId: string;
  /** 32-byte ed25519 public key. */
  publicKey: Uint8Array;
  /** The minisign base64 line: base64("Ed" + 8 key-id bytes + 32 key bytes). Also what cmpkg pins. */
  encoded: string;
}

/**
 * A public key with its secret half.
 *
 * @example
 * const pair: KeyPair = generateKeyPair();
 * pair.secretKey.length; // 64
 */
export interface KeyPair extends PublicKey {
  /** 64-byte tweetnacl secret key (32-byte seed followed by the 32-byte public key). */
  secretKey: Uint8Array;
}

/** Format tag of cmpkg's secret key files. */
export const SECRET_KEY_FORMAT = 'cmpkg-secret-key/1';

/** minisign's signature algorithm tag for ed25519 keys. */
const KEY_ALGORITHM = 'Ed';
const KEY_ID_BYTES = 8;
const ENCODED_KEY_BYTES = 2 + KEY_ID_BYTES + nacl.sign.publicKeyLength;

/**
 * scrypt cost for new encrypted keys: 32 MiB and ~0.1 s, like minisign's interactive setting.
 * Stored in the file, so it can be raised later without breaking old keys.
 */
const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;
/** Upper bounds accepted from a key file, so a hostile file cannot make us burn gigabytes or minutes. */
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;
const SCRYPT_MAX_P = 16;

// ---------------------------------------------------------------- small helpers (not re-exported by index)

/**
 * Strict base64 decoding: Node's decoder silently skips bad characters, which would let a corrupted
 * key or signature line through. Returns `undefined` when `text` is not canonical base64.
 *
 * @example
 * decodeBase64Strict('AAE='); // Uint8Array [0, 1]
 * decodeBase64Strict('A*E='); // undefined
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

/**
 * Standard base64 of bytes.
 *
 * @example
 * encodeBase64(new Uint8Array([0, 1])); // 'AAE='
 */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * minisign prints a key id as the little-endian u64 of its 8 bytes, i.e. the bytes reversed, in hex.
 *
 * @example
 * keyIdFromBytes(new Uint8Array([0x2a, 0xb2, 0x1b, 0xb8, 0x2d, 0xed, 0x39, 0x7d])); // '7D39ED2DB81BB22A'
 */
export function keyIdFromBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).reverse().toString('hex').toUpperCase();
}

/**
 * The 8 key-id bytes as stored in keys and signatures, from minisign's printed form.
 *
 * @example
 * keyIdToBytes('7D39ED2DB81BB22A'); // Uint8Array [0x2a, 0xb2, 0x1b, 0xb8, 0x2d, 0xed, 0x39, 0x7d]
 */
export function keyIdToBytes(keyId: string): Uint8Array {
  if (!/^[0-9A-Fa-f]{16}$/.test(keyId)) {
    throw new PackageError('E_KEY_FORMAT', `key id "${keyId}" is not 16 hexadecimal digits`, {
      details: { keyId },
    });
  }
  return new Uint8Array(Buffer.from(keyId, 'hex').reverse());
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function keyFormatError(
  source: string | undefined,
  field: string,
  message: string,
  cause?: unknown,
): PackageError {
  const where = source ? `${source}: ` : '';
  return new PackageError('E_KEY_FORMAT', `${where}${field}: ${message}`, {
    details: { ...(source ? { file: source } : {}), field },
    ...(cause === undefined ? {} : { cause }),
  });
}

function makePublicKey(keyIdBytes: Uint8Array, publicKey: Uint8Array): PublicKey {
  const raw = new Uint8Array(ENCODED_KEY_BYTES);
  raw.set(Buffer.from(KEY_ALGORITHM, 'ascii'), 0);
  raw.set(keyIdBytes, 2);
  raw.set(publicKey, 2 + KEY_ID_BYTES);
  return {
    keyId: keyIdFromBytes(keyIdBytes),
    publicKey: new Uint8Array(publicKey),
    encoded: encodeBase64(raw),
  };
}

// ---------------------------------------------------------------- public keys

/**
 * A fresh ed25519 key pair with a random minisign key id. The seed and key id come from Node's CSPRNG.
 *
 * @example
 * const key = generateKeyPair();
 * writeFileSync('publisher.pub', formatPublicKey(key));
 */
export function generateKeyPair(): KeyPair {
  const pair = nacl.sign.keyPair.fromSeed(new Uint8Array(randomBytes(nacl.sign.seedLength)));
  const pub = makePublicKey(new Uint8Array(randomBytes(KEY_ID_BYTES)), pair.publicKey);
  return { ...pub, secretKey: new Uint8Array(pair.secretKey) };
}

/**
 * The minisign `.pub` file text: `"untrusted comment: minisign public key <KEYID>\n<base64>\n"`.
 *
 * @example
 * formatPublicKey(key); // 'untrusted comment: minisign public key 7D39ED2DB81BB22A\nRWQqshu4...\n'
 */
export function formatPublicKey(key: PublicKey): string {
  return `untrusted comment: minisign public key ${key.keyId}\n${key.encoded}\n`;
}

/**
 * Parses a minisign public key: a `.pub` file's text (comment line + base64 line) or the bare base64
 * line (what `minisign -P` takes and what cmpkg pins). The comment is untrusted and ignored.
 * `source` (a file name) goes into error messages. Throws `E_KEY_FORMAT` naming the line.
 *
 * @example
 * parsePublicKey(readFileSync('publisher.pub', 'utf8'), 'publisher.pub').keyId; // '7D39ED2DB81BB22A'
 * parsePublicKey('RWQqshu4Le05fbK/j5yuAyWTILk0bnNG0mPCSTOSJvPB+NjCFwX0iJhC');
 */
export function parsePublicKey(text: string, source?: string): PublicKey {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  // Accept CRLF files and surrounding blank lines; anything else must be exactly comment + key.
  const content = lines
    .map((line, index) => ({ line: line.replace(/\r$/, '').trim(), number: index + 1 }))
    .filter((entry) => entry.line !== '');
  const first = content[0];
  if (first === undefined) throw keyFormatError(source, 'line 1', 'empty public key');
  let keyLine = first;
  if (first.line.startsWith('untrusted comment:')) {
    const second = content[1];
    if (second === undefined) {
      throw keyFormatError(source, `line ${first.number + 1}`, 'missing the base64 public key line');
    }
    keyLine = second;
  }
  const extra = content[content.indexOf(keyLine) + 1];
  if (extra !== undefined) {
    throw keyFormatError(source, `line ${extra.number}`, 'unexpected content after the public key');
  }
  const where = `line ${keyLine.number}`;
  const raw = decodeBase64Strict(keyLine.line);
  if (raw === undefined) throw keyFormatError(source, where, 'not a base64 minisign public key');
  if (raw.length !== ENCODED_KEY_BYTES) {
    throw keyFormatError(
      source,
      where,
      `a minisign public key is ${ENCODED_KEY_BYTES} bytes, this one is ${raw.length}`,
    );
  }
  const algorithm = Buffer.from(raw.subarray(0, 2)).toString('latin1');
  if (algorithm !== KEY_ALGORITHM) {
    throw keyFormatError(source, where, `unsupported key algorithm "${algorithm}" (expected "Ed")`);
  }
  return makePublicKey(raw.subarray(2, 2 + KEY_ID_BYTES), raw.subarray(2 + KEY_ID_BYTES));
}

/**
 * Reads and parses a minisign `.pub` file. `E_KEY_FORMAT` naming the file when it cannot be read or parsed.
 *
 * @example
 * const trusted = await readPublicKey('publisher.pub');
 */
export async function readPublicKey(file: string): Promise<PublicKey> {
  return parsePublicKey(await readKeyFile(file, 'public'), file);
}

/** A key file's text; a file that cannot be read is `E_KEY_FORMAT` naming it, like one that does not parse. */
async function readKeyFile(file: string, kind: 'public' | 'secret'): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new PackageError('E_KEY_FORMAT', `${file}: cannot read the ${kind} key file: ${errorText(cause)}`, {
      details: { file },
      cause,
    });
  }
}

/**
 * True when both keys have the same 32 ed25519 key bytes. Key ids are labels chosen by the key's
 * owner, not identities, so they are not compared.
 *
 * @example
 * samePublicKey(parsePublicKey(pinned), manifestSigner); // true → same publisher
 */
export function samePublicKey(a: PublicKey, b: PublicKey): boolean {
  return bytesEqual(a.publicKey, b.publicKey);
}

// ---------------------------------------------------------------- secret keys

interface SecretKeyEncryption {
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  nonce: string;
}

interface SecretKeyDocument {
  format: typeof SECRET_KEY_FORMAT;
  algorithm: 'ed25519';
  keyId: string;
  publicKey: string;
  encryption: SecretKeyEncryption | null;
  secretKey: string;
}

function scrypt(passphrase: string, salt: Uint8Array, params: { N: number; r: number; p: number }) {
  return new Promise<Uint8Array>((resolve, reject) => {
    scryptCallback(
      // NFC so the same passphrase typed on different systems derives the same key.
      Buffer.from(passphrase.normalize('NFC'), 'utf8'),
      salt,
      nacl.secretbox.keyLength,
      // Node refuses above 32 MiB by default; allow what these parameters need plus slack.
      { ...params, maxmem: 128 * params.N * params.r + 16 * 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(new Uint8Array(key))),
    );
  });
}

/**
 * The secret key file text: cmpkg's own JSON format (not minisign's), with the secret key either in
 * the clear or encrypted with `nacl.secretbox` under a key derived from `passphrase` with scrypt.
 * An empty or missing passphrase writes an unencrypted file (encrypting under "" would only look safe).
 *
 * @example
 * const text = await encodeSecretKey(generateKeyPair(), { passphrase: 'correct horse' });
 * // {"format":"cmpkg-secret-key/1","algorithm":"ed25519","keyId":"…","publicKey":"RWQ…","encryption":{"kdf":"scrypt",…},"secretKey":"…"}
 */
export async function encodeSecretKey(key: KeyPair, options: { passphrase?: string } = {}): Promise<string> {
  if (key.secretKey.length !== nacl.sign.secretKeyLength) {
    throw new UsageError(
      `secret key must be ${nacl.sign.secretKeyLength} bytes, got ${key.secretKey.length}`,
    );
  }
  let encryption: SecretKeyEncryption | null = null;
  let secret = key.secretKey;
  if (options.passphrase) {
    const salt = new Uint8Array(randomBytes(32));
    const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
    const boxKey = await scrypt(options.passphrase, salt, SCRYPT_DEFAULTS);
    secret = nacl.secretbox(key.secretKey, nonce, boxKey);
    encryption = { kdf: 'scrypt', ...SCRYPT_DEFAULTS, salt: encodeBase64(salt), nonce: encodeBase64(nonce) };
  }
  const document: SecretKeyDocument = {
    format: SECRET_KEY_FORMAT,
    algorithm: 'ed25519',
    keyId: key.keyId,
    publicKey: key.encoded,
    encryption,
    secretKey: encodeBase64(secret),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(document: Record<string, unknown>, field: string, source: string | undefined): string {
  const value = document[field];
  if (typeof value !== 'string' || value === '') {
    throw keyFormatError(source, `field "${field}"`, 'missing or not a non-empty string');
  }
  return value;
}

function requireBase64(
  document: Record<string, unknown>,
  field: string,
  prefix: string,
  length: number | undefined,
  source: string | undefined,
): Uint8Array {
  const name = `field "${prefix}${field}"`;
  const value = document[field];
  const bytes = typeof value === 'string' ? decodeBase64Strict(value) : undefined;
  if (bytes === undefined) throw keyFormatError(source, name, 'missing or not base64');
  if (length !== undefined && bytes.length !== length) {
    throw keyFormatError(source, name, `must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function parseEncryption(value: unknown, source: string | undefined) {
  if (!isRecord(value)) throw keyFormatError(source, 'field "encryption"', 'must be null or an object');
  if (value.kdf !== 'scrypt') {
    throw keyFormatError(
      source,
      'field "encryption.kdf"',
      `unsupported key derivation "${String(value.kdf)}"`,
    );
  }
  const integer = (field: 'N' | 'r' | 'p', max: number) => {
    const n = value[field];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > max) {
      throw keyFormatError(source, `field "encryption.${field}"`, `must be an integer from 1 to ${max}`);
    }
    return n;
  };
  const N = integer('N', 2 ** 24);
  if ((N & (N - 1)) !== 0 || N < 2) {
    throw keyFormatError(source, 'field "encryption.N"', 'must be a power of two');
  }
  const r = integer('r', 64);
  const p = integer('p', SCRYPT_MAX_P);
  if (128 * N * r > SCRYPT_MAX_MEMORY) {
    throw keyFormatError(
      source,
      'field "encryption.N"',
      `scrypt parameters need more than ${SCRYPT_MAX_MEMORY / 1024 / 1024} MiB`,
    );
  }
  const salt = requireBase64(value, 'salt', 'encryption.', undefined, source);
  if (salt.length < 16) throw keyFormatError(source, 'field "encryption.salt"', 'must be at least 16 bytes');
  const nonce = requireBase64(value, 'nonce', 'encryption.', nacl.secretbox.nonceLength, source);
  return { N, r, p, salt, nonce };
}

/**
 * Parses (and decrypts) a secret key file's text. Checks that the embedded public key belongs to the
 * secret key. `E_KEY_FORMAT` names the file and field; `E_KEY_PASSPHRASE` when the key is encrypted
 * and the passphrase is missing or wrong.
 *
 * @example
 * const key = await decodeSecretKey(text, { passphrase: process.env.CMPKG_KEY_PASSPHRASE, source: 'publisher.key' });
 */
export async function decodeSecretKey(
  text: string,
  options: { passphrase?: string; source?: string } = {},
): Promise<KeyPair> {
  const { source } = options;
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (cause) {
    throw keyFormatError(
      source,
      'content',
      `not a cmpkg secret key file (invalid JSON: ${errorText(cause)})`,
      cause,
    );
  }
  if (!isRecord(document))
    throw keyFormatError(source, 'content', 'not a cmpkg secret key file (not an object)');
  if (document.format !== SECRET_KEY_FORMAT) {
    throw keyFormatError(
      source,
      'field "format"',
      `expected "${SECRET_KEY_FORMAT}", got ${JSON.stringify(document.format) ?? 'nothing'}`,
    );
  }
  if (document.algorithm !== 'ed25519') {
    throw keyFormatError(
      source,
      'field "algorithm"',
      `unsupported algorithm ${JSON.stringify(document.algorithm) ?? 'nothing'} (expected "ed25519")`,
    );
  }
  const keyId = requireString(document, 'keyId', source);
  const encodedPublic = requireString(document, 'publicKey', source);
  let publicKey: PublicKey;
  try {
    publicKey = parsePublicKey(encodedPublic);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw keyFormatError(source, 'field "publicKey"', message.replace(/^line \d+: /, ''), cause);
  }
  if (publicKey.keyId !== keyId.toUpperCase()) {
    throw keyFormatError(
      source,
      'field "keyId"',
      `${keyId} differs from the public key's id ${publicKey.keyId}`,
    );
  }
  if (!('encryption' in document)) {
    throw keyFormatError(source, 'field "encryption"', 'missing (null for an unencrypted key)');
  }
  let secretKey: Uint8Array;
  if (document.encryption === null) {
    secretKey = requireBase64(document, 'secretKey', '', nacl.sign.secretKeyLength, source);
  } else {
    const encryption = parseEncryption(document.encryption, source);
    const boxed = requireBase64(
      document,
      'secretKey',
      '',
      nacl.sign.secretKeyLength + nacl.secretbox.overheadLength,
      source,
    );
    const where = source ? `${source}: ` : '';
    if (!options.passphrase) {
      throw new PackageError(
        'E_KEY_PASSPHRASE',
        `${where}the secret key is encrypted: a passphrase is needed`,
        {
          details: source ? { file: source } : {},
        },
      );
    }
    const boxKey = await scrypt(options.passphrase, encryption.salt, encryption);
    const opened = nacl.secretbox.open(boxed, encryption.nonce, boxKey);
    if (opened === null) {
      throw new PackageError('E_KEY_PASSPHRASE', `${where}wrong passphrase for the secret key`, {
        details: source ? { file: source } : {},
      });
    }
    secretKey = opened;
  }
  // Derive the public key from the seed: catches a corrupted secret key and a swapped public key.
  const derived = nacl.sign.keyPair.fromSeed(secretKey.subarray(0, nacl.sign.seedLength));
  if (!bytesEqual(derived.secretKey, secretKey)) {
    throw keyFormatError(source, 'field "secretKey"', 'corrupted: its public half does not match its seed');
  }
  if (!bytesEqual(derived.publicKey, publicKey.publicKey)) {
    throw keyFormatError(source, 'field "publicKey"', 'does not belong to this secret key');
  }
  return { ...publicKey, secretKey: new Uint8Array(secretKey) };
}

/**
 * Reads a secret key file written by {@link writeKeyFiles} / {@link encodeSecretKey}.
 *
 * @example
 * const key = await readSecretKey('publisher.key', { passphrase });
 */
export async function readSecretKey(file: string, options: { passphrase?: string } = {}): Promise<KeyPair> {
  return decodeSecretKey(await readKeyFile(file, 'secret'), { ...options, source: file });
}

function refuseOverwrite(file: string, shown: string = file): UsageError {
  return new UsageError(
    `${shown} already exists; refusing to overwrite a key file (use --force to replace it)`,
    { details: { file } },
  );
}

/**
 * Refuses (`UsageError`, exit 2) when any of `files` exists (a dangling symlink counts), naming it
 * as `shown` spells it. What {@link writeKeyFiles} checks before writing either file; a caller with
 * more files to write, or a passphrase to ask for first, checks them all up front with it.
 *
 * @example
 * await refuseExistingKeyFiles(['publisher.key', 'publisher.pub', 'publisher.rotation.json']);
 */
export async function refuseExistingKeyFiles(
  files: readonly string[],
  shown: (file: string) => string = (file) => file,
): Promise<void> {
  for (const file of files) {
    try {
      await lstat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    throw refuseOverwrite(file, shown(file));
  }
}

/** Creates `file` with `mode`, failing when it exists ('wx'), and writes `text`. */
async function createExclusive(file: string, text: string, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(text, 'utf8');
    // The umask only narrows the mode, but make sure even a strange umask leaves 0600/0644.
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes via a fresh 'wx' temp file + rename, so a replaced key never exists with looser permissions. */
async function replaceFile(file: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await createExclusive(temp, text, mode);
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Writes `text` to `file` with `mode` (set even under a loose umask) and syncs it. By default the
 * file is created exclusively: an existing `file` (or dangling symlink) fails with `EEXIST`. With
 * `replace`, a fresh temp file beside it is renamed over it, so `file` is never half-written and
 * never exists with looser permissions. How key files, and files that go with them, are written.
 *
 * @example
 * await writeFileExclusive('publisher.rotation.json', text, { mode: 0o644, replace: force });
 */
export async function writeFileExclusive(
  file: string,
  text: string,
  options: { mode: number; replace?: boolean },
): Promise<void> {
  if (options.replace) await replaceFile(file, text, options.mode);
  else await createExclusive(file, text, options.mode);
}

/**
 * Writes the secret key file (mode 0600, created exclusively) and the minisign `.pub` file. Refuses
 * (`UsageError`, exit 2, naming the file) when either exists, unless `force`, which replaces both.
 *
 * @example
 * await writeKeyFiles(generateKeyPair(), { secretFile: 'publisher.key', publicFile: 'publisher.pub', passphrase });
 */
export async function writeKeyFiles(
  key: KeyPair,
  options: { secretFile: string; publicFile: string; passphrase?: string; force?: boolean },
): Promise<void> {
  const { secretFile, publicFile } = options;
  if (secretFile === publicFile) {
    throw new UsageError(`the secret and public key files must differ (both are ${secretFile})`, {
      details: { file: secretFile },
    });
  }
  const secretText = await encodeSecretKey(key, options.passphrase ? { passphrase: options.passphrase } : {});
  const publicText = formatPublicKey(key);
  if (options.force) {
    await replaceFile(secretFile, secretText, 0o600);
    await replaceFile(publicFile, publicText, 0o644);
    return;
  }
  // Check both before writing either, so a refusal leaves nothing half-written.
  await refuseExistingKeyFiles([secretFile, publicFile]);
  try {
    await createExclusive(secretFile, secretText, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refuseOverwrite(secretFile);
    throw error;
  }
  try {
    await createExclusive(publicFile, publicText, 0o644);
  } catch (error) {
    // Do not leave a secret key behind without its public key.
    await unlink(secretFile).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refuseOverwrite(publicFile);
    throw error;
  }
}

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}
