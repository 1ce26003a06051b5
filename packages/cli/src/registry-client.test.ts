import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PackageError, RegistryError } from '@cmpkg/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitCodeFor } from './exit-codes.js';
import { type Dist, errorFromResponse, RegistryClient, shownUrl } from './registry-client.js';

// The client against a BROKEN registry: a few lines of node:http that answer what no correct
// registry answers (bad JSON, wrong shapes, HTML, tampered bytes, silence). Everything a correct
// registry does is tested against the real one, through the CLI, in test/e2e/registry-*.test.ts.

const body = (code: string, message: string) => JSON.stringify({ error: { code, message } });

describe('errorFromResponse', () => {
  const where = 'GET http://127.0.0.1:4880/sample';

  it('turns a registry code back into that RegistryError, with its exit code', () => {
    const cases: Array<[number, string, number]> = [
      [400, 'E_REGISTRY_BAD_REQUEST', 2],
      [404, 'E_REGISTRY_NOT_FOUND', 2],
      [400, 'E_REGISTRY_INVALID_RANGE', 2],
      [404, 'E_REGISTRY_NO_MATCH', 2],
      [413, 'E_REGISTRY_TOO_LARGE', 2],
      [400, 'E_REGISTRY_NAME_MISMATCH', 2],
      [401, 'E_REGISTRY_UNAUTHORIZED', 3],
      [403, 'E_REGISTRY_FORBIDDEN', 3],
      [403, 'E_REGISTRY_KEY_NOT_REGISTERED', 3],
      [409, 'E_REGISTRY_VERSION_EXISTS', 3],
      [429, 'E_REGISTRY_RATE_LIMITED', 1],
      [500, 'E_REGISTRY_STORAGE', 1],
    ];
    for (const [status, code, exit] of cases) {
      const err = errorFromResponse(status, body(code, `the ${code} message`), where);
      expect(err, code).toBeInstanceOf(RegistryError);
      expect(err, code).toMatchObject({ code, message: `the ${code} message`, details: { status, code } });
      expect(exitCodeFor(err), code).toBe(exit);
    }
  });

  it('turns a package code (an upload that failed verification) into the PackageError it was', () => {
    for (const [code, exit] of [
      ['E_PKG_DIGEST_MISMATCH', 2],
      ['E_PKG_NO_SIGNATURE', 2],
      ['E_SIGNATURE_INVALID', 3],
      ['E_ROTATION_INVALID', 3],
    ] as const) {
      const err = errorFromResponse(400, body(code, 'sample-1.0.0.cmpkg: bad'), 'PUT x');
      expect(err, code).toBeInstanceOf(PackageError);
      expect(err, code).toMatchObject({ code, message: 'sample-1.0.0.cmpkg: bad' });
      expect(exitCodeFor(err), code).toBe(exit);
    }
  });

  it('judges anything else by the status: 5xx unavailable (exit 1), the rest a bad response (exit 1)', () => {
    const internal = errorFromResponse(500, body('E_INTERNAL', 'internal error'), where);
    expect(internal).toMatchObject({ code: 'E_REGISTRY_UNAVAILABLE' });
    expect(internal.message).toBe(`${where} failed with 500 E_INTERNAL: internal error`);
    const gateway = errorFromResponse(502, '<html>Bad Gateway</html>', where);
    expect(gateway).toMatchObject({
      code: 'E_REGISTRY_UNAVAILABLE',
      message: `${where} failed with 502 Bad Gateway`,
    });
    const unknown = errorFromResponse(418, body('E_TEAPOT', 'short and stout'), where);
    expect(unknown).toMatchObject({ code: 'E_REGISTRY_RESPONSE' });
    expect(unknown.message).toMatch(/error code this client does not know: E_TEAPOT: short and stout/);
    const noBody = errorFromResponse(404, 'Not Found', where);
    expect(noBody).toMatchObject({
      code: 'E_REGISTRY_RESPONSE',
      message: `${where} answered 404 Not Found without a registry error body`,
    });
    // `error` must be an object with string code and message.
    expect(errorFromResponse(400, '{"error":"nope"}', where).code).toBe('E_REGISTRY_RESPONSE');
    expect(errorFromResponse(400, '{"error":{"code":7,"message":"x"}}', where).code).toBe(
      'E_REGISTRY_RESPONSE',
    );
    for (const err of [internal, gateway, unknown, noBody]) expect(exitCodeFor(err)).toBe(1);
  });

  it('adds Retry-After to a rate-limit refusal', () => {
    const err = errorFromResponse(
      429,
      body('E_REGISTRY_RATE_LIMITED', 'too many publishes'),
      'PUT x',
      new Headers({ 'retry-after': '42' }),
    );
    expect(err.message).toBe('too many publishes (retry after 42 s)');
    expect(err.details).toMatchObject({ retryAfter: '42' });
  });
});

