import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBase64Strict,
  decodeSecretKey,
  encodeSecretKey,
  formatPublicKey,
  generateKeyPair,
  type KeyPair,
  keyIdFromBytes,
  keyIdToBytes,
  parsePublicKey,
  readPublicKey,
  readSecretKey,
  refuseExistingKeyFiles,
  SECRET_KEY_FORMAT,
  samePublicKey,
  writeFileExclusive,
  writeKeyFiles,
} from './keys.js';

// A key pair made by `minisign -G -W` (minisign 0.11): the .pub text and what minisign printed as its id.
const MINISIGN_PUB = 'RWQqshu4Le05fbK/j5yuAyWTILk0bnNG0mPCSTOSJvPB+NjCFwX0iJhC';
const MINISIGN_KEY_ID = '7D39ED2DB81BB22A';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cmpkg-keys-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function secretDocument(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}

describe('generateKeyPair', () => {
  it('makes an ed25519 key pair in minisign shape', () => {
    const key = generateKeyPair();
    expect(key.keyId).toMatch(/^[0-9A-F]{16}$/);
    expect(key.publicKey).toHaveLength(32);
    expect(key.secretKey).toHaveLength(64);
    const raw = Buffer.from(key.encoded, 'base64');
    expect(raw).toHaveLength(42);
    expect(raw.subarray(0, 2).toString('latin1')).toBe('Ed');
    expect(new Uint8Array(raw.subarray(2, 10))).toEqual(keyIdToBytes(key.keyId));
    expect(new Uint8Array(raw.subarray(10))).toEqual(key.publicKey);
    // The secret key signs for the public key.
    const sig = nacl.sign.detached(new Uint8Array([1, 2, 3]), key.secretKey);
    expect(nacl.sign.detached.verify(new Uint8Array([1, 2, 3]), sig, key.publicKey)).toBe(true);
  });

  it('makes a different key and key id each time', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(a.keyId).not.toBe(b.keyId);
    expect(samePublicKey(a, b)).toBe(false);
  });
});

describe('key ids', () => {
  it('prints the little-endian u64 of the 8 id bytes, like minisign', () => {
    const bytes = new Uint8Array([0x2a, 0xb2, 0x1b, 0xb8, 0x2d, 0xed, 0x39, 0x7d]);
    expect(keyIdFromBytes(bytes)).toBe(MINISIGN_KEY_ID);
    expect(keyIdToBytes(MINISIGN_KEY_ID)).toEqual(bytes);
    expect(parsePublicKey(MINISIGN_PUB).keyId).toBe(MINISIGN_KEY_ID);
  });

  it('rejects a key id that is not 16 hex digits', () => {
    expect(() => keyIdToBytes('XYZ')).toThrow(expect.objectContaining({ code: 'E_KEY_FORMAT' }));
  });
});

describe('decodeBase64Strict', () => {
  it('accepts canonical base64 only', () => {
    expect(decodeBase64Strict('AAE=')).toEqual(new Uint8Array([0, 1]));
    for (const bad of ['', 'A*E=', 'AAE', 'AAF=', 'AA E=', 'AAE=\n'])
      expect(decodeBase64Strict(bad)).toBeUndefined();
  });
});

