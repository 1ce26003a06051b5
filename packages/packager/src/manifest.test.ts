import { describe, expect, it } from 'vitest';
import { generateKeyPair } from './keys.js';
import {
  compareEntryPaths,
  isPackagePath,
  isSafeEntryPath,
  migrationEntryPath,
  type PackageManifest,
  packageFileName,
  parseManifest,
  serializeManifest,
  trustedCommentFor,
} from './manifest.js';

const key = generateKeyPair();
const SHA = 'a'.repeat(64);

function valid(): PackageManifest {
  return {
    format: 'cmpkg/1',
    plugin: { id: 'sample', version: '1.0.0', name: 'Sample' },
    engines: ['postgresql', 'sqlite'],
    requires: { base: '^1.0.0' },
    migrations: [
      {
        id: '0001_init',
        version: '1.0.0',
        path: 'migrations/0001-0001_init.json',
        checksum: `sha256:${SHA}`,
      },
    ],
    data: [
      {
        table: 'entries',
        path: 'data/entries.ndjson',
        format: 'ndjson',
        rows: 2,
        columns: [{ name: 'id', type: 'bigint' }],
      },
    ],
    files: [
      { path: 'migrations/0001-0001_init.json', size: 10, sha256: SHA },
      { path: 'data/entries.ndjson', size: 20, sha256: SHA },
      { path: 'README.md', size: 3, sha256: SHA },
    ],
    signer: { keyId: key.keyId, publicKey: key.encoded },
    createdAt: '2024-01-01T00:00:00.000Z',
    createdBy: 'cmpkg/0.1.0',
  };
}

const bytesOf = (m: unknown) => new TextEncoder().encode(JSON.stringify(m));

describe('entry paths', () => {
  it.each([
    ['cmpkg.json', true],
    ['data/entries.ndjson', true],
    ['migrations/0001-a.b_c-d.json', true],
    ['/etc/passwd', false],
    ['../x', false],
    ['a/../b', false],
    ['./a', false],
    ['a/./b', false],
    ['a//b', false],
    ['a/', false],
    ['', false],
    ['.hidden', false],
    ['a\\b', false],
    ['C:/x', false],
    ['a\u0000b', false],
    ['a\nb', false],
    ['caf\u00e9', false],
    ['a\uFFFDb', false],
    ['x'.repeat(256), false],
  ])('isSafeEntryPath(%j) is %s', (path, safe) => {
    expect(isSafeEntryPath(path)).toBe(safe);
  });

  it('knows the package layout', () => {
    expect(isPackagePath('README.md')).toBe(true);
    expect(isPackagePath('rotation.json')).toBe(true);
    expect(isPackagePath('migrations/0001-init.json')).toBe(true);
    expect(isPackagePath('migrations/init.json')).toBe(false);
    expect(isPackagePath('data/entries.csv')).toBe(false);
    expect(isPackagePath('cmpkg.json')).toBe(false);
    expect(isPackagePath('bin/run.sh')).toBe(false);
  });

  it('orders entries: manifest, signature, migrations, data, README, rotation; code-unit order within', () => {
    const paths = [
      'rotation.json',
      'README.md',
      'data/b.ndjson',
      'data/B.ndjson',
      'migrations/0002-a.json',
      'cmpkg.sig',
      'migrations/0001-z.json',
      'cmpkg.json',
    ];
    expect(paths.sort(compareEntryPaths)).toEqual([
      'cmpkg.json',
      'cmpkg.sig',
      'migrations/0001-z.json',
      'migrations/0002-a.json',
      'data/B.ndjson',
      'data/b.ndjson',
      'README.md',
      'rotation.json',
    ]);
  });

  it('names migrations and packages', () => {
    expect(migrationEntryPath(12, 'x')).toBe('migrations/0012-x.json');
    expect(migrationEntryPath(12345, 'x')).toBe('migrations/12345-x.json');
    expect(packageFileName({ plugin: { id: 'sample', version: '1.2.3' } })).toBe('sample-1.2.3.cmpkg');
  });
});