describe('shownUrl', () => {
  it('drops user and password', () => {
    expect(shownUrl('https://me:secret@reg.example.com/')).toBe('https://reg.example.com');
    expect(shownUrl('http://127.0.0.1:4880/prefix/')).toBe('http://127.0.0.1:4880/prefix');
  });
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let handler: Handler;
let base: string;
let seen: Array<{ method: string; url: string; authorization?: string }>;
let dir: string;

beforeEach(async () => {
  seen = [];
  handler = (_req, res) => res.end();
  server = createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(os.tmpdir(), 'cmpkg-client-'));
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

const json =
  (status: number, value: unknown, type = 'application/json; charset=utf-8'): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof value === 'string' ? value : JSON.stringify(value));
  };

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (err) {
    return err as RegistryError;
  }
  throw new Error('expected a rejection');
}

const goodDoc = {
  name: 'sample',
  version: '1.1.0',
  displayName: 'Sample',
  description: 'A sample',
  engines: ['sqlite'],
  requires: {},
  migrations: [],
  data: [],
  dist: {
    tarball: 'http://127.0.0.1:1/sample/-/sample-1.1.0.cmpkg',
    integrity: `sha512-${createHash('sha512').update('x').digest('base64')}`,
    digest: `sha256:${'0'.repeat(64)}`,
    size: 1,
    keyId: 'ABCDEF0123456789',
  },
  publishedAt: '2025-01-01T00:00:00.000Z',
  publishedBy: 'alice',
};

