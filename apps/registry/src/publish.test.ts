import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import {
  createRotation,
  generateKeyPair,
  type KeyPair,
  type PackResult,
  verifyPackage,
} from '@cmpkg/packager';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  json,
  pack,
  rawUpload,
  removeTempDirs,
  rewritePackage,
  type StorageSnapshot,
  startTestRegistry,
  type TestRegistry,
} from './testing/fixtures.js';

/**
 * PUT /:plugin over real HTTP against a registry on a SQLite file: every refusal, and after each
 * one, nothing stored (no row, no blob, an empty tmp dir).
 */

let t: TestRegistry;
let alice: string;
let bob: string;
const keys: Record<'a' | 'b' | 'c' | 'd', KeyPair> = {
  a: generateKeyPair(),
  b: generateKeyPair(),
  c: generateKeyPair(),
  d: generateKeyPair(),
};
const pkgs: Record<string, PackResult> = {};

beforeAll(async () => {
  t = await startTestRegistry();
  alice = await t.token('alice');
  bob = await t.token('bob');
  const made = await Promise.all([
    pack(keys.a, '1.0.0'),
    pack(keys.a, '1.1.0'),
    pack(keys.b, '2.0.0'),
    pack(keys.c, '2.0.0', { rotation: [createRotation({ pluginId: 'sample', from: keys.a, to: keys.c })] }),
    pack(keys.a, '1.0.0', { id: 'other' }),
    pack(keys.a, '1.1.0', { id: 'other' }),
    pack(keys.a, '1.0.0', { id: 'racer' }),
  ]);
  [pkgs.a100, pkgs.a110, pkgs.b200, pkgs.c200rot, pkgs.other100, pkgs.other110, pkgs.racer] = made;
});
afterAll(async () => {
  await t?.close();
  removeTempDirs();
});

async function error(response: Response): Promise<{ code: string; message: string }> {
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error)).toEqual(['code', 'message']);
  return body.error;
}

/** Runs `attempt` and checks the refusal, then that storage is exactly as before. */
async function refused(
  attempt: () => Promise<Response>,
  status: number,
  code: string,
  message?: RegExp,
): Promise<{ code: string; message: string }> {
  const before: StorageSnapshot = await t.snapshot();
  const response = await attempt();
  expect(response.status).toBe(status);
  const body = await error(response);
  expect(body.code).toBe(code);
  if (message) expect(body.message).toMatch(message);
  expect(await t.snapshot()).toEqual(before);
  return body;
}

