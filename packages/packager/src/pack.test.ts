import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineMigration, orderMigrations, parseJsonMigration } from '@cmpkg/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openPackage } from './archive-reader.js';
import { generateKeyPair } from './keys.js';
import { packPlugin } from './pack.js';
import { createRotation } from './rotation.js';
import { failureOf, sampleDb, samplePlugin, tempDir, withTmpdir } from './testing/fixtures.js';

const key = generateKeyPair();
const savedEpoch = process.env.SOURCE_DATE_EPOCH;

afterEach(() => {
  if (savedEpoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = savedEpoch;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('packPlugin', () => {
  it('packs the migrations up to the version, in the planner order, with a signed manifest', async () => {
    const plugin = await samplePlugin('1.1.0');
    const dir = tempDir();
    const result = await packPlugin({ plugin, key, outDir: dir });
    expect(result.file).toBe(join(dir, 'sample-1.1.0.cmpkg'));
    const included = plugin.migrations.filter((m) => m.version !== '2.0.0');
    expect(included.length).toBeLessThan(plugin.migrations.length); // 2.0.0 is left out
    const order = orderMigrations(included).map((m) => m.id);
    expect(result.manifest.migrations.map((m) => m.id)).toEqual(order);
    expect(result.manifest.migrations.map((m) => m.path)).toEqual(
      order.map((id, i) => `migrations/${String(i + 1).padStart(4, '0')}-${id}.json`),
    );
    expect(result.manifest.plugin).toEqual({
      id: 'sample',
      version: '1.1.0',
      name: 'Sample',
      description: 'The sample plugin',
    });
    expect(result.manifest.signer).toEqual({ keyId: key.keyId, publicKey: key.encoded });
    expect(result.manifest.createdBy).toMatch(/^cmpkg\/\d+\.\d+\.\d+/);
    // Newest migration timestamp (of the packed ones), not the wall clock.
    const newest = Math.max(
      ...included.flatMap((m) => [m.createdAt, m.updatedAt]).map((d) => (d ? Date.parse(d) : 0)),
    );
    expect(result.manifest.createdAt).toBe(new Date(newest).toISOString());
    expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.integrity).toMatch(/^sha512-[A-Za-z0-9+/]+=*$/);

    const pkg = await openPackage(result.file, { trustedKeys: [key] });
    try {
      expect(pkg.digest).toBe(result.digest);
      expect(pkg.integrity).toBe(result.integrity);
      expect(pkg.size).toBe(result.size);
      const loaded = await pkg.loadPlugin();
      const byId = new Map(plugin.migrations.map((m) => [m.id, m.checksum]));
      expect(loaded.migrations.map((m) => [m.id, m.checksum])).toEqual(order.map((id) => [id, byId.get(id)]));
      // The signature is minisign's: the stock tool verifies it, and prints the trusted comment.
      const printed = execFileSync(
        'minisign',
        ['-V', '-m', join(pkg.dir, 'cmpkg.json'), '-x', join(pkg.dir, 'cmpkg.sig'), '-P', key.encoded],
        { encoding: 'utf8' },
      );
      expect(printed).toMatch(/Trusted comment: cmpkg\/1 sample@1\.1\.0 sha256:[0-9a-f]{64}/);
    } finally {
      await pkg.dispose();
    }
  });

  it('packs every migration at the plugin version, and each file is a portable document', async () => {
    const plugin = await samplePlugin('2.0.0');
    const result = await packPlugin({ plugin, key, outDir: tempDir() });
    expect(result.manifest.migrations).toHaveLength(plugin.migrations.length);
    const pkg = await openPackage(result.file);
    try {
      for (const entry of result.manifest.migrations) {
        const m = parseJsonMigration(readFileSync(join(pkg.dir, entry.path), 'utf8'), entry.path);
        expect(m.checksum).toBe(entry.checksum);
        expect(m.pluginId).toBe('sample');
      }
    } finally {
      await pkg.dispose();
    }
  });

  it('lists files sorted (migrations, data, README, rotation) with sizes and sha256, engines every migration supports', async () => {
    const dir = tempDir();
    const db = await sampleDb(dir, 10);
    writeFileSync(join(dir, 'README.md'), '# Sample\n');
    const old = generateKeyPair();
    const result = await packPlugin({
      plugin: await samplePlugin('1.0.0'),
      key,
      out: join(dir, 'out', 'nested', 'x.cmpkg'),
      data: { db, tables: ['entries', 'categories'] },
      readme: join(dir, 'README.md'),
      requires: { 'base-plugin': '^1.2.0' },
      rotation: [
        createRotation({ pluginId: 'sample', from: old, to: key, createdAt: '2024-01-01T00:00:00Z' }),
      ],
    });
    await db.connection.close();
    const paths = result.manifest.files.map((f) => f.path);
    expect(paths.filter((p) => !p.startsWith('migrations/'))).toEqual([
      'data/categories.ndjson',
      'data/entries.ndjson',
      'README.md',
      'rotation.json',
    ]);
    expect(paths.slice(0, 3).every((p) => p.startsWith('migrations/'))).toBe(true);
    expect(result.manifest.data).toEqual([
      {
        table: 'entries',
        path: 'data/entries.ndjson',
        format: 'ndjson',
        rows: 10,
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'title', type: 'text' },
          { name: 'body', type: 'text' },
        ],
      },
      expect.objectContaining({ table: 'categories', rows: 2 }),
    ]);
    expect(result.manifest.requires).toEqual({ 'base-plugin': '^1.2.0' });
    expect(result.manifest.engines).toEqual(['postgresql', 'mysql', 'sqlite']);
    const pkg = await openPackage(result.file);
    try {
      // Rows in key order, though they were inserted in reverse.
      const lines = readFileSync(join(pkg.dir, 'data/entries.ndjson'), 'utf8').trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(readFileSync(join(pkg.dir, 'README.md'), 'utf8')).toBe('# Sample\n');
      expect(pkg.rotation).toHaveLength(1);
      expect(pkg.rotation[0]?.to).toBe(key.encoded);
    } finally {
      await pkg.dispose();
    }
  });

  it('is reproducible: same inputs, other output paths, later wall clock → byte-identical archives', async () => {
    const dir = tempDir();
    const plugin = await samplePlugin('1.1.0');
    const a = await packPlugin({ plugin, key, out: join(dir, 'a.cmpkg') });
    await sleep(1100);
    const b = await packPlugin({ plugin, key, out: join(dir, 'sub', 'b.cmpkg') });
    expect(readFileSync(b.file).equals(readFileSync(a.file))).toBe(true);
    expect(b.digest).toBe(a.digest);
  });

  it('is reproducible with data exported from SQLite', async () => {
    const dir = tempDir();
    const db = await sampleDb(dir, 2000);
    const plugin = await samplePlugin('1.1.0');
    const options = { plugin, key, data: { db, tables: ['entries', 'categories'] } };
    const a = await packPlugin({ ...options, out: join(dir, 'a.cmpkg') });
    await sleep(1100);
    const b = await packPlugin({ ...options, out: join(dir, 'b.cmpkg') });
    await db.connection.close();
    // The same rows in another database file, inserted in another order, pack the same too.
    const other = await sampleDb(tempDir(), 2000);
    const c = await packPlugin({
      ...options,
      data: { db: other, tables: ['entries', 'categories'] },
      out: join(dir, 'c.cmpkg'),
    });
    await other.connection.close();
    expect(readFileSync(b.file).equals(readFileSync(a.file))).toBe(true);
    expect(readFileSync(c.file).equals(readFileSync(a.file))).toBe(true);
    expect(a.manifest.data[0]?.rows).toBe(2000);
  }, 30_000);

  it('takes createdAt from options, then SOURCE_DATE_EPOCH, and sets every tar mtime to it', async () => {
    const plugin = await samplePlugin('1.0.0');
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    const fromEpoch = await packPlugin({ plugin, key, outDir: tempDir() });
    expect(fromEpoch.manifest.createdAt).toBe('2023-11-14T22:13:20.000Z');
    const given = await packPlugin({
      plugin,
      key,
      outDir: tempDir(),
      createdAt: '2025-05-05T05:05:05+02:00',
    });
    expect(given.manifest.createdAt).toBe('2025-05-05T03:05:05.000Z');
    const listing = execFileSync('tar', ['tvzf', given.file, '--utc', '--full-time'], { encoding: 'utf8' });
    for (const line of listing.trim().split('\n'))
      expect(line).toMatch(/^-rw-r--r-- 0\/0 .* 2025-05-05 03:05:05 /);
    process.env.SOURCE_DATE_EPOCH = 'yesterday';
    expect((await failureOf(packPlugin({ plugin, key, outDir: tempDir() }))).code).toBe('E_PACK_INPUT');
  });

  describe('refusals leave no output file and no temporary file', () => {
    const cases: Array<[string, () => Promise<Parameters<typeof packPlugin>[0]>, string, RegExp]> = [
      [
        'a code step',
        async () => {
          const plugin = await samplePlugin('1.1.0');
          const code = defineMigration({
            id: '0009_code',
            version: '1.0.0',
            name: 'Code',
            up: async () => {},
          });
          code.source = { file: '/project/migrations/0009_code.ts', format: 'module' };
          return { plugin: { ...plugin, migrations: [...plugin.migrations, code] }, key };
        },
        'E_PACK_INPUT',
        /0009_code.*0009_code\.ts.*code/,
      ],
      [
        'an invalid version',
        async () => ({ plugin: await samplePlugin(), key, version: 'next' }),
        'E_PACK_INPUT',
        /not a semver/,
      ],
      [
        'a packed migration depending on one above the version',
        async () => {
          const plugin = await samplePlugin('2.0.0');
          const late = defineMigration({
            id: '0010_late',
            version: '3.0.0',
            name: 'Late',
            steps: { up: [{ id: 'u', name: 'U', sql: { universal: 'SELECT 1' } }] },
          });
          const early = defineMigration({
            id: '0011_early',
            version: '1.0.0',
            name: 'Early',
            dependencies: ['0010_late'],
            steps: { up: [{ id: 'u', name: 'U', sql: { universal: 'SELECT 1' } }] },
          });
          return { plugin: { ...plugin, migrations: [...plugin.migrations, late, early] }, key };
        },
        'E_PACK_INPUT',
        /0011_early.*0010_late.*above 2\.0\.0/,
      ],
      [
        'nothing to pack',
        async () => ({ plugin: await samplePlugin('0.0.1'), key, version: '0.0.1' }),
        'E_PACK_INPUT',
        /nothing to pack/,
      ],
      [
        'an unsafe table name',
        async () => ({
          plugin: await samplePlugin(),
          key,
          data: { db: await sampleDb(tempDir()), tables: ['../x'] },
        }),
        'E_PACK_INPUT',
        /data table/,
      ],
      [
        'an unknown table',
        async () => ({
          plugin: await samplePlugin(),
          key,
          data: { db: await sampleDb(tempDir()), tables: ['entries', 'ghost'] },
        }),
        'E_MAPPING',
        /ghost/,
      ],
      [
        'a missing README',
        async () => ({ plugin: await samplePlugin(), key, readme: '/nonexistent/README.md' }),
        'E_PACK_INPUT',
        /README/,
      ],
      [
        'an invalid requires range',
        async () => ({ plugin: await samplePlugin(), key, requires: { base: 'newest' } }),
        'E_PACK_INPUT',
        /semver range/,
      ],
      [
        'no engines',
        async () => ({ plugin: await samplePlugin(), key, engines: [] }),
        'E_PACK_INPUT',
        /engine/,
      ],
      [
        'rotation statements of another plugin',
        async () => ({
          plugin: await samplePlugin(),
          key,
          rotation: [createRotation({ pluginId: 'other', from: generateKeyPair(), to: key })],
        }),
        'E_PACK_INPUT',
        /plugin "other"/,
      ],
      [
        'a rotation chain that does not end at the signer',
        async () => ({
          plugin: await samplePlugin(),
          key,
          rotation: [createRotation({ pluginId: 'sample', from: key, to: generateKeyPair() })],
        }),
        'E_PACK_INPUT',
        /signing key/,
      ],
    ];
    it.each(cases)('%s', async (_name, make, code, message) => {
      const options = await make();
      const out = join(tempDir(), 'pkg.cmpkg');
      const { dir, result } = await withTmpdir(() => failureOf(packPlugin({ ...options, out })));
      expect(result.code, result.message).toBe(code);
      expect(result.message).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(join(out, '..'))).toEqual([]);
      expect(readdirSync(dir)).toEqual([]);
    });

    it('when the output cannot be written', async () => {
      const parent = tempDir();
      writeFileSync(join(parent, 'file'), 'x');
      const out = join(parent, 'file', 'pkg.cmpkg');
      const { dir, result } = await withTmpdir(async () => {
        const db = await sampleDb(tempDir(), 5);
        return failureOf(
          packPlugin({ plugin: await samplePlugin(), key, out, data: { db, tables: ['entries'] } }),
        );
      });
      expect(result.code).toBe('E_PACK_INPUT');
      expect(readdirSync(parent)).toEqual(['file']);
      expect(readdirSync(dir).filter((f) => f.startsWith('cmpkg-pack-'))).toEqual([]);
    });
  });
});
