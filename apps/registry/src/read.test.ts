import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { generateKeyPair, type PackResult } from '@cmpkg/packager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  json,
  pack,
  removeTempDirs,
  startTestRegistry,
  type TestRegistry,
  tempDir,
} from './testing/fixtures.js';
import type { Packument } from './types.js';

/**
 * The read API over real HTTP: packuments, resolution, tarballs, search and health.
 */

let t: TestRegistry;
let alice: string;
const key = generateKeyPair();
const pkgs: Record<string, PackResult> = {};

beforeAll(async () => {
  t = await startTestRegistry();
  alice = await t.token('alice');
  for (const version of ['1.0.0', '1.1.0', '2.0.0']) {
    pkgs[version] = await pack(key, version);
    const response = await t.publish('sample', pkgs[version]!.file, alice);
    expect(response.status).toBe(201);
  }
  const plugins: Array<[string, string, string]> = [
    ['kb', 'KB', 'The knowledge base'],
    ['kb-extra', 'KB extras', 'Extras'],
    ['my-kb', 'My KB', 'Mine'],
    ['notes', 'Notes', 'Notes that link to a KB'],
    ['zeta', 'Zeta', 'Unrelated'],
  ];
  for (const [id, name, description] of plugins) {
    const pkg = await pack(key, '1.0.0', { id, name, description });
    expect((await t.publish(id, pkg.file, alice)).status).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  removeTempDirs();
});

describe('GET /:plugin', () => {
  it('serves the packument', async () => {
    const response = await t.call('/sample');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const doc = (await response.json()) as Packument;
    expect(Object.keys(doc)).toEqual([
      'name',
      'displayName',
      'description',
      'owner',
      'dist-tags',
      'versions',
      'time',
      'keys',
      'readme',
    ]);
    expect(doc).toMatchObject({
      name: 'sample',
      displayName: 'Sample knowledge base',
      description: 'A small knowledge base used by the tests',
      owner: 'alice',
      'dist-tags': { latest: '2.0.0' },
      keys: [{ keyId: key.keyId, publicKey: key.encoded, addedBy: 'alice' }],
    });
    expect(doc.readme).toContain('Sample knowledge base');
    expect(Object.keys(doc.versions)).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(Object.keys(doc.time)).toEqual(['created', 'modified', '1.0.0', '1.1.0', '2.0.0']);
    const v110 = doc.versions['1.1.0']!;
    expect(v110).toEqual({
      name: 'sample',
      version: '1.1.0',
      displayName: 'Sample knowledge base',
      description: 'A small knowledge base used by the tests',
      engines: ['postgresql', 'mysql', 'sqlite'],
      requires: {},
      migrations: [
        expect.objectContaining({
          id: '0001_create_entries',
          version: '1.0.0',
          risk: 'low',
          reversible: true,
        }),
        expect.objectContaining({ id: '0002_add_tags', risk: 'medium', reversible: true }),
        expect.objectContaining({ id: '0003_seed_categories' }),
        expect.objectContaining({ id: '0004_entry_slugs', version: '1.1.0', name: 'Entry slugs' }),
      ],
      data: [],
      dist: {
        tarball: `${t.url}/sample/-/sample-1.1.0.cmpkg`,
        integrity: pkgs['1.1.0']!.integrity,
        digest: pkgs['1.1.0']!.digest,
        size: pkgs['1.1.0']!.size,
        keyId: key.keyId,
      },
      publishedAt: doc.time['1.1.0'],
      publishedBy: 'alice',
    });
    expect(doc.versions['2.0.0']!.migrations.at(-1)).toMatchObject({
      id: '0005_entry_revisions',
      risk: 'high',
    });
  });

  it('builds tarball URLs from the request’s Host', async () => {
    // fetch may not set Host; node:http may.
    const text = await new Promise<string>((resolve, reject) => {
      get(`${t.url}/sample`, { headers: { host: 'registry.example:8080' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    const doc = JSON.parse(text);
    expect(doc.versions['1.0.0'].dist.tarball).toBe(
      'http://registry.example:8080/sample/-/sample-1.0.0.cmpkg',
    );
    // The other origin's cached copy is not affected.
    expect((await json(await t.call('/sample'))).versions['1.0.0'].dist.tarball).toBe(
      `${t.url}/sample/-/sample-1.0.0.cmpkg`,
    );
  });

  it('answers If-None-Match with 304, and changes the ETag on a write', async () => {
    const first = await t.call('/sample');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
    const again = await t.call('/sample', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await t.call('/sample', { headers: { 'if-none-match': `"other", ${etag}` } })).status).toBe(304);
    expect((await t.call('/sample', { headers: { 'if-none-match': '"other"' } })).status).toBe(200);

    const tagged = await t.call('/-/plugins/sample/dist-tags/stable', {
      method: 'PUT',
      token: alice,
      json: { version: '1.1.0' },
    });
    expect(tagged.status).toBe(200);
    const changed = await t.call('/sample', { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect((await json(changed))['dist-tags']).toEqual({ latest: '2.0.0', stable: '1.1.0' });
  });

  it('answers an unknown plugin with 404 and an invalid id with 400', async () => {
    const unknown = await t.call('/nope');
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toEqual({
      error: { code: 'E_REGISTRY_NOT_FOUND', message: 'no plugin "nope" in this registry' },
    });
    const invalid = await t.call('/NOPE');
    expect(invalid.status).toBe(400);
    expect((await json(invalid)).error.code).toBe('E_REGISTRY_BAD_REQUEST');
  });
});

describe('GET /:plugin/:rangeOrTag', () => {
  it.each([
    ['%5E1', '1.1.0'],
    ['%7E1.0', '1.0.0'],
    ['%3E%3D1.0.0%20%3C2', '1.1.0'],
    ['1.x', '1.1.0'],
    ['*', '2.0.0'],
    ['latest', '2.0.0'],
    ['stable', '1.1.0'],
    ['1.0.0', '1.0.0'],
    ['%5E1%20%7C%7C%20%5E2', '2.0.0'],
  ])('resolves %s to %s', async (spec, version) => {
    const response = await t.call(`/sample/${spec}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const doc = await json(response);
    expect(doc).toMatchObject({
      name: 'sample',
      version,
      dist: { tarball: `${t.url}/sample/-/sample-${version}.cmpkg` },
    });
    expect(doc.deprecated).toBeUndefined();
  });

  it.each([
    ['%5E3', 404, 'E_REGISTRY_NO_MATCH'],
    ['canary', 404, 'E_REGISTRY_NOT_FOUND'],
    ['%5E%5E1', 400, 'E_REGISTRY_INVALID_RANGE'],
    ['1.2.3.4', 400, 'E_REGISTRY_INVALID_RANGE'],
  ])('answers %s with %d %s', async (spec, status, code) => {
    const response = await t.call(`/sample/${spec}`);
    expect(response.status).toBe(status);
    expect((await json(response)).error.code).toBe(code);
  });

  it.each(['evil.example/x?', 'a"b', 'host name', 'registry.example:80a'])(
    'refuses Host %j instead of building tarball URLs from it',
    async (host) => {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get(`${t.url}/sample`, { headers: { host } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        }).on('error', reject);
      });
      expect(status).toBe(400);
      expect(JSON.parse(body).error.code).toBe('E_REGISTRY_BAD_REQUEST');
    },
  );

  it('answers a range on an unknown plugin with 404', async () => {
    const response = await t.call('/nope/%5E1');
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe('E_REGISTRY_NOT_FOUND');
  });
});

describe('GET /:plugin/-/:file', () => {
  it('serves exactly the uploaded bytes, immutable, with the sha256 ETag', async () => {
    const response = await t.call('/sample/-/sample-1.1.0.cmpkg');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-length')).toBe(String(pkgs['1.1.0']!.size));
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // A browser must not sniff an uploaded archive into HTML or script.
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = response.headers.get('etag');
    expect(etag).toBe(`"${pkgs['1.1.0']!.digest.slice(7)}"`);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(readFileSync(pkgs['1.1.0']!.file));
    const cached = await t.call('/sample/-/sample-1.1.0.cmpkg', { headers: { 'if-none-match': etag! } });
    expect(cached.status).toBe(304);
  });

  it('answers HEAD with the headers only', async () => {
    const response = await t.call('/sample/-/sample-1.0.0.cmpkg', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(pkgs['1.0.0']!.size));
  });

  it('answers a version whose blob is missing with a 500 that no cache may keep', async () => {
    const other = await startTestRegistry();
    try {
      const token = await other.token('alice');
      expect((await other.publish('sample', pkgs['1.0.0']!.file, token)).status).toBe(201);
      await other.registry.store.blobs.remove(pkgs['1.0.0']!.digest.slice('sha256:'.length));
      const response = await other.call('/sample/-/sample-1.0.0.cmpkg');
      expect(response.status).toBe(500);
      expect((await json(response)).error.code).toBe('E_REGISTRY_STORAGE');
      // `immutable` and the archive's ETag on an error would let a CDN serve the error for a year.
      expect(response.headers.get('cache-control') ?? '').not.toMatch(/immutable|max-age/);
      expect(response.headers.get('etag')).toBeNull();
    } finally {
      await other.close();
    }
  });

  it.each([
    '/sample/-/sample-9.9.9.cmpkg',
    '/sample/-/other-1.0.0.cmpkg',
    '/sample/-/sample-1.0.0.tgz',
    '/sample/-/sample-.cmpkg',
    '/nope/-/nope-1.0.0.cmpkg',
  ])('answers %s with 404', async (path) => {
    const response = await t.call(path);
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe('E_REGISTRY_NOT_FOUND');
  });
});

describe('GET /-/v1/search', () => {
  it('ranks exact id, id prefix, id substring, then name/description; ties by id', async () => {
    const page = await json(await t.call('/-/v1/search?text=KB'));
    expect(page.objects.map((o: { package: { name: string } }) => o.package.name)).toEqual([
      'kb',
      'kb-extra',
      'my-kb',
      'notes',
    ]);
    expect(page.objects.map((o: { score: { final: number } }) => o.score.final)).toEqual([1, 0.8, 0.6, 0.4]);
    expect(page.total).toBe(4);
    expect(Date.parse(page.time)).not.toBeNaN();
    expect(page.objects[0].package).toEqual({
      name: 'kb',
      displayName: 'KB',
      description: 'The knowledge base',
      version: '1.0.0',
      date: expect.stringMatching(/Z$/),
      owner: 'alice',
      engines: ['postgresql', 'mysql', 'sqlite'],
    });
  });

  it('lists everything by id without text, and pages with size and from', async () => {
    const all = await json(await t.call('/-/v1/search'));
    const ids = ['kb', 'kb-extra', 'my-kb', 'notes', 'sample', 'zeta'];
    expect(all.objects.map((o: { package: { name: string } }) => o.package.name)).toEqual(ids);
    expect(all.total).toBe(6);
    const page = await json(await t.call('/-/v1/search?size=2&from=2'));
    expect(page.objects.map((o: { package: { name: string } }) => o.package.name)).toEqual([
      'my-kb',
      'notes',
    ]);
    expect(page.total).toBe(6);
    const past = await json(await t.call('/-/v1/search?from=50'));
    expect(past).toMatchObject({ objects: [], total: 6 });
  });

  it('treats % and _ in the text literally', async () => {
    expect((await json(await t.call('/-/v1/search?text=%25'))).total).toBe(0);
    expect((await json(await t.call('/-/v1/search?text=_'))).total).toBe(0);
  });

  it.each(['size=0', 'size=251', 'size=abc', 'from=-1'])('refuses %s with 400', async (query) => {
    const response = await t.call(`/-/v1/search?${query}`);
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe('E_REGISTRY_BAD_REQUEST');
  });
});

describe('GET /-/health and unknown routes', () => {
  it('reports the database and counts', async () => {
    const response = await t.call('/-/health');
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ status: 'ok', database: 'sqlite', plugins: 6, versions: 8 });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const response = await t.call('/a/b/c/d');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await json(response)).toEqual({
      error: { code: 'E_REGISTRY_NOT_FOUND', message: 'no route GET /a/b/c/d' },
    });
  });
});

describe('when the database is gone', () => {
  it('answers health with 503, and other reads with a generic 500 E_INTERNAL', async () => {
    const other = await startTestRegistry();
    try {
      await other.registry.store.db.close();
      const response = await other.call('/-/health');
      expect(response.status).toBe(503);
      expect(await json(response)).toMatchObject({ status: 'error', database: 'sqlite' });
      const read = await other.call('/sample');
      expect(read.status).toBe(500);
      expect(await json(read)).toEqual({
        error: { code: 'E_INTERNAL', message: 'internal server error; see the registry log' },
      });
    } finally {
      await other.close();
    }
  });
});

describe('README in the packument', () => {
  it('keeps at most 64 KiB of the latest version’s README, cut on a character boundary', async () => {
    const readme = join(tempDir(), 'README.md');
    writeFileSync(readme, `# Big\n${'é'.repeat(40_000)}`);
    const pkg = await pack(key, '1.0.0', { id: 'big-readme', readme });
    expect((await t.publish('big-readme', pkg.file, alice)).status).toBe(201);
    const doc = await json(await t.call('/big-readme'));
    const bytes = Buffer.byteLength(doc.readme, 'utf8');
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    expect(bytes).toBeGreaterThan(64 * 1024 - 4);
    expect(doc.readme.startsWith('# Big\né')).toBe(true);
    expect(doc.readme).not.toContain('\uFFFD');
  });
});