describe('publish', () => {
  it('registers the owner and the signer key on the first publish', async () => {
    const response = await t.publish('sample', pkgs.a100!.file, alice);
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({
      ok: true,
      name: 'sample',
      version: '1.0.0',
      integrity: pkgs.a100!.integrity,
      digest: pkgs.a100!.digest,
      size: pkgs.a100!.size,
      keyId: keys.a.keyId,
      tarball: `${t.url}/sample/-/sample-1.0.0.cmpkg`,
      firstPublish: true,
      distTags: { latest: '1.0.0' },
    });
    const owner = await (await t.call('/-/plugins/sample/keys')).json();
    expect(owner).toEqual({
      owner: 'alice',
      keys: [
        { keyId: keys.a.keyId, publicKey: keys.a.encoded, addedAt: expect.any(String), addedBy: 'alice' },
      ],
    });
    const snap = await t.snapshot();
    expect(snap.blobs).toEqual([pkgs.a100!.digest.slice(7)]);
    expect(snap.tmp).toEqual([]);
  });

  it('publishes a next version by the owner with the registered key', async () => {
    const response = await t.publish('sample', pkgs.a110!.file, alice);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({
      version: '1.1.0',
      firstPublish: false,
      distTags: { latest: '1.1.0' },
    });
  });

  it('refuses an existing version with 409', async () => {
    await refused(
      () => t.publish('sample', pkgs.a100!.file, alice),
      409,
      'E_REGISTRY_VERSION_EXISTS',
      /sample@1\.0\.0 is already published/,
    );
  });

  it('refuses another user than the owner with 403', async () => {
    await refused(
      () => t.publish('sample', pkgs.b200!.file, bob),
      403,
      'E_REGISTRY_FORBIDDEN',
      /owned by "alice"/,
    );
  });

  it('refuses a signer that is not registered with 403', async () => {
    const body = await refused(
      () => t.publish('sample', pkgs.b200!.file, alice),
      403,
      'E_REGISTRY_KEY_NOT_REGISTERED',
    );
    expect(body.message).toContain(keys.b.keyId);
    expect(body.message).toContain(keys.a.keyId);
  });

  it('refuses a forged rotation statement with the packager’s E_ROTATION_INVALID', async () => {
    // "a → d", but signed by b: the statement claims a's authority without a's key.
    const forged = createRotation({
      pluginId: 'sample',
      from: { ...keys.b, encoded: keys.a.encoded, publicKey: keys.a.publicKey, keyId: keys.a.keyId },
      to: keys.d,
    });
    const pkg = await pack(keys.d, '2.0.0', { rotation: [forged] });
    await refused(() => t.publish('sample', pkg.file, alice), 400, 'E_ROTATION_INVALID');
  });

  it('accepts a signer reached by a rotation chain from a registered key, and registers it', async () => {
    const response = await t.publish('sample', pkgs.c200rot!.file, alice);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({
      version: '2.0.0',
      keyId: keys.c.keyId,
      distTags: { latest: '2.0.0' },
    });
    const registered = await json(await t.call('/-/plugins/sample/keys'));
    expect(registered.keys.map((k: { keyId: string }) => k.keyId)).toEqual([keys.a.keyId, keys.c.keyId]);
  });

  it('lets a second user own a second plugin, and nobody else publish it', async () => {
    const response = await t.publish('other', pkgs.other100!.file, bob);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ firstPublish: true });
    await refused(() => t.publish('other', pkgs.other110!.file, alice), 403, 'E_REGISTRY_FORBIDDEN');
  });

  it('refuses an archive of another plugin than the URL names', async () => {
    await refused(
      () => t.publish('sample-two', pkgs.a100!.file, alice),
      400,
      'E_REGISTRY_NAME_MISMATCH',
      /package of plugin "sample", but it was uploaded to \/sample-two/,
    );
  });

  it.each(['plugins', 'favicon.ico', 'robots.txt'])('refuses the reserved name %s', async (name) => {
    await refused(() => t.publish(name, pkgs.a100!.file, alice), 400, 'E_REGISTRY_NAME_MISMATCH', /reserved/);
  });

  it.each(['Sample', '_x', 'a%20b'])('refuses the invalid plugin id %s', async (name) => {
    await refused(
      () => t.publish(name, pkgs.a100!.file, alice),
      400,
      'E_REGISTRY_BAD_REQUEST',
      /not a valid plugin id/,
    );
  });

  it('refuses an invalid ?tag=', async () => {
    await refused(
      () => t.publish('sample', pkgs.b200!.file, alice, '?tag=1.x'),
      400,
      'E_REGISTRY_BAD_REQUEST',
      /dist-tag/,
    );
  });

  it('refuses an unsigned archive (no cmpkg.sig) with E_PKG_NO_SIGNATURE', async () => {
    const unsigned = await rewritePackage(pkgs.b200!.file, (entries) =>
      entries.filter((e) => e.path !== 'cmpkg.sig'),
    );
    await refused(() => t.publish('sample', unsigned, alice), 400, 'E_PKG_NO_SIGNATURE');
  });

  it('refuses a tampered archive with the packager’s own code', async () => {
    const altered = await rewritePackage(pkgs.b200!.file, (entries) =>
      entries.map((e) =>
        e.path === 'cmpkg.json'
          ? {
              path: e.path,
              data: Buffer.from(Buffer.from(e.data).toString('utf8').replace('"2.0.0"', '"2.0.1"')),
            }
          : e,
      ),
    );
    const expected = await verifyPackage(altered).then(
      () => 'verified',
      (err: { code: string }) => err.code,
    );
    expect(expected).toBe('E_SIGNATURE_INVALID');
    await refused(() => t.publish('sample', altered, alice), 400, expected);

    const swapped = await rewritePackage(pkgs.b200!.file, (entries) =>
      entries.map((e) => {
        if (!e.path.startsWith('migrations/')) return e;
        const data = new Uint8Array(e.data);
        data[10] = data[10] === 0x41 ? 0x42 : 0x41;
        return { path: e.path, data };
      }),
    );
    await refused(() => t.publish('sample', swapped, alice), 400, 'E_PKG_DIGEST_MISMATCH');

    const garbage = new Uint8Array(readFileSync(pkgs.b200!.file)).slice(0, 200);
    await refused(() => t.publish('sample', garbage, alice), 400, 'E_PKG_TRUNCATED');
  });

  it('refuses a missing, malformed, unknown or revoked token with 401 and WWW-Authenticate', async () => {
    const attempts: Array<[string, () => Promise<Response>]> = [
      [
        'missing',
        () =>
          t.call('/sample', {
            method: 'PUT',
            body: readFileSync(pkgs.b200!.file),
            headers: { 'content-type': 'application/octet-stream' },
          }),
      ],
      [
        'basic',
        () =>
          t.call('/sample', {
            method: 'PUT',
            body: 'x',
            headers: { authorization: 'Basic YTpi', 'content-type': 'application/octet-stream' },
          }),
      ],
      ['unknown', () => t.publish('sample', pkgs.b200!.file, `cmpkg_${'A'.repeat(43)}`)],
      ['garbage', () => t.publish('sample', pkgs.b200!.file, 'not-a-token')],
    ];
    for (const [, attempt] of attempts) {
      const before = await t.snapshot();
      const response = await attempt();
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="cmpkg"');
      expect((await error(response)).code).toBe('E_REGISTRY_UNAUTHORIZED');
      expect(await t.snapshot()).toEqual(before);
    }
    const revocable = await t.token('alice');
    const [info] = (await t.registry.store.listTokens()).slice(-1);
    await t.registry.store.revokeToken(info!.id);
    await refused(
      () => t.publish('sample', pkgs.b200!.file, revocable),
      401,
      'E_REGISTRY_UNAUTHORIZED',
      /revoked/,
    );
  });

  it('refuses a body that is not application/octet-stream with 400', async () => {
    await refused(
      () => t.call('/sample', { method: 'PUT', token: alice, json: { name: 'sample' } }),
      400,
      'E_REGISTRY_BAD_REQUEST',
      /application\/octet-stream/,
    );
    await refused(
      () =>
        t.call('/sample', {
          method: 'PUT',
          token: alice,
          body: 'hello',
          headers: { 'content-type': 'text/plain' },
        }),
      400,
      'E_REGISTRY_BAD_REQUEST',
      /Content-Type/,
    );
    await refused(
      () =>
        t.call('/sample', {
          method: 'PUT',
          token: alice,
          body: '{',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'E_REGISTRY_BAD_REQUEST',
    );
    await refused(
      () =>
        t.call('/sample', {
          method: 'PUT',
          token: alice,
          headers: { 'content-type': 'application/octet-stream' },
        }),
      400,
      'E_REGISTRY_BAD_REQUEST',
    );
  });

  it('accepts exactly one of two concurrent publishes of the same version', async () => {
    const before = await t.snapshot();
    const responses = await Promise.all([
      t.publish('racer', pkgs.racer!.file, alice),
      t.publish('racer', pkgs.racer!.file, alice),
    ]);
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409]);
    const loser = responses.find((r) => r.status === 409)!;
    expect((await error(loser)).code).toBe('E_REGISTRY_VERSION_EXISTS');
    const after = await t.snapshot();
    expect(after.rows.registry_versions).toBe(before.rows.registry_versions! + 1);
    expect(after.rows.registry_plugins).toBe(before.rows.registry_plugins! + 1);
    expect(after.blobs).toEqual([...before.blobs, pkgs.racer!.digest.slice(7)].sort());
    expect(after.tmp).toEqual([]);
  });

  it('sets the ?tag= given instead of latest', async () => {
    const pkg = await pack(keys.a, '1.0.0', { id: 'tagged' });
    const response = await t.publish('tagged', pkg.file, alice, '?tag=next');
    expect(await response.json()).toMatchObject({ distTags: { next: '1.0.0' } });
  });
});

