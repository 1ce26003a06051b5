import { formatPublicKey, generateKeyPair, type PackResult } from '@cmpkg/packager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, pack, removeTempDirs, startTestRegistry, type TestRegistry } from './testing/fixtures.js';

/**
 * The owner's and admin's API over real HTTP: deprecate, yank, dist-tags, keys, tokens, whoami,
 * malformed bodies and rate limits. Refusals change nothing.
 */

let t: TestRegistry;
let alice: string;
let bob: string;
let root: string;
const key = generateKeyPair();
const second = generateKeyPair();
const pkgs: Record<string, PackResult> = {};

beforeAll(async () => {
  t = await startTestRegistry();
  alice = await t.token('alice');
  bob = await t.token('bob');
  root = await t.token('root', true);
  for (const version of ['1.0.0', '1.1.0', '2.0.0']) {
    pkgs[version] = await pack(key, version);
    expect((await t.publish('sample', pkgs[version]!.file, alice)).status).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  removeTempDirs();
});

/** The refusal's code, after checking its status and that storage did not change. */
async function refusal(
  attempt: () => Promise<Response>,
  status: number,
): Promise<{ code: string; message: string }> {
  const before = await t.snapshot();
  // last_used_at moves on use; what must not change is which tokens exist and their state.
  const tokenState = async () =>
    (await t.registry.store.listTokens()).map(({ lastUsedAt: _, ...rest }) => rest);
  const tokens = await tokenState();
  const response = await attempt();
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = await json(response);
  expect(await t.snapshot()).toEqual(before);
  expect(await tokenState()).toEqual(tokens);
  return body.error;
}

const resolved = async (spec: string) => {
  const response = await t.call(`/sample/${encodeURIComponent(spec)}`);
  return response.status === 200 ? (await json(response)).version : (await json(response)).error.code;
};

describe('deprecate', () => {
  it('deprecates the matching versions; resolution skips them and the document says why', async () => {
    const response = await t.call('/-/plugins/sample/deprecate', {
      method: 'POST',
      token: alice,
      json: { range: '1.1.0', message: 'use 1.0.0 or 2.x' },
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ ok: true, versions: ['1.1.0'] });
    expect(await resolved('^1')).toBe('1.0.0');
    expect(await resolved('~1.1')).toBe('1.1.0'); // npm's fallback: only a deprecated one matches
    const doc = await json(await t.call('/sample/1.1.0'));
    expect(doc.deprecated).toBe('use 1.0.0 or 2.x');
    // The same message again changes nothing.
    const again = await t.call('/-/plugins/sample/deprecate', {
      method: 'POST',
      token: alice,
      json: { range: '1.1.0', message: 'use 1.0.0 or 2.x' },
    });
    expect(await json(again)).toEqual({ ok: true, versions: [] });
  });

  it('un-deprecates with an empty message', async () => {
    const response = await t.call('/-/plugins/sample/deprecate', {
      method: 'POST',
      token: alice,
      json: { range: '<2', message: '' },
    });
    expect(await json(response)).toEqual({ ok: true, versions: ['1.1.0'] });
    expect(await resolved('^1')).toBe('1.1.0');
    expect((await json(await t.call('/sample/1.1.0'))).deprecated).toBeUndefined();
  });

  it('refuses a non-owner, an unknown plugin, an invalid range and a range without matches', async () => {
    const call = (path: string, token: string, body: unknown) => () =>
      t.call(path, { method: 'POST', token, json: body });
    expect(
      (await refusal(call('/-/plugins/sample/deprecate', bob, { range: '*', message: 'x' }), 403)).code,
    ).toBe('E_REGISTRY_FORBIDDEN');
    expect(
      (await refusal(call('/-/plugins/nope/deprecate', alice, { range: '*', message: 'x' }), 404)).code,
    ).toBe('E_REGISTRY_NOT_FOUND');
    expect(
      (await refusal(call('/-/plugins/sample/deprecate', alice, { range: '^^1', message: 'x' }), 400)).code,
    ).toBe('E_REGISTRY_INVALID_RANGE');
    expect(
      (await refusal(call('/-/plugins/sample/deprecate', alice, { range: '^9', message: 'x' }), 404)).code,
    ).toBe('E_REGISTRY_NO_MATCH');
  });
});

describe('yank', () => {
  it('yanks latest: latest moves to the highest remaining stable version, other tags on it go', async () => {
    const tag = await t.call('/-/plugins/sample/dist-tags/next', {
      method: 'PUT',
      token: alice,
      json: { version: '2.0.0' },
    });
    expect(await json(tag)).toEqual({ ok: true, distTags: { latest: '2.0.0', next: '2.0.0' } });
    const response = await t.call('/-/plugins/sample/yank', {
      method: 'POST',
      token: alice,
      json: { version: '2.0.0', yanked: true },
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      ok: true,
      version: '2.0.0',
      yanked: true,
      distTags: { latest: '1.1.0' },
    });
    expect(await resolved('*')).toBe('1.1.0');
    expect(await resolved('^2')).toBe('E_REGISTRY_NO_MATCH');
    // An exact version is still served, marked, and so is its tarball.
    expect(await json(await t.call('/sample/2.0.0'))).toMatchObject({ version: '2.0.0', yanked: true });
    expect((await t.call('/sample/-/sample-2.0.0.cmpkg')).status).toBe(200);
    const doc = await json(await t.call('/sample'));
    expect(doc['dist-tags']).toEqual({ latest: '1.1.0' });
    expect(doc.versions['2.0.0'].yanked).toBe(true);
  });

  it('un-yanks: the version is resolvable again and takes latest back', async () => {
    const response = await t.call('/-/plugins/sample/yank', {
      method: 'POST',
      token: alice,
      json: { version: '2.0.0', yanked: false },
    });
    expect(await json(response)).toEqual({
      ok: true,
      version: '2.0.0',
      yanked: false,
      distTags: { latest: '2.0.0' },
    });
    expect(await resolved('^2')).toBe('2.0.0');
    expect((await json(await t.call('/sample/2.0.0'))).yanked).toBeUndefined();
  });

  it('removes latest when no stable version is left', async () => {
    const other = await pack(key, '1.0.0', { id: 'lonely' });
    expect((await t.publish('lonely', other.file, alice)).status).toBe(201);
    const response = await t.call('/-/plugins/lonely/yank', {
      method: 'POST',
      token: alice,
      json: { version: '1.0.0' },
    });
    expect(await json(response)).toEqual({ ok: true, version: '1.0.0', yanked: true, distTags: {} });
    expect((await t.call('/lonely/latest')).status).toBe(404);
  });

  it('refuses a non-owner and an unknown version', async () => {
    const call = (token: string, body: unknown) => () =>
      t.call('/-/plugins/sample/yank', { method: 'POST', token, json: body });
    expect((await refusal(call(bob, { version: '1.0.0' }), 403)).code).toBe('E_REGISTRY_FORBIDDEN');
    expect((await refusal(call(alice, { version: '9.9.9' }), 404)).code).toBe('E_REGISTRY_NOT_FOUND');
  });
});

describe('dist-tags', () => {
  it('sets and removes a tag', async () => {
    const set = await t.call('/-/plugins/sample/dist-tags/beta', {
      method: 'PUT',
      token: alice,
      json: { version: '1.0.0' },
    });
    expect(await json(set)).toEqual({ ok: true, distTags: { latest: '2.0.0', beta: '1.0.0' } });
    expect(await resolved('beta')).toBe('1.0.0');
    const removed = await t.call('/-/plugins/sample/dist-tags/beta', { method: 'DELETE', token: alice });
    expect(await json(removed)).toEqual({ ok: true, distTags: { latest: '2.0.0' } });
    expect(await resolved('beta')).toBe('E_REGISTRY_NOT_FOUND');
  });

  it('refuses what it must', async () => {
    const put = (tag: string, token: string, version: string) => () =>
      t.call(`/-/plugins/sample/dist-tags/${tag}`, { method: 'PUT', token, json: { version } });
    expect((await refusal(put('beta', bob, '1.0.0'), 403)).code).toBe('E_REGISTRY_FORBIDDEN');
    expect((await refusal(put('1.x', alice, '1.0.0'), 400)).code).toBe('E_REGISTRY_BAD_REQUEST');
    expect((await refusal(put('beta', alice, '9.0.0'), 404)).code).toBe('E_REGISTRY_NOT_FOUND');
    const del =
      (tag: string, token = alice) =>
      () =>
        t.call(`/-/plugins/sample/dist-tags/${tag}`, { method: 'DELETE', token });
    expect((await refusal(del('latest'), 400)).message).toMatch(/"latest" dist-tag cannot be removed/);
    expect((await refusal(del('nothing'), 404)).code).toBe('E_REGISTRY_NOT_FOUND');
    expect((await refusal(del('latest', bob), 400)).code).toBe('E_REGISTRY_BAD_REQUEST');
  });

  it('refuses a tag on a yanked version', async () => {
    const other = await pack(key, '1.0.0', { id: 'gone' });
    await t.publish('gone', other.file, alice);
    await t.call('/-/plugins/gone/yank', { method: 'POST', token: alice, json: { version: '1.0.0' } });
    const body = await refusal(
      () =>
        t.call('/-/plugins/gone/dist-tags/latest', {
          method: 'PUT',
          token: alice,
          json: { version: '1.0.0' },
        }),
      400,
    );
    expect(body.message).toMatch(/yanked/);
  });
});

describe('keys', () => {
  it('lists keys publicly', async () => {
    const response = await t.call('/-/plugins/sample/keys');
    expect(await json(response)).toEqual({
      owner: 'alice',
      keys: [{ keyId: key.keyId, publicKey: key.encoded, addedAt: expect.any(String), addedBy: 'alice' }],
    });
    expect((await t.call('/-/plugins/nope/keys')).status).toBe(404);
  });

  it('adds a key (201, then 200 when already there); packages it signs are then accepted', async () => {
    const added = await t.call('/-/plugins/sample/keys', {
      method: 'POST',
      token: alice,
      json: { publicKey: formatPublicKey(second) },
    });
    expect(added.status).toBe(201);
    expect(await json(added)).toEqual({ ok: true, keyId: second.keyId });
    const again = await t.call('/-/plugins/sample/keys', {
      method: 'POST',
      token: alice,
      json: { publicKey: second.encoded },
    });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({ ok: true, keyId: second.keyId });
    const signed = await pack(second, '2.0.0', { version: '2.0.0' });
    // 2.0.0 exists: the key passes and the version check answers.
    expect((await json(await t.publish('sample', signed.file, alice))).error.code).toBe(
      'E_REGISTRY_VERSION_EXISTS',
    );
  });

  it('refuses a non-owner, a malformed key, and removing the last key', async () => {
    const post = (token: string, publicKey: string) => () =>
      t.call('/-/plugins/sample/keys', { method: 'POST', token, json: { publicKey } });
    expect((await refusal(post(bob, formatPublicKey(generateKeyPair())), 403)).code).toBe(
      'E_REGISTRY_FORBIDDEN',
    );
    expect((await refusal(post(alice, 'not a key'), 400)).code).toBe('E_KEY_FORMAT');
    const del =
      (keyId: string, token = alice) =>
      () =>
        t.call(`/-/plugins/sample/keys/${keyId}`, { method: 'DELETE', token });
    expect((await refusal(del(key.keyId, bob), 403)).code).toBe('E_REGISTRY_FORBIDDEN');
    expect((await refusal(del('0000000000000000'), 404)).code).toBe('E_REGISTRY_NOT_FOUND');

    const removed = await t.call(`/-/plugins/sample/keys/${second.keyId}`, {
      method: 'DELETE',
      token: alice,
    });
    expect(await json(removed)).toEqual({ ok: true });
    expect((await refusal(del(key.keyId), 400)).message).toMatch(/last key/);
    // The removed key no longer signs for the plugin.
    const signed = await pack(second, '3.0.0', { version: '2.0.0' });
    expect((await json(await t.publish('sample', signed.file, alice))).error.code).toBe(
      'E_REGISTRY_KEY_NOT_REGISTERED',
    );
  });
});

describe('tokens and whoami', () => {
  it('tells the holder who they are', async () => {
    const response = await t.call('/-/whoami', { token: alice });
    expect(await json(response)).toEqual({
      user: 'alice',
      admin: false,
      tokenId: expect.stringMatching(/^tok_/),
    });
    expect((await t.call('/-/whoami')).status).toBe(401);
  });

  it('lets an admin create, list and revoke tokens', async () => {
    const created = await t.call('/-/tokens', {
      method: 'POST',
      token: root,
      json: { user: 'carol', note: 'ci' },
    });
    expect(created.status).toBe(201);
    const token = await json(created);
    expect(token).toEqual({
      id: expect.stringMatching(/^tok_[0-9a-f]{16}$/),
      token: expect.stringMatching(/^cmpkg_/),
      user: 'carol',
      admin: false,
    });
    expect(await json(await t.call('/-/whoami', { token: token.token }))).toMatchObject({ user: 'carol' });

    const list = await json(await t.call('/-/tokens', { token: root }));
    expect(list.tokens.find((x: { id: string }) => x.id === token.id)).toEqual({
      id: token.id,
      user: 'carol',
      admin: false,
      note: 'ci',
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
      revokedAt: null,
    });
    expect(JSON.stringify(list)).not.toContain(token.token);

    expect(await json(await t.call(`/-/tokens/${token.id}`, { method: 'DELETE', token: root }))).toEqual({
      ok: true,
    });
    expect((await t.call('/-/whoami', { token: token.token })).status).toBe(401);
  });

  it('lets a holder revoke their own token, but not another’s', async () => {
    const mine = await json(
      await t.call('/-/tokens', { method: 'POST', token: root, json: { user: 'dave' } }),
    );
    const theirs = await json(
      await t.call('/-/tokens', { method: 'POST', token: root, json: { user: 'erin' } }),
    );
    expect(
      (await refusal(() => t.call(`/-/tokens/${theirs.id}`, { method: 'DELETE', token: mine.token }), 403))
        .code,
    ).toBe('E_REGISTRY_FORBIDDEN');
    expect((await t.call(`/-/tokens/${mine.id}`, { method: 'DELETE', token: mine.token })).status).toBe(200);
    expect((await t.call('/-/whoami', { token: mine.token })).status).toBe(401);
    expect(
      (await refusal(() => t.call('/-/tokens/tok_ffffffffffffffff', { method: 'DELETE', token: root }), 404))
        .code,
    ).toBe('E_REGISTRY_NOT_FOUND');
  });

  it('refuses token management to non-admins', async () => {
    expect(
      (
        await refusal(
          () => t.call('/-/tokens', { method: 'POST', token: alice, json: { user: 'mallory', admin: true } }),
          403,
        )
      ).code,
    ).toBe('E_REGISTRY_FORBIDDEN');
    expect((await refusal(() => t.call('/-/tokens', { token: alice }), 403)).code).toBe(
      'E_REGISTRY_FORBIDDEN',
    );
    expect(
      (
        await refusal(
          () => t.call('/-/tokens', { method: 'POST', token: root, json: { user: 'bad name' } }),
          400,
        )
      ).code,
    ).toBe('E_REGISTRY_BAD_REQUEST');
  });
});

describe('malformed JSON bodies', () => {
  const routes: Array<[string, string, string]> = [
    ['POST', '/-/plugins/sample/deprecate', 'alice'],
    ['POST', '/-/plugins/sample/yank', 'alice'],
    ['PUT', '/-/plugins/sample/dist-tags/beta', 'alice'],
    ['POST', '/-/plugins/sample/keys', 'alice'],
    ['POST', '/-/tokens', 'root'],
  ];
  const bodies: Array<[string, string, Record<string, string>]> = [
    ['invalid JSON', '{"range": ', { 'content-type': 'application/json' }],
    ['an empty JSON body', '', { 'content-type': 'application/json' }],
    ['a JSON array', '[]', { 'content-type': 'application/json' }],
    ['a JSON string', '"x"', { 'content-type': 'application/json' }],
    [
      'an object with wrong fields',
      '{"version": 1, "range": 2, "publicKey": 3, "user": 4, "yanked": "yes"}',
      { 'content-type': 'application/json' },
    ],
    ['a text body', 'range=*', { 'content-type': 'text/plain' }],
    ['a raw body', 'xx', { 'content-type': 'application/octet-stream' }],
    ['no body', '', {}],
  ];
  for (const [method, path, who] of routes) {
    it.each(bodies)(
      `${method} ${path} with %s → 400 E_REGISTRY_BAD_REQUEST`,
      async (_what, body, headers) => {
        const token = who === 'root' ? root : alice;
        const error = await refusal(
          () =>
            t.call(path, {
              method,
              token,
              headers,
              ...(body !== '' || headers['content-type'] ? { body } : {}),
            }),
          400,
        );
        expect(error.code).toBe('E_REGISTRY_BAD_REQUEST');
      },
    );
  }

  it('names the field that is wrong', async () => {
    const error = await refusal(
      () =>
        t.call('/-/plugins/sample/yank', {
          method: 'POST',
          token: alice,
          json: { version: '1.0.0', yanked: 'yes' },
        }),
      400,
    );
    expect(error.message).toMatch(/^body\.yanked: /);
  });
});

describe('rate limits', () => {
  it('limits writes per token with a JSON 429 and Retry-After', async () => {
    const limited = await startTestRegistry({ REGISTRY_PUBLISH_RATE_LIMIT: '2' });
    try {
      const owner = await limited.token('alice');
      const other = await limited.token('alice');
      const pkg = await pack(key, '1.0.0');
      expect((await limited.publish('sample', pkg.file, owner)).status).toBe(201);
      const deprecate = (token: string) =>
        limited.call('/-/plugins/sample/deprecate', {
          method: 'POST',
          token,
          json: { range: '*', message: 'x' },
        });
      expect((await deprecate(owner)).status).toBe(200);
      const before = await limited.snapshot();
      const response = await deprecate(owner);
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await json(response)).toEqual({
        error: { code: 'E_REGISTRY_RATE_LIMITED', message: expect.stringContaining('2 requests per minute') },
      });
      expect(await limited.snapshot()).toEqual(before);
      // Another token has its own budget.
      expect((await deprecate(other)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('limits /-/whoami and /-/tokens per IP', async () => {
    const limited = await startTestRegistry({ REGISTRY_TOKEN_RATE_LIMIT: '3' });
    try {
      const token = await limited.token('alice', true);
      for (let i = 0; i < 2; i++) expect((await limited.call('/-/whoami', { token })).status).toBe(200);
      expect((await limited.call('/-/tokens', { token })).status).toBe(200);
      const response = await limited.call('/-/whoami', { token });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await json(response)).error.code).toBe('E_REGISTRY_RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });

  it('answers 429 after too many failed authentications, even to a good token', async () => {
    const limited = await startTestRegistry({ REGISTRY_TOKEN_RATE_LIMIT: '3' });
    try {
      const good = await limited.token('alice');
      const bad = `cmpkg_${'B'.repeat(43)}`;
      const deprecate = (token: string) =>
        limited.call('/-/plugins/sample/deprecate', {
          method: 'POST',
          token,
          json: { range: '*', message: 'x' },
        });
      for (let i = 0; i < 3; i++) expect((await deprecate(bad)).status).toBe(401);
      const response = await deprecate(good);
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await json(response)).error.code).toBe('E_REGISTRY_RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });
});