describe('public keys', () => {
  it('round-trips through the .pub text and the bare base64 line', () => {
    const key = generateKeyPair();
    const text = formatPublicKey(key);
    expect(text).toBe(`untrusted comment: minisign public key ${key.keyId}\n${key.encoded}\n`);
    for (const input of [text, key.encoded, text.replace(/\n/g, '\r\n'), `\n${key.encoded}\n\n`]) {
      const parsed = parsePublicKey(input);
      expect(parsed).toEqual({ keyId: key.keyId, publicKey: key.publicKey, encoded: key.encoded });
    }
  });

  it('ignores the untrusted comment', () => {
    const key = parsePublicKey(`untrusted comment: anything at all\n${MINISIGN_PUB}\n`);
    expect(key.keyId).toBe(MINISIGN_KEY_ID);
  });

  const raw = Buffer.from(MINISIGN_PUB, 'base64');
  const withAlgorithm = Buffer.concat([Buffer.from('Eb'), raw.subarray(2)]).toString('base64');
  const tooShort = raw.subarray(0, 41).toString('base64');
  it.each([
    ['empty', '', /publisher\.pub: line 1: empty public key/],
    [
      'comment only',
      'untrusted comment: minisign public key X\n',
      /publisher\.pub: line 2: missing the base64/,
    ],
    ['not base64', `untrusted comment: x\n${MINISIGN_PUB.slice(0, -4)}!!!!\n`, /line 2: not a base64/],
    ['wrong length', tooShort, /line 1: a minisign public key is 42 bytes, this one is 41/],
    ['wrong algorithm', withAlgorithm, /line 1: unsupported key algorithm "Eb"/],
    ['extra line', `untrusted comment: x\n${MINISIGN_PUB}\nmore\n`, /line 3: unexpected content/],
  ])('rejects a malformed key (%s) with E_KEY_FORMAT naming the file and line', (_name, text, message) => {
    let error: unknown;
    try {
      parsePublicKey(text, 'publisher.pub');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'E_KEY_FORMAT',
      category: 'input',
      details: { file: 'publisher.pub' },
    });
    expect((error as Error).message).toMatch(message);
  });

  it('reads a .pub file, and names a missing one', async () => {
    const key = generateKeyPair();
    const file = join(dir, 'read.pub');
    writeFileSync(file, formatPublicKey(key));
    expect((await readPublicKey(file)).encoded).toBe(key.encoded);
    const missing = join(dir, 'missing.pub');
    await expect(readPublicKey(missing)).rejects.toMatchObject({
      code: 'E_KEY_FORMAT',
      message: `${missing}: cannot read the public key file: no such file`,
    });
  });

  it('compares keys by their key bytes, not their key ids', () => {
    const key = generateKeyPair();
    const relabelled = { ...key, keyId: '0000000000000001' };
    expect(samePublicKey(key, relabelled)).toBe(true);
    expect(samePublicKey(key, { ...generateKeyPair(), keyId: key.keyId })).toBe(false);
  });
});

