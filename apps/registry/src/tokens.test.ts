import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isCmpkgError } from '@cmpkg/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from './blob-store.js';
import { openRegistryDatabase } from './database.js';
import { RegistryStore } from './registry-store.js';
import { removeTempDirs, tempDir } from './testing/fixtures.js';
import { bearerToken, createToken, generateToken, hashToken, isTokenId, isTokenShaped } from './tokens.js';

afterAll(removeTempDirs);

describe('token format', () => {
  it('makes cmpkg_ + 43 base64url characters and tok_ + 16 hex, different every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { id, token, hash } = generateToken();
      expect(token).toMatch(/^cmpkg_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token.slice(6), 'base64url')).toHaveLength(32);
      expect(id).toMatch(/^tok_[0-9a-f]{16}$/);
      expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
      expect(isTokenShaped(token)).toBe(true);
      expect(isTokenId(id)).toBe(true);
      seen.add(token);
    }
    expect(seen.size).toBe(50);
  });

  it('recognises only well-formed tokens, ids and bearer headers', () => {
    expect(isTokenShaped('cmpkg_short')).toBe(false);
    expect(isTokenShaped(`npm_${'a'.repeat(43)}`)).toBe(false);
    expect(isTokenShaped(`cmpkg_${'a'.repeat(43)}x`)).toBe(false);
    expect(isTokenId('tok_0123')).toBe(false);
    expect(isTokenId('tok_0123456789ABCDEF')).toBe(false);
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc  ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('tokens in the database', () => {
  let store: RegistryStore;
  beforeAll(async () => {
    const dir = tempDir();
    const db = await openRegistryDatabase(`sqlite:${join(dir, 'registry.db')}`);
    store = new RegistryStore(db, new BlobStore(join(dir, 'blobs')));
  });
  afterAll(() => store.close());

  it('stores only the hash, authenticates by it, and forgets nothing but the token', async () => {
    const created = await createToken(store, { user: 'alice', admin: true, note: 'laptop' });
    expect(created).toEqual({
      id: expect.stringMatching(/^tok_/),
      token: expect.stringMatching(/^cmpkg_/),
      user: 'alice',
      admin: true,
    });
    const rows = await store.db.query((db) => db.selectFrom('registry_tokens').selectAll().execute());
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(hashToken(created.token));
    expect(JSON.stringify(rows)).not.toContain(created.token);

    const holder = await store.authenticate(hashToken(created.token));
    expect(holder).toMatchObject({
      id: created.id,
      user: 'alice',
      admin: true,
      note: 'laptop',
      revokedAt: null,
    });
    const other = `${created.token.slice(0, -1)}${created.token.endsWith('A') ? 'B' : 'A'}`;
    expect(await store.authenticate(hashToken(other))).toBeUndefined();
  });

  it('lists tokens without them and revokes them for good', async () => {
    const created = await createToken(store, { user: 'bob' });
    const listed = (await store.listTokens()).find((t) => t.id === created.id);
    expect(listed).toEqual({
      id: created.id,
      user: 'bob',
      admin: false,
      note: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify(await store.listTokens())).not.toContain(created.token);
    const revoked = await store.revokeToken(created.id);
    expect(revoked.revokedAt).toMatch(/Z$/);
    expect(await store.authenticate(hashToken(created.token))).toBeUndefined();
    // Revoking again changes nothing.
    expect((await store.revokeToken(created.id)).revokedAt).toBe(revoked.revokedAt);
  });

  it('lets only an admin or the holder revoke, and says when a token is unknown', async () => {
    const a = await createToken(store, { user: 'carol' });
    const b = await createToken(store, { user: 'dave' });
    const code = async (promise: Promise<unknown>) =>
      promise.then(
        () => 'ok',
        (err: unknown) => (isCmpkgError(err) ? err.code : String(err)),
      );
    expect(await code(store.revokeToken(a.id, { user: 'dave', admin: false, tokenId: b.id }))).toBe(
      'E_REGISTRY_FORBIDDEN',
    );
    expect(await code(store.revokeToken('tok_ffffffffffffffff'))).toBe('E_REGISTRY_NOT_FOUND');
    expect(await code(store.revokeToken(a.id, { user: 'carol', admin: false, tokenId: a.id }))).toBe('ok');
    expect(
      await code(store.revokeToken(b.id, { user: 'root', admin: true, tokenId: 'tok_0000000000000000' })),
    ).toBe('ok');
  });

  it.each([[''], ['-alice'], ['a b'], ['x'.repeat(101)], ['al/ice']])(
    'refuses the user name %j',
    async (user) => {
      const before = (await store.listTokens()).length;
      await expect(createToken(store, { user })).rejects.toMatchObject({ code: 'E_REGISTRY_BAD_REQUEST' });
      expect((await store.listTokens()).length).toBe(before);
    },
  );

  it('refuses a note over 1000 characters', async () => {
    await expect(createToken(store, { user: 'erin', note: 'n'.repeat(1001) })).rejects.toMatchObject({
      code: 'E_REGISTRY_BAD_REQUEST',
    });
  });
});