describe('RegistryClient against a broken registry', () => {
  it('a body that is not JSON: E_REGISTRY_RESPONSE (200) or E_REGISTRY_UNAVAILABLE (502), naming the request', async () => {
    handler = json(200, '<!doctype html><title>Welcome to nginx</title>', 'text/html');
    const html = await rejection(new RegistryClient(base).resolve('sample', '^1'));
    expect(html).toMatchObject({ code: 'E_REGISTRY_RESPONSE' });
    expect(html.message).toBe(
      `GET ${base}/sample/%5E1 answered 200 with a body that is not JSON (text/html): is ${base} a cmpkg registry?`,
    );
    expect(exitCodeFor(html)).toBe(1);

    handler = json(502, '<html>502 Bad Gateway</html>', 'text/html');
    const gateway = await rejection(new RegistryClient(base).packument('sample'));
    expect(gateway).toMatchObject({
      code: 'E_REGISTRY_UNAVAILABLE',
      message: `GET ${base}/sample failed with 502 Bad Gateway`,
    });
    expect(exitCodeFor(gateway)).toBe(1);

    handler = json(200, '{"name": "sample", ');
    expect((await rejection(new RegistryClient(base).packument('sample'))).code).toBe('E_REGISTRY_RESPONSE');
  });

  it('JSON of the wrong shape: E_REGISTRY_RESPONSE naming the field', async () => {
    handler = json(200, { ...goodDoc, dist: { ...goodDoc.dist, integrity: 'md5-abc' } });
    const bad = await rejection(new RegistryClient(base).resolve('sample', 'latest'));
    expect(bad.code).toBe('E_REGISTRY_RESPONSE');
    expect(bad.message).toMatch(
      /not what the registry API promises: field "dist\.integrity": must be sha512-<base64>/,
    );

    handler = json(200, { objects: [{ package: { name: 'x' } }], total: 1, time: 'now' });
    const search = await rejection(new RegistryClient(base).search(''));
    expect(search.message).toMatch(/field "objects\.0\.package\.displayName"/);

    handler = json(200, [1, 2, 3]);
    expect((await rejection(new RegistryClient(base).packument('sample'))).message).toMatch(
      /field "\(the document\)"/,
    );

    // The one that fits passes, unknown extra fields are dropped, not refused.
    handler = json(200, { ...goodDoc, futureField: true });
    expect(await new RegistryClient(base).resolve('sample', 'latest')).toMatchObject({ version: '1.1.0' });
  });

  it('sends the token only in the Authorization header of writes, and never puts it in a message', async () => {
    const token = 'cmpkg_SECRETSECRETSECRETSECRETSECRETSECRETSEC';
    handler = json(401, body('E_REGISTRY_UNAUTHORIZED', 'unknown token'));
    const client = new RegistryClient(base, { token });
    const err = await rejection(client.yank('sample', '1.0.0', true));
    expect(err).toMatchObject({ code: 'E_REGISTRY_UNAUTHORIZED', message: 'unknown token' });
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain('SECRET');
    handler = json(500, 'oops', 'text/plain');
    const failed = await rejection(client.deprecate('sample', '<2', 'old'));
    expect(`${failed.message} ${JSON.stringify(failed.details)}`).not.toContain('SECRET');
    // Reads carry no token at all.
    handler = json(200, goodDoc);
    await client.resolve('sample', '1.1.0');
    expect(seen.map((s) => [s.method, s.url, s.authorization])).toEqual([
      ['POST', '/-/plugins/sample/yank', `Bearer ${token}`],
      ['POST', '/-/plugins/sample/deprecate', `Bearer ${token}`],
      ['GET', '/sample/1.1.0', undefined],
    ]);
    // A write without a token never leaves the process.
    const none = await rejection(new RegistryClient(base).yank('sample', '1.0.0', true));
    expect(none).toMatchObject({ code: 'E_USAGE' });
    expect(none.message).toMatch(/needs a registry token: set CMPKG_TOKEN/);
    expect(seen).toHaveLength(3);
  });

  it('a registry that does not answer in time: E_REGISTRY_UNAVAILABLE naming the timeout', async () => {
    handler = () => {
      // never answers
    };
    const started = Date.now();
    const err = await rejection(new RegistryClient(base, { timeoutMs: 300 }).packument('sample'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toMatchObject({ code: 'E_REGISTRY_UNAVAILABLE' });
    expect(err.message).toBe(
      `GET ${base}/sample: no answer from the registry within 0.3 s (CMPKG_REGISTRY_TIMEOUT)`,
    );
  });

  it('a closed port: E_REGISTRY_UNAVAILABLE naming the URL and the reason (exit 1)', async () => {
    const closed = base;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await rejection(new RegistryClient(closed).search('x'));
    expect(err).toMatchObject({ code: 'E_REGISTRY_UNAVAILABLE' });
    expect(err.message).toBe(
      `cannot reach the registry at ${closed} (GET ${closed}/-/v1/search?text=x): connection refused (ECONNREFUSED)`,
    );
    expect(exitCodeFor(err)).toBe(1);
    // afterEach closes it again: listen once more so that is harmless.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
});

describe('RegistryClient.download from a registry that sends the wrong bytes', () => {
  const archive = Buffer.from('pretend this is a .cmpkg archive');
  const distFor = (bytes: Buffer, extra: Partial<Dist> = {}): Dist => ({
    tarball: `${base}/sample/-/sample-1.1.0.cmpkg`,
    integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    keyId: 'ABCDEF0123456789',
    ...extra,
  });
  const serve =
    (bytes: Buffer): Handler =>
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bytes);
    };

  it('keeps bytes that match dist.integrity, named after the tarball', async () => {
    handler = serve(archive);
    const file = await new RegistryClient(base).download(distFor(archive), dir);
    expect(file).toBe(path.join(dir, 'sample-1.1.0.cmpkg'));
    expect(await readFile(file)).toEqual(archive);
  });

  it('refuses other bytes (E_REGISTRY_INTEGRITY, exit 3) and removes the file', async () => {
    const tampered = Buffer.from(archive);
    tampered[3] = 0x21;
    handler = serve(tampered);
    const err = await rejection(new RegistryClient(base).download(distFor(archive), dir));
    expect(err).toMatchObject({ code: 'E_REGISTRY_INTEGRITY' });
    expect(err.message).toMatch(
      /^sample-1\.1\.0\.cmpkg from http:\/\/127\.0\.0\.1:\d+\/sample\/-\/sample-1\.1\.0\.cmpkg does not match the integrity the registry published \(expected sha512-.*, got sha512-.*\); the download was deleted$/,
    );
    expect(exitCodeFor(err)).toBe(3);
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops a download that runs past dist.size, and removes the file', async () => {
    handler = serve(Buffer.concat([archive, Buffer.alloc(1 << 20)]));
    const err = await rejection(new RegistryClient(base).download(distFor(archive), dir));
    expect(err).toMatchObject({ code: 'E_REGISTRY_INTEGRITY' });
    expect(err.message).toMatch(/sent more than the 32 bytes the registry published/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a registry that goes silent mid-download: E_REGISTRY_UNAVAILABLE, file removed', async () => {
    handler = (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(archive.length),
      });
      res.write(archive.subarray(0, 10));
    };
    const err = await rejection(new RegistryClient(base, { timeoutMs: 300 }).download(distFor(archive), dir));
    expect(err).toMatchObject({ code: 'E_REGISTRY_UNAVAILABLE' });
    expect(err.message).toMatch(/the registry stopped sending for 0\.3 s \(CMPKG_REGISTRY_TIMEOUT\)/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a 404 for the tarball maps like any other error body', async () => {
    handler = json(404, body('E_REGISTRY_NOT_FOUND', 'no tarball sample-1.1.0.cmpkg'));
    const err = await rejection(new RegistryClient(base).download(distFor(archive), dir));
    expect(err).toMatchObject({ code: 'E_REGISTRY_NOT_FOUND', message: 'no tarball sample-1.1.0.cmpkg' });
    expect(await readdir(dir)).toEqual([]);
  });
});