describe('secret key files', () => {
  let key: KeyPair;
  let plain: string;
  let encrypted: string;
  beforeAll(async () => {
    key = generateKeyPair();
    plain = await encodeSecretKey(key);
    encrypted = await encodeSecretKey(key, { passphrase: 'correct horse' });
  });

  it('round-trips an unencrypted key', async () => {
    const doc = secretDocument(plain);
    expect(doc).toMatchObject({
      format: SECRET_KEY_FORMAT,
      algorithm: 'ed25519',
      keyId: key.keyId,
      publicKey: key.encoded,
      encryption: null,
      secretKey: Buffer.from(key.secretKey).toString('base64'),
    });
    expect(await decodeSecretKey(plain)).toEqual(key);
    // A passphrase given for an unencrypted key is not needed and does no harm.
    expect(await decodeSecretKey(plain, { passphrase: 'unused' })).toEqual(key);
  });

  it('round-trips an encrypted key with the right passphrase', async () => {
    const doc = secretDocument(encrypted);
    expect(doc.encryption).toMatchObject({ kdf: 'scrypt', N: 2 ** 15, r: 8, p: 1 });
    expect(doc.secretKey).not.toBe(Buffer.from(key.secretKey).toString('base64'));
    expect(encrypted).not.toContain(
      Buffer.from(key.secretKey.subarray(0, 32)).toString('base64').slice(0, 20),
    );
    expect(await decodeSecretKey(encrypted, { passphrase: 'correct horse' })).toEqual(key);
    // Unicode passphrases are NFC-normalised: the composed and decomposed é are the same passphrase.
    const unicode = await encodeSecretKey(key, { passphrase: 'caf\u00e9' });
    expect(await decodeSecretKey(unicode, { passphrase: 'cafe\u0301' })).toEqual(key);
  });

  it('uses a fresh salt and nonce each time', async () => {
    const again = secretDocument(await encodeSecretKey(key, { passphrase: 'correct horse' }));
    const first = secretDocument(encrypted);
    expect(again.secretKey).not.toBe(first.secretKey);
    expect(again.encryption).not.toEqual(first.encryption);
  });

  it('refuses a wrong, missing or empty passphrase with E_KEY_PASSPHRASE', async () => {
    await expect(decodeSecretKey(encrypted, { passphrase: 'wrong', source: 'k.key' })).rejects.toMatchObject({
      code: 'E_KEY_PASSPHRASE',
      category: 'input',
      message: 'k.key: wrong passphrase for the secret key',
    });
    await expect(decodeSecretKey(encrypted, { source: 'k.key' })).rejects.toMatchObject({
      code: 'E_KEY_PASSPHRASE',
      message: 'k.key: the secret key is encrypted: a passphrase is needed',
    });
    await expect(decodeSecretKey(encrypted, { passphrase: '' })).rejects.toMatchObject({
      code: 'E_KEY_PASSPHRASE',
    });
  });

  it('writes an unencrypted file for an empty passphrase', async () => {
    expect(secretDocument(await encodeSecretKey(key, { passphrase: '' })).encryption).toBeNull();
  });

  function edit(text: string, change: (doc: Record<string, unknown>) => void): string {
    const doc = secretDocument(text);
    change(doc);
    return JSON.stringify(doc);
  }
  const enc = (doc: Record<string, unknown>) => doc.encryption as Record<string, unknown>;

  it.each<[string, (t: { plain: string; encrypted: string; key: KeyPair }) => string, RegExp]>([
    ['invalid JSON', () => '{"format":', /content: not a cmpkg secret key file \(invalid JSON/],
    ['not an object', () => '[1]', /content: not a cmpkg secret key file \(not an object\)/],
    [
      'format',
      (t) =>
        edit(t.plain, (d) => {
          d.format = 'minisign';
        }),
      /field "format": expected "cmpkg-secret-key\/1"/,
    ],
    [
      'algorithm',
      (t) =>
        edit(t.plain, (d) => {
          d.algorithm = 'rsa';
        }),
      /field "algorithm": unsupported algorithm "rsa"/,
    ],
    [
      'keyId missing',
      (t) =>
        edit(t.plain, (d) => {
          delete d.keyId;
        }),
      /field "keyId": missing/,
    ],
    [
      'keyId differs',
      (t) =>
        edit(t.plain, (d) => {
          d.keyId = '0000000000000000';
        }),
      /field "keyId": 0+ differs/,
    ],
    [
      'publicKey missing',
      (t) =>
        edit(t.plain, (d) => {
          delete d.publicKey;
        }),
      /field "publicKey": missing/,
    ],
    [
      'publicKey not a key',
      (t) =>
        edit(t.plain, (d) => {
          d.publicKey = 'AAAA';
        }),
      /field "publicKey": a minisign public key is 42 bytes/,
    ],
    [
      'publicKey of another key',
      (t) => {
        const other = generateKeyPair();
        const relabelled = Buffer.concat([Buffer.from('Ed'), keyIdToBytes(t.key.keyId), other.publicKey]);
        return edit(t.plain, (d) => {
          d.publicKey = relabelled.toString('base64');
        });
      },
      /field "publicKey": does not belong to this secret key/,
    ],
    [
      'encryption missing',
      (t) =>
        edit(t.plain, (d) => {
          delete d.encryption;
        }),
      /field "encryption": missing/,
    ],
    [
      'encryption not an object',
      (t) =>
        edit(t.plain, (d) => {
          d.encryption = 'scrypt';
        }),
      /field "encryption": must be null or an object/,
    ],
    [
      'encryption.kdf',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).kdf = 'pbkdf2';
        }),
      /field "encryption.kdf": unsupported key derivation "pbkdf2"/,
    ],
    [
      'encryption.N not a power of two',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).N = 3000;
        }),
      /field "encryption.N": must be a power of two/,
    ],
    [
      'encryption.N too costly',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).N = 2 ** 24;
        }),
      /field "encryption.N": scrypt parameters need more than 256 MiB/,
    ],
    [
      'encryption.r',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).r = 0;
        }),
      /field "encryption.r": must be an integer/,
    ],
    [
      'encryption.p',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).p = 1000;
        }),
      /field "encryption.p": must be an integer from 1 to 16/,
    ],
    [
      'encryption.salt',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).salt = 'not base64!';
        }),
      /field "encryption.salt": missing or not base64/,
    ],
    [
      'encryption.salt too short',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).salt = 'AAAA';
        }),
      /field "encryption.salt": must be at least 16 bytes/,
    ],
    [
      'encryption.nonce',
      (t) =>
        edit(t.encrypted, (d) => {
          enc(d).nonce = 'AAAA';
        }),
      /field "encryption.nonce": must be 24 bytes, got 3/,
    ],
    [
      'secretKey missing',
      (t) =>
        edit(t.plain, (d) => {
          delete d.secretKey;
        }),
      /field "secretKey": missing or not base64/,
    ],
    [
      'secretKey length',
      (t) =>
        edit(t.plain, (d) => {
          d.secretKey = 'AAAA';
        }),
      /field "secretKey": must be 64 bytes, got 3/,
    ],
    [
      'encrypted secretKey length',
      (t) =>
        edit(t.encrypted, (d) => {
          d.secretKey = Buffer.alloc(64).toString('base64');
        }),
      /field "secretKey": must be 80 bytes, got 64/,
    ],
    [
      'secretKey corrupted',
      (t) => {
        const corrupted = Buffer.from(t.key.secretKey);
        corrupted[3] = (corrupted[3] ?? 0) ^ 1;
        return edit(t.plain, (d) => {
          d.secretKey = corrupted.toString('base64');
        });
      },
      /field "secretKey": corrupted/,
    ],
  ])(
    'rejects a malformed file (%s) with E_KEY_FORMAT naming the file and field',
    async (_name, make, message) => {
      const text = make({ plain, encrypted, key });
      let error: unknown;
      try {
        await decodeSecretKey(text, { source: 'publisher.key', passphrase: 'correct horse' });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({
        code: 'E_KEY_FORMAT',
        category: 'input',
        details: { file: 'publisher.key' },
      });
      expect((error as Error).message).toMatch(/^publisher\.key: /);
      expect((error as Error).message).toMatch(message);
    },
  );

  it('reads a secret key file, and names a missing one', async () => {
    const file = join(dir, 'read.key');
    writeFileSync(file, encrypted);
    expect(await readSecretKey(file, { passphrase: 'correct horse' })).toEqual(key);
    await expect(readSecretKey(file, { passphrase: 'nope' })).rejects.toMatchObject({
      code: 'E_KEY_PASSPHRASE',
      message: `${file}: wrong passphrase for the secret key`,
    });
    const missing = join(dir, 'missing.key');
    await expect(readSecretKey(missing)).rejects.toMatchObject({
      code: 'E_KEY_FORMAT',
      message: `${missing}: cannot read the secret key file: no such file`,
    });
  });
});