describe('publish size limits', () => {
  let small: TestRegistry;
  let token: string;
  beforeAll(async () => {
    small = await startTestRegistry({ REGISTRY_MAX_UPLOAD: '2k', REGISTRY_MAX_EXTRACTED: '64k' });
    token = await small.token('alice');
  });
  afterAll(() => small?.close());

  async function unchanged<T>(work: () => Promise<T>): Promise<T> {
    const before = await small.snapshot();
    const result = await work();
    expect(await small.snapshot()).toEqual(before);
    return result;
  }

  it('answers 413 from Content-Length alone, before reading the body', async () => {
    const response = await unchanged(() =>
      rawUpload(small.url, '/sample', {
        token,
        contentLength: 10 * 1024 * 1024,
        chunks: [Buffer.alloc(100)],
        end: false,
      }),
    );
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toEqual({
      error: { code: 'E_REGISTRY_TOO_LARGE', message: expect.stringContaining('2048 bytes') },
    });
  });

  it('answers 413 while streaming a chunked body past the cap, and keeps no temp file', async () => {
    const chunks = Array.from({ length: 64 }, () => Buffer.alloc(1024, 7));
    const response = await unchanged(() => rawUpload(small.url, '/sample', { token, chunks }));
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error.code).toBe('E_REGISTRY_TOO_LARGE');
    expect(response.headers['transfer-encoding']).toBeUndefined();
  });

  it('refuses a package that expands past REGISTRY_MAX_EXTRACTED with E_PKG_TOO_LARGE', async () => {
    const big = await startTestRegistry({ REGISTRY_MAX_EXTRACTED: '1k' });
    try {
      const bigToken = await big.token('alice');
      const pkg = await pack(keys.a, '1.0.0', { id: 'expands' });
      const before = await big.snapshot();
      const response = await big.publish('expands', pkg.file, bigToken);
      expect(response.status).toBe(400);
      expect((await json(response)).error.code).toBe('E_PKG_TOO_LARGE');
      expect(await big.snapshot()).toEqual(before);
    } finally {
      await big.close();
    }
  });

  it('still accepts a package under the caps', async () => {
    const roomy = await startTestRegistry({ REGISTRY_MAX_UPLOAD: '64k' });
    try {
      const pkg = await pack(keys.a, '1.0.0', { id: 'fits' });
      const response = await roomy.publish('fits', pkg.file, await roomy.token('alice'));
      expect(response.status).toBe(201);
    } finally {
      await roomy.close();
    }
  });
});