describe('parseManifest', () => {
  it('accepts a valid manifest and round-trips through serializeManifest byte for byte', () => {
    const m = valid();
    const bytes = serializeManifest(m);
    expect(parseManifest(bytes, 'x.cmpkg')).toEqual(m);
    expect(serializeManifest(parseManifest(bytes, 'x.cmpkg'))).toEqual(bytes);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{\n  "format": "cmpkg/1",\n  "plugin": {')).toBe(true);
    expect(text.endsWith('\n}\n')).toBe(true);
  });

  it('writes keys in a fixed order whatever order the object has', () => {
    const m = valid();
    const shuffled = Object.fromEntries(Object.entries(m).reverse()) as unknown as PackageManifest;
    expect(serializeManifest(shuffled)).toEqual(serializeManifest(m));
  });

  it.each<[string, (m: PackageManifest) => void, string]>([
    ['an unknown format', (m) => Object.assign(m, { format: 'cmpkg/2' }), 'format'],
    ['a negative size', (m) => Object.assign(m.files[0] as object, { size: -1 }), 'files[0].size'],
    ['a fractional row count', (m) => Object.assign(m.data[0] as object, { rows: 1.5 }), 'data[0].rows'],
    [
      'a path outside the layout',
      (m) => m.files.push({ path: 'bin/run.sh', size: 1, sha256: SHA }),
      'files[3].path',
    ],
    ['an unsafe path', (m) => m.files.push({ path: '../x.json', size: 1, sha256: SHA }), 'files[3].path'],
    [
      'cmpkg.json in files',
      (m) => m.files.push({ path: 'cmpkg.json', size: 1, sha256: SHA }),
      'files[3].path',
    ],
    [
      'the same path twice',
      (m) => m.files.push({ path: 'README.md', size: 1, sha256: SHA }),
      'files[3].path',
    ],
    [
      'two paths that differ only in case',
      (m) => {
        m.data.push({
          table: 'Entries',
          path: 'data/Entries.ndjson',
          format: 'ndjson',
          rows: 0,
          columns: [{ name: 'id', type: 'bigint' }],
        });
        m.files.push({ path: 'data/Entries.ndjson', size: 1, sha256: SHA });
      },
      'files[3].path',
    ],
    [
      'a migration at the wrong position',
      (m) => Object.assign(m.migrations[0] as object, { path: 'migrations/0002-0001_init.json' }),
      'migrations[0].path',
    ],
    ['a migration not listed in files', (m) => m.files.splice(0, 1), 'migrations[0].path'],
    ['a data path not listed in files', (m) => m.files.splice(1, 1), 'data[0].path'],
    [
      'a listed data file nothing describes',
      (m) => m.files.push({ path: 'data/other.ndjson', size: 1, sha256: SHA }),
      'files[3].path',
    ],
    ['a bad sha256', (m) => Object.assign(m.files[0] as object, { sha256: 'ABC' }), 'files[0].sha256'],
    [
      'a bad checksum',
      (m) => Object.assign(m.migrations[0] as object, { checksum: 'md5:x' }),
      'migrations[0].checksum',
    ],
    ['a non-semver version', (m) => Object.assign(m.plugin, { version: 'latest' }), 'plugin.version'],
    ['a bad requires range', (m) => Object.assign(m.requires, { base: 'soon' }), 'requires.base'],
    ['an unknown engine', (m) => Object.assign(m, { engines: ['oracle'] }), 'engines[0]'],
    [
      'an unknown column type',
      (m) => Object.assign(m.data[0] as object, { columns: [{ name: 'x', type: 'money' }] }),
      'data[0].columns[0].type',
    ],
    ['an unknown key', (m) => Object.assign(m, { postinstall: 'rm -rf /' }), '(root)'],
    ['a bad signer key id', (m) => Object.assign(m.signer, { keyId: 'nope' }), 'signer.keyId'],
    ['a missing createdAt', (m) => Object.assign(m, { createdAt: undefined }), 'createdAt'],
  ])('refuses %s with E_PKG_MANIFEST naming the field', (_name, edit, field) => {
    const m = valid();
    edit(m);
    let error: { code?: string; message?: string; details?: Record<string, unknown> } = {};
    try {
      parseManifest(bytesOf(m), 'x.cmpkg');
    } catch (err) {
      error = err as typeof error;
    }
    expect(error.code).toBe('E_PKG_MANIFEST');
    expect(error.message).toContain('x.cmpkg: cmpkg.json');
    expect(error.details?.field || '(root)').toBe(field);
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{"format":')],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
  ])('refuses %s with E_PKG_MANIFEST', (_name, bytes) => {
    expect(() => parseManifest(bytes, 'x.cmpkg')).toThrow(
      expect.objectContaining({ code: 'E_PKG_MANIFEST' }),
    );
  });

  it('spells the trusted comment', () => {
    expect(trustedCommentFor(valid(), SHA)).toBe(`cmpkg/1 sample@1.0.0 sha256:${SHA}`);
  });
});
