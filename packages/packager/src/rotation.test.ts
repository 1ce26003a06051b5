import { canonicalJson } from '@cmpkg/core';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyPair, type PublicKey } from './keys.js';
import { createRotation, parseRotations, type RotationStatement, verifyKeyChange } from './rotation.js';

const plugin = 'sample';
const createdAt = '2025-01-02T03:04:05.000Z';
const [p, a, b, x] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()] as [
  KeyPair,
  KeyPair,
  KeyPair,
  KeyPair,
];

function publicOf(key: KeyPair): PublicKey {
  return { keyId: key.keyId, publicKey: key.publicKey, encoded: key.encoded };
}

function rotate(from: KeyPair, to: KeyPair, pluginId = plugin): RotationStatement {
  return createRotation({ pluginId, from, to: publicOf(to), createdAt });
}

function thrown(work: () => unknown): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('createRotation', () => {
  it('signs canonicalJson of the statement without its signature, with the old key', () => {
    const statement = rotate(p, a);
    expect(statement).toMatchObject({
      format: 'cmpkg-rotation/1',
      plugin,
      from: p.encoded,
      to: a.encoded,
      createdAt,
    });
    const { signature, ...body } = statement;
    const bytes = new TextEncoder().encode(canonicalJson(body));
    const sig = Buffer.from(signature, 'base64');
    expect(nacl.sign.detached.verify(bytes, sig, p.publicKey)).toBe(true);
    expect(nacl.sign.detached.verify(bytes, sig, a.publicKey)).toBe(false);
  });

  it('defaults createdAt to now', () => {
    const before = Date.now();
    const statement = createRotation({ pluginId: plugin, from: p, to: publicOf(a) });
    expect(Date.parse(statement.createdAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('refuses a rotation to the same key, a bad time or no plugin', () => {
    expect(thrown(() => createRotation({ pluginId: plugin, from: p, to: publicOf(p) })).code).toBe('E_USAGE');
    expect(
      thrown(() => createRotation({ pluginId: plugin, from: p, to: a, createdAt: 'yesterday' })).code,
    ).toBe('E_USAGE');
    expect(thrown(() => createRotation({ pluginId: '', from: p, to: a })).code).toBe('E_USAGE');
  });
});

describe('parseRotations', () => {
  it('reads one statement or an array of them', () => {
    const one = rotate(p, a);
    const two = rotate(a, b);
    expect(parseRotations(JSON.stringify(one))).toEqual([one]);
    expect(parseRotations(JSON.stringify([one, two], null, 2))).toEqual([one, two]);
    expect(parseRotations('[]')).toEqual([]);
  });

  const good = rotate(p, a) as unknown as Record<string, unknown>;
  const variant = (change: Record<string, unknown>) => JSON.stringify([{ ...good, ...change }]);
  it.each<[string, string, RegExp]>([
    ['invalid JSON', '{', /^rotation\.json: not valid JSON/],
    ['not an object', '[1]', /^rotation\.json: \[0\]\.: a rotation statement must be an object/],
    ['unknown field', variant({ comment: 'hi' }), /\[0\]\.comment: unknown field/],
    [
      'missing field',
      JSON.stringify([{ ...good, to: undefined }]),
      /\[0\]\.to: missing or not a non-empty string/,
    ],
    ['format', variant({ format: 'cmpkg-rotation/2' }), /\[0\]\.format: expected "cmpkg-rotation\/1"/],
    ['from not a key', variant({ from: 'AAAA' }), /\[0\]\.from: a minisign public key is 42 bytes/],
    ['to not a key', variant({ to: 'not base64' }), /\[0\]\.to: not a base64 minisign public key/],
    ['same key', variant({ to: p.encoded }), /\[0\]\.to: rotates to the same key/],
    [
      'createdAt',
      variant({ createdAt: 'last tuesday' }),
      /\[0\]\.createdAt: "last tuesday" is not an ISO 8601 time/,
    ],
    ['signature', variant({ signature: 'AAAA' }), /\[0\]\.signature: not a base64 64-byte ed25519 signature/],
    ['plugin', variant({ plugin: 7 }), /\[0\]\.plugin: missing or not a non-empty string/],
  ])(
    'rejects a malformed statement (%s) with E_ROTATION_INVALID naming file and field',
    (_name, text, message) => {
      const error = thrown(() => parseRotations(text, 'rotation.json'));
      expect(error).toMatchObject({ code: 'E_ROTATION_INVALID', details: { file: 'rotation.json' } });
      expect(error.message).toMatch(message);
    },
  );

  it('names the field of a single (non-array) statement without an index', () => {
    expect(thrown(() => parseRotations(JSON.stringify({ ...good, format: 'x' }), 'r.json')).message).toMatch(
      /^r\.json: format: expected/,
    );
  });
});

describe('verifyKeyChange', () => {
  it('accepts the pinned key itself with an empty chain', () => {
    expect(verifyKeyChange({ pluginId: plugin, pinned: p, signer: p, statements: [] })).toEqual([]);
    // Key ids are labels: the same key bytes under another id are still the pinned key.
    expect(
      verifyKeyChange({
        pluginId: plugin,
        pinned: { ...publicOf(p), keyId: '0000000000000000' },
        signer: p,
        statements: [],
      }),
    ).toEqual([]);
  });

  it('follows a chain of one and of two statements, in any order', () => {
    const pa = rotate(p, a);
    const ab = rotate(a, b);
    expect(verifyKeyChange({ pluginId: plugin, pinned: p, signer: a, statements: [pa] })).toEqual([pa]);
    expect(verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: [pa, ab] })).toEqual([
      pa,
      ab,
    ]);
    expect(verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: [ab, pa] })).toEqual([
      pa,
      ab,
    ]);
    // Parsed from JSON (what rotation.json gives) works the same.
    const parsed = parseRotations(JSON.stringify([ab, pa]));
    expect(verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: parsed })).toEqual([pa, ab]);
  });

  it('leaves the chain through a cycle when it has a way out', () => {
    const statements = [rotate(p, a), rotate(a, p), rotate(a, b)];
    expect(verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements })).toEqual([
      statements[0],
      statements[2],
    ]);
  });

  it('refuses a statement for another plugin', () => {
    const error = thrown(() =>
      verifyKeyChange({ pluginId: plugin, pinned: p, signer: a, statements: [rotate(p, a, 'other')] }),
    );
    expect(error).toMatchObject({
      code: 'E_ROTATION_INVALID',
      details: { plugin: 'other', expectedPlugin: plugin },
    });
    expect(error.message).toMatch(/rotation statement \[0\] is for plugin "other", not "sample"/);
  });

  it('refuses a chain of two whose second link is for another plugin', () => {
    const statements = [rotate(p, a), rotate(a, b, 'other')];
    expect(thrown(() => verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements })).code).toBe(
      'E_ROTATION_INVALID',
    );
  });

  it('refuses a forged statement (signed by a key other than the one it rotates from)', () => {
    // The attacker x claims "p rotates to x" and signs it with x.
    const forged = { ...rotate(x, a), from: p.encoded, to: x.encoded };
    const error = thrown(() =>
      verifyKeyChange({ pluginId: plugin, pinned: p, signer: x, statements: [forged] }),
    );
    expect(error.code).toBe('E_ROTATION_INVALID');
    expect(error.message).toContain(`is not signed by the key it rotates from (${p.keyId})`);
  });

  it('refuses a statement altered after signing', () => {
    const altered = { ...rotate(p, a), to: x.encoded };
    expect(
      thrown(() => verifyKeyChange({ pluginId: plugin, pinned: p, signer: x, statements: [altered] })).code,
    ).toBe('E_ROTATION_INVALID');
    const redated = { ...rotate(p, a), createdAt: '2030-01-01T00:00:00.000Z' };
    expect(
      thrown(() => verifyKeyChange({ pluginId: plugin, pinned: p, signer: a, statements: [redated] })).code,
    ).toBe('E_ROTATION_INVALID');
  });

  it('stops on a cycle that never reaches the signer', () => {
    const error = thrown(() =>
      verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: [rotate(p, a), rotate(a, p)] }),
    );
    expect(error.code).toBe('E_ROTATION_INVALID');
    expect(error.message).toMatch(/never reach the signing key .*loop back/);
  });

  it('refuses a chain with a gap: a statement signed by a key not in the chain', () => {
    const error = thrown(() =>
      verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: [rotate(p, a), rotate(x, b)] }),
    );
    expect(error).toMatchObject({ code: 'E_ROTATION_INVALID', details: { strandedIndex: 1 } });
    expect(error.message).toContain(
      `rotation statement [1] is signed by key ${x.keyId}, which is not in the chain`,
    );
  });

  it('refuses a chain that ends before the signer', () => {
    const error = thrown(() =>
      verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: [rotate(p, a)] }),
    );
    expect(error.code).toBe('E_ROTATION_INVALID');
    expect(error.message).toContain(`the chain ends at key ${a.keyId}`);
  });

  it('reports no chain at all as E_UNTRUSTED_KEY naming both keys and how to rotate', () => {
    for (const statements of [[], [rotate(x, b)]]) {
      const error = thrown(() => verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements }));
      expect(error).toMatchObject({
        code: 'E_UNTRUSTED_KEY',
        details: { pluginId: plugin, pinnedKeyId: p.keyId, signerKeyId: b.keyId },
      });
      expect(error.message).toContain(`pinned to key ${p.keyId}`);
      expect(error.message).toContain(`signed by key ${b.keyId}`);
      expect(error.message).toContain(`the holder of key ${p.keyId} signs a rotation statement`);
    }
    const error = thrown(() =>
      verifyKeyChange({ pluginId: plugin, pinned: p, signer: b, statements: [rotate(x, b)] }),
    );
    expect(error.message).toContain(`(the 1 statement(s) given start from key(s) ${x.keyId})`);
  });
});