describe('refuseExistingKeyFiles', () => {
  it('passes when no file exists, and refuses the first that does (a dangling symlink too), as `shown` names it', async () => {
    const absent = join(dir, 'refuse-absent');
    await expect(refuseExistingKeyFiles([absent, `${absent}.pub`])).resolves.toBeUndefined();
    const link = join(dir, 'refuse-dangling');
    symlinkSync(join(dir, 'nowhere'), link);
    await expect(
      refuseExistingKeyFiles([absent, link], (f) => `<${f.slice(dir.length + 1)}>`),
    ).rejects.toMatchObject({
      code: 'E_USAGE',
      message:
        '<refuse-dangling> already exists; refusing to overwrite a key file (use --force to replace it)',
      details: { file: link },
    });
  });

  it('rethrows a file system error other than "no such file"', async () => {
    const regular = join(dir, 'refuse-regular');
    writeFileSync(regular, '');
    await expect(refuseExistingKeyFiles([join(regular, 'under-a-file')])).rejects.toMatchObject({
      code: 'ENOTDIR',
    });
  });
});

describe('writeKeyFiles', () => {
  function paths(name: string) {
    return { secretFile: join(dir, `${name}.key`), publicFile: join(dir, `${name}.pub`) };
  }

  it('writes the secret key with mode 0600 and the minisign .pub', async () => {
    const key = generateKeyPair();
    const files = paths('fresh');
    await writeKeyFiles(key, { ...files, passphrase: 'pw' });
    expect(statSync(files.secretFile).mode & 0o777).toBe(0o600);
    expect(statSync(files.publicFile).mode & 0o777).toBe(0o644);
    expect(readFileSync(files.publicFile, 'utf8')).toBe(formatPublicKey(key));
    expect(await readSecretKey(files.secretFile, { passphrase: 'pw' })).toEqual(key);
    expect((await readPublicKey(files.publicFile)).encoded).toBe(key.encoded);
  });

  it('refuses to overwrite an existing secret key, naming it, and leaves it alone', async () => {
    const files = paths('existing-secret');
    writeFileSync(files.secretFile, 'precious');
    await expect(writeKeyFiles(generateKeyPair(), files)).rejects.toMatchObject({
      code: 'E_USAGE',
      category: 'input',
      message: expect.stringContaining(`${files.secretFile} already exists`),
    });
    expect(readFileSync(files.secretFile, 'utf8')).toBe('precious');
    expect(existsSync(files.publicFile)).toBe(false);
  });

  it('refuses to overwrite an existing public key and writes no secret key', async () => {
    const files = paths('existing-public');
    writeFileSync(files.publicFile, 'precious');
    await expect(writeKeyFiles(generateKeyPair(), files)).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining(`${files.publicFile} already exists`),
    });
    expect(readFileSync(files.publicFile, 'utf8')).toBe('precious');
    expect(existsSync(files.secretFile)).toBe(false);
  });

  it('replaces both with force, and the new secret key is 0600 even if the old one was not', async () => {
    const files = paths('forced');
    writeFileSync(files.secretFile, 'old');
    chmodSync(files.secretFile, 0o644);
    writeFileSync(files.publicFile, 'old');
    const key = generateKeyPair();
    await writeKeyFiles(key, { ...files, force: true });
    expect(statSync(files.secretFile).mode & 0o777).toBe(0o600);
    expect(await readSecretKey(files.secretFile)).toEqual(key);
    expect(readFileSync(files.publicFile, 'utf8')).toBe(formatPublicKey(key));
  });

  it('refuses the same file for both keys', async () => {
    const file = join(dir, 'same');
    await expect(
      writeKeyFiles(generateKeyPair(), { secretFile: file, publicFile: file }),
    ).rejects.toMatchObject({
      code: 'E_USAGE',
    });
    expect(existsSync(file)).toBe(false);
  });
});

