import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { sha256Hex } from '@cmpkg/core';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPackage, verifyPackage } from './archive-reader.js';
import { generateKeyPair, samePublicKey } from './keys.js';
import { type PackageManifest, serializeManifest, trustedCommentFor } from './manifest.js';
import { type PackResult, packPlugin } from './pack.js';
import { signMessage } from './signature.js';
import { failureOf, sampleDb, samplePlugin, tempDir } from './testing/fixtures.js';

const key = generateKeyPair();
let packed: PackResult;

beforeAll(async () => {
  const dir = tempDir();
  const db = await sampleDb(dir, 100);
  packed = await packPlugin({
    plugin: await samplePlugin('1.1.0'),
    key,
    outDir: dir,
    data: { db, tables: ['entries', 'categories'] },
  });
  await db.connection.close();
});

describe('openPackage', () => {
  it('verifies and extracts every entry into a fresh directory under tempRoot', async () => {
    const root = tempDir();
    const pkg = await openPackage(packed.file, { tempRoot: root });
    try {
      expect(pkg.dir.startsWith(join(root, 'cmpkg-pkg-'))).toBe(true);
      expect(pkg.file).toBe(packed.file);
      expect(pkg.manifest).toEqual(packed.manifest);
      expect(Buffer.from(pkg.manifestBytes).equals(readFileSync(join(pkg.dir, 'cmpkg.json')))).toBe(true);
      expect(pkg.signature.keyId).toBe(key.keyId);
      expect(samePublicKey(pkg.signer, key)).toBe(true);
      expect(pkg.trusted).toBe(false);
      expect(pkg.rotation).toEqual([]);
      expect({ digest: pkg.digest, integrity: pkg.integrity, size: pkg.size }).toEqual({
        digest: packed.digest,
        integrity: packed.integrity,
        size: statSync(packed.file).size,
      });
      for (const f of packed.manifest.files) {
        const bytes = readFileSync(join(pkg.dir, f.path));
        expect(bytes.length).toBe(f.size);
        expect(sha256Hex(bytes)).toBe(f.sha256);
      }
      expect(existsSync(join(pkg.dir, 'cmpkg.sig'))).toBe(true);
    } finally {
      await pkg.dispose();
      await pkg.dispose(); // idempotent
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('loads the packed migrations as a Plugin, checksums checked, once', async () => {
    const pkg = await openPackage(packed.file, { trustedKeys: [generateKeyPair(), key] });
    try {
      expect(pkg.trusted).toBe(true);
      const plugin = await pkg.loadPlugin();
      expect(await pkg.loadPlugin()).toBe(plugin);
      expect({ ...plugin, migrations: [] }).toEqual({
        id: 'sample',
        version: '1.1.0',
        name: 'Sample',
        description: 'The sample plugin',
        migrations: [],
      });
      expect(plugin.migrations.map((m) => m.checksum)).toEqual(
        packed.manifest.migrations.map((m) => m.checksum),
      );
      expect(plugin.migrations.every((m) => m.pluginId === 'sample')).toBe(true);
      expect(plugin.migrations[0]?.source).toEqual({
        file: `cmpkg:sample@1.1.0/${packed.manifest.migrations[0]?.path}`,
        format: 'json',
      });
    } finally {
      await pkg.dispose();
    }
  });

  it('reads from a stream', async () => {
    const pkg = await openPackage(createReadStream(packed.file));
    try {
      expect(pkg.file).toBe('<stream>');
      expect(pkg.digest).toBe(packed.digest);
    } finally {
      await pkg.dispose();
    }
  });

  it('accepts matching expectations (semver equality for the version)', async () => {
    const pkg = await openPackage(packed.file, { expect: { pluginId: 'sample', version: '1.1.0' } });
    await pkg.dispose();
  });

  it.each<[string, () => Parameters<typeof openPackage>, string]>([
    ['a missing file', () => ['/nonexistent/x.cmpkg'], 'E_PKG_FORMAT'],
    ['a directory', () => [tempDir()], 'E_PKG_FORMAT'],
    [
      'a manifest over maxManifestBytes',
      () => [packed.file, { limits: { maxManifestBytes: 100 } }],
      'E_PKG_MANIFEST_TOO_LARGE',
    ],
    [
      'an archive over maxArchiveBytes',
      () => [packed.file, { limits: { maxArchiveBytes: 1000 } }],
      'E_PKG_TOO_LARGE',
    ],
    [
      'a streamed archive over maxArchiveBytes',
      () => [createReadStream(packed.file), { limits: { maxArchiveBytes: 1000 } }],
      'E_PKG_TOO_LARGE',
    ],
    [
      'signed sizes over maxExtractedBytes',
      () => [packed.file, { limits: { maxExtractedBytes: 1000 } }],
      'E_PKG_TOO_LARGE',
    ],
    [
      'another plugin than expected',
      () => [packed.file, { expect: { pluginId: 'other' } }],
      'E_PKG_UNEXPECTED',
    ],
    [
      'another version than expected',
      () => [packed.file, { expect: { version: '1.1.1' } }],
      'E_PKG_UNEXPECTED',
    ],
    ['an untrusted signer', () => [packed.file, { trustedKeys: [generateKeyPair()] }], 'E_UNTRUSTED_KEY'],
    ['an empty trusted key list', () => [packed.file, { trustedKeys: [] }], 'E_UNTRUSTED_KEY'],
  ])('refuses %s', async (_name, args, code) => {
    const root = tempDir();
    const [source, options] = args();
    const error = await failureOf(openPackage(source, { ...options, tempRoot: root }));
    expect(error.code, error.message).toBe(code);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('unbounded input', () => {
  /** The valid archive, then `zeros` bytes of zeros (or zeros forever), counting what was read. */
  function followedByZeros(zeros: number): { stream: Readable; read: () => number } {
    let read = 0;
    const zero = Buffer.alloc(1024 * 1024);
    async function* source() {
      const bytes = readFileSync(packed.file);
      read += bytes.length;
      yield bytes;
      for (let left = zeros; left > 0; left -= zero.length) {
        read += zero.length;
        yield zero;
      }
    }
    return { stream: Readable.from(source()), read: () => read };
  }

  it('stops reading zeros after the gzip stream long before they end', async () => {
    const root = tempDir();
    const { stream, read } = followedByZeros(Number.MAX_SAFE_INTEGER);
    const error = await failureOf(openPackage(stream, { tempRoot: root }));
    expect(error.code, error.message).toBe('E_PKG_TOO_LARGE');
    expect(read()).toBeLessThan(128 * 1024 * 1024);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a few zeros after the gzip stream at the end', async () => {
    const { stream } = followedByZeros(10);
    expect((await failureOf(openPackage(stream))).code).toBe('E_PKG_TOO_LARGE');
  });
});

describe('verifyPackage', () => {
  it('summarises a verified package and leaves nothing', async () => {
    const root = tempDir();
    expect(await verifyPackage(packed.file, { tempRoot: root, trustedKeys: [key] })).toEqual({
      file: packed.file,
      pluginId: 'sample',
      version: '1.1.0',
      keyId: key.keyId,
      digest: packed.digest,
      integrity: packed.integrity,
      size: packed.size,
      files: packed.manifest.files.length,
      trusted: true,
    });
    expect((await verifyPackage(packed.file, { tempRoot: root })).trusted).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('a large data entry', () => {
  it('is streamed to disk, never held in memory', async () => {
    const dir = tempDir();
    const file = join(dir, 'large.cmpkg');
    const size = 192 * 1024 * 1024;
    // A line that repeats with a counter: compresses well, so the archive is quick to make.
    const line = (i: number) =>
      `{"id":${String(i).padStart(10, '0')},"text":"${'lorem ipsum '.repeat(8)}"}\n`;
    const lineLength = line(0).length;
    const lines = Math.floor(size / lineLength);
    const hash = createHash('sha256');
    const chunk = (from: number, count: number) => {
      let s = '';
      for (let i = from; i < from + count; i++) s += line(i);
      return Buffer.from(s);
    };
    for (let i = 0; i < lines; i += 10_000) hash.update(chunk(i, Math.min(10_000, lines - i)));
    const dataSize = lines * lineLength;
    const manifest: PackageManifest = {
      format: 'cmpkg/1',
      plugin: { id: 'big', version: '1.0.0' },
      engines: ['sqlite'],
      requires: {},
      migrations: [],
      data: [
        {
          table: 'big',
          path: 'data/big.ndjson',
          format: 'ndjson',
          rows: lines,
          columns: [{ name: 'id', type: 'bigint' }],
        },
      ],
      files: [{ path: 'data/big.ndjson', size: dataSize, sha256: hash.digest('hex') }],
      signer: { keyId: key.keyId, publicKey: key.encoded },
      createdAt: '2024-01-01T00:00:00.000Z',
      createdBy: 'cmpkg/test',
    };
    const bytes = Buffer.from(serializeManifest(manifest));
    const sig = signMessage(bytes, key, { trustedComment: trustedCommentFor(manifest, sha256Hex(bytes)) });
    const pack = tar.pack();
    const out = createWriteStream(file);
    const closed = new Promise<void>((r) => out.on('close', () => r()));
    pack.pipe(createGzip({ level: 1, strategy: zlibConstants.Z_DEFAULT_STRATEGY })).pipe(out);
    pack.entry({ name: 'cmpkg.json', size: bytes.length }, bytes);
    pack.entry({ name: 'cmpkg.sig', size: Buffer.byteLength(sig) }, Buffer.from(sig));
    const sink = pack.entry({ name: 'data/big.ndjson', size: dataSize });
    for (let i = 0; i < lines; i += 10_000) {
      if (!sink.write(chunk(i, Math.min(10_000, lines - i))))
        await new Promise<void>((r) => sink.once('drain', () => r()));
    }
    sink.end(undefined);
    pack.finalize();
    await closed;

    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const pkg = await openPackage(file, { tempRoot: dir });
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    try {
      expect(statSync(join(pkg.dir, 'data/big.ndjson')).size).toBe(dataSize);
      // Buffering the entry would add ~192 MiB; streaming stays within a few chunks plus GC slack.
      expect(peak - before).toBeLessThan(96 * 1024 * 1024);
    } finally {
      await pkg.dispose();
    }
  }, 120_000);
});
