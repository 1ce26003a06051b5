import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineMigration, RISK_LEVELS, sha256Hex } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { writeArchive } from './archive-writer.js';
import { inspectPackage } from './inspect.js';
import { generateKeyPair } from './keys.js';
import { type PackageManifest, serializeManifest, trustedCommentFor } from './manifest.js';
import { toPortableDocument } from './migration-document.js';
import { packPlugin } from './pack.js';
import { signMessage } from './signature.js';
import { failureOf, sampleDb, samplePlugin, tempDir } from './testing/fixtures.js';

const key = generateKeyPair();

describe('inspectPackage', () => {
  it('reports the verified package: plugin, signer, migrations with risk, data from the manifest', async () => {
    const dir = tempDir();
    const db = await sampleDb(dir, 7);
    const plugin = await samplePlugin('2.0.0');
    const packed = await packPlugin({
      plugin,
      key,
      outDir: dir,
      data: { db, tables: ['entries'] },
      requires: { base: '>=1' },
    });
    await db.connection.close();
    const root = tempDir();
    const report = await inspectPackage(packed.file, { tempRoot: root });
    expect(readdirSync(root)).toEqual([]);
    expect(report).toMatchObject({
      file: packed.file,
      size: packed.size,
      digest: packed.digest,
      integrity: packed.integrity,
      plugin: { id: 'sample', version: '2.0.0', name: 'Sample', description: 'The sample plugin' },
      engines: packed.manifest.engines,
      requires: { base: '>=1' },
      signer: { keyId: key.keyId, publicKey: key.encoded, trusted: null },
      createdAt: packed.manifest.createdAt,
      createdBy: packed.manifest.createdBy,
      files: packed.manifest.files,
    });
    const byId = new Map(plugin.migrations.map((m) => [m.id, m]));
    expect(report.migrations.map((m) => m.path)).toEqual(packed.manifest.migrations.map((m) => m.path));
    for (const m of report.migrations) {
      const source = byId.get(m.id);
      expect(source).toBeDefined();
      if (!source) continue;
      expect(m).toEqual({
        id: source.id,
        version: source.version,
        name: source.name,
        type: source.type,
        riskLevel: source.riskLevel,
        requiresBackup: source.requiresBackup,
        steps: { up: source.steps.up.length, down: source.steps.down.length },
        reversible: source.steps.down.length > 0 && source.steps.up.every((s) => s.rollbackSupported),
        path: m.path,
      });
    }
    const highest = Math.max(...plugin.migrations.map((m) => RISK_LEVELS.indexOf(m.riskLevel)));
    expect(report.maxRisk).toBe(RISK_LEVELS[highest]);
    expect(report.maxRisk).not.toBe('low'); // the sample has riskier migrations: the test can fail
    expect(report.data).toEqual([
      {
        table: 'entries',
        rows: 7,
        columns: ['id', 'title', 'body'],
        path: 'data/entries.ndjson',
        size: packed.manifest.files.find((f) => f.path === 'data/entries.ndjson')?.size,
      },
    ]);
    const trusted = await inspectPackage(packed.file, { trustedKeys: [key] });
    expect(trusted.signer.trusted).toBe(true);
  });

  it('reports a package without migrations with maxRisk null', async () => {
    const dir = tempDir();
    const db = await sampleDb(dir, 3);
    const packed = await packPlugin({
      plugin: await samplePlugin('0.0.1'),
      key,
      version: '0.0.1',
      outDir: dir,
      data: { db, tables: ['categories'] },
    });
    await db.connection.close();
    const report = await inspectPackage(packed.file);
    expect(report.migrations).toEqual([]);
    expect(report.maxRisk).toBeNull();
    expect(report.data[0]?.rows).toBe(2);
  });

  it('refuses a migration whose checksum is not the signed one, and still cleans up', async () => {
    const dir = tempDir();
    const m = defineMigration({
      id: '0001_a',
      version: '1.0.0',
      name: 'A',
      steps: { up: [{ id: 'u', name: 'U', sql: { universal: 'SELECT 1' } }] },
    });
    const doc = Buffer.from(toPortableDocument(m));
    const path = 'migrations/0001-0001_a.json';
    const manifest: PackageManifest = {
      format: 'cmpkg/1',
      plugin: { id: 'x', version: '1.0.0' },
      engines: ['sqlite'],
      requires: {},
      migrations: [{ id: '0001_a', version: '1.0.0', path, checksum: `sha256:${'0'.repeat(64)}` }],
      data: [],
      files: [{ path, size: doc.length, sha256: sha256Hex(doc) }],
      signer: { keyId: key.keyId, publicKey: key.encoded },
      createdAt: '2024-01-01T00:00:00.000Z',
      createdBy: 'cmpkg/test',
    };
    const bytes = serializeManifest(manifest);
    const sig = signMessage(bytes, key, { trustedComment: trustedCommentFor(manifest, sha256Hex(bytes)) });
    const file = join(dir, 'x.cmpkg');
    await writeArchive(
      file,
      [
        { path: 'cmpkg.json', data: bytes },
        { path: 'cmpkg.sig', data: Buffer.from(sig) },
        { path, data: doc },
      ],
      { mtime: manifest.createdAt },
    );
    const root = tempDir();
    const error = await failureOf(inspectPackage(file, { tempRoot: root }));
    expect(error.code).toBe('E_PKG_CHECKSUM');
    expect(error.message).toContain(`x.cmpkg: ${path}`);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses what openPackage refuses', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.cmpkg'), 'not a package');
    const root = tempDir();
    expect((await failureOf(inspectPackage(join(dir, 'x.cmpkg'), { tempRoot: root }))).code).toBe(
      'E_PKG_FORMAT',
    );
    expect(readdirSync(root)).toEqual([]);
  });
});