describe('writeFileExclusive', () => {
  it('creates the file with its mode, and fails with EEXIST (leaving the file alone) when it exists', async () => {
    const sub = join(dir, 'exclusive-create');
    mkdirSync(sub);
    const file = join(sub, 'a.json');
    await writeFileExclusive(file, 'first\n', { mode: 0o644 });
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    await expect(writeFileExclusive(file, 'second\n', { mode: 0o644 })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    const link = join(sub, 'dangling');
    symlinkSync(join(sub, 'nowhere'), link);
    await expect(writeFileExclusive(link, 'x', { mode: 0o644 })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(existsSync(join(sub, 'nowhere'))).toBe(false);
  });

  it('with replace, renames a fresh file over the old one, with its own mode and no temp file left', async () => {
    const sub = join(dir, 'exclusive-replace');
    mkdirSync(sub);
    const file = join(sub, 'b.key');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    await writeFileExclusive(file, 'new', { mode: 0o600, replace: true });
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await writeFileExclusive(join(sub, 'c.json'), 'created', { mode: 0o644, replace: true });
    expect(readFileSync(join(sub, 'c.json'), 'utf8')).toBe('created');
    expect(readdirSync(sub).sort()).toEqual(['b.key', 'c.json']);
  });

  it('with replace, fails without touching the target or leaving a temp file when the rename cannot happen', async () => {
    const sub = join(dir, 'exclusive-replace-dir');
    mkdirSync(sub);
    const target = join(sub, 'is-a-dir');
    mkdirSync(join(target, 'inside'), { recursive: true });
    await expect(writeFileExclusive(target, 'x', { mode: 0o644, replace: true })).rejects.toMatchObject({
      code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/),
    });
    expect(readdirSync(sub)).toEqual(['is-a-dir']);
    expect(readdirSync(target)).toEqual(['inside']);
  });
});