describe('publish failures that tell the client nothing of the server', () => {
  it('names the upload, not the registry’s temp path, in a verification error', async () => {
    const garbage = new Uint8Array(Buffer.from('not a package at all'));
    const body = await refused(() => t.publish('sample', garbage, alice), 400, 'E_PKG_FORMAT');
    expect(body.message).not.toContain(t.dataDir);
    expect(body.message).not.toMatch(/upload-[0-9a-f]{24}|cmpkg-pkg-/);
    const truncated = new Uint8Array(readFileSync(pkgs.b200!.file)).slice(0, 200);
    const cut = await refused(() => t.publish('sample', truncated, alice), 400, 'E_PKG_TRUNCATED');
    expect(cut.message).not.toContain(t.dataDir);
  });
});

describe('limits of the schema', () => {
  it('refuses a version longer than registry_versions.version (64) with 400 naming it', async () => {
    // SQLite would store it; PostgreSQL's varchar(64) would fail the insert with a 500.
    const version = `1.1.0-${'a'.repeat(60)}`;
    const pkg = await pack(keys.a, version, { id: 'long-version' });
    await refused(() => t.publish('long-version', pkg.file, alice), 400, 'E_REGISTRY_BAD_REQUEST', /64/);
  });
});

describe('a database failure after the archive was stored', () => {
  it('removes the blob this publish created and answers a generic 500', async () => {
    const failing = await startTestRegistry();
    try {
      const token = await failing.token('alice');
      const before = await failing.snapshot();
      // A real failure inside the transaction, after the blob is in place and the version row
      // inserted: the dist-tags table is gone when the tag is read.
      const rename = (from: string, to: string) =>
        failing.registry.store.db.write((db) => sql.raw(`ALTER TABLE ${from} RENAME TO ${to}`).execute(db));
      await rename('registry_dist_tags', 'registry_dist_tags_away');
      const response = await failing.publish('sample', pkgs.a100!.file, token);
      await rename('registry_dist_tags_away', 'registry_dist_tags');
      expect(response.status).toBe(500);
      expect(await json(response)).toEqual({
        error: { code: 'E_INTERNAL', message: 'internal server error; see the registry log' },
      });
      expect(await failing.snapshot()).toEqual(before);
    } finally {
      await failing.close();
    }
  });
});

describe('a client that disconnects', () => {
  it('while its publish waits for authentication leaves no temp file and no hung request', async () => {
    const data = readFileSync(pkgs.b200!.file);
    const before = await t.snapshot();
    // Hold the read connection, so the request is still authenticating when the client goes away.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = t.registry.store.db.query(() => gate);
    const { port, hostname } = new URL(t.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `PUT /sample HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${alice}\r\n` +
            `Content-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
        );
        socket.write(data.subarray(0, 100));
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 100);
      });
      socket.on('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await held;
    // The handler runs once authentication is done; give it time to (not) leave a file behind.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await t.snapshot()).toEqual(before);
  });
});
