import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, MigrationParseError } from '../errors.js';
import { compareFileNames, discoverMigrationFiles, loadPlugin } from './directory-loader.js';

const root = mkdtempSync(join(tmpdir(), 'cmpkg-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function makeDir(files: Record<string, string>): string {
  const dir = join(root, `d${counter++}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function jsonMigration(id: string, version: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 'portable-migration-v1',
    migration: {
      id,
      version,
      name: id,
      steps: {
        up: [
          { id: 'up', name: 'up', sql: { universal: `CREATE TABLE ${id.replace(/\W/g, '_')} (id int);` } },
        ],
      },
      ...extra,
    },
  });
}

async function fails(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('compareFileNames', () => {
  it('orders digit runs numerically and is locale-free', () => {
    const names = [
      '10_b.sql',
      '2_a.sql',
      '1_z.sql',
      '002_c.sql',
      'V1.10__x.sql',
      'V1.9__x.sql',
      'B.sql',
      'a.sql',
    ];
    expect([...names].sort(compareFileNames)).toEqual([
      '1_z.sql',
      '2_a.sql',
      '002_c.sql',
      '10_b.sql',
      'B.sql',
      'V1.9__x.sql',
      'V1.10__x.sql',
      'a.sql',
    ]);
    expect(compareFileNames('01.sql', '1.sql')).not.toBe(0);
    expect(compareFileNames('a.sql', 'a.sql')).toBe(0);
  });
});

describe('discoverMigrationFiles', () => {
  it('lists migration files only, sorted, as absolute paths', () => {
    const dir = makeDir({
      '10_c.sql': '',
      '2_b.json': '',
      '1_a.ts': '',
      '3.mts': '',
      '4.cts': '',
      '5.js': '',
      '6.mjs': '',
      '7.cjs': '',
      'types.d.ts': '',
      'helper.test.ts': '',
      'x.spec.js': '',
      '.hidden.sql': '',
      'README.md': '',
      'notes.txt': '',
    });
    mkdirSync(join(dir, 'sub.sql'));
    writeFileSync(join(dir, 'sub.sql', 'inner.sql'), '');
    symlinkSync(join(dir, '10_c.sql'), join(dir, '11_link.sql'));
    symlinkSync(join(dir, 'missing.sql'), join(dir, '12_dangling.sql'));
    expect(discoverMigrationFiles(dir).map((f) => f.slice(dir.length + 1))).toEqual([
      '1_a.ts',
      '2_b.json',
      '3.mts',
      '4.cts',
      '5.js',
      '6.mjs',
      '7.cjs',
      '10_c.sql',
      '11_link.sql',
    ]);
    expect(discoverMigrationFiles(dir).every((f) => f.startsWith('/'))).toBe(true);
  });
});

describe('loadPlugin', () => {
  it('loads every format, fills pluginId and source, and takes the highest version', async () => {
    const dir = makeDir({
      '0001_base.sql': '-- @version: 1.0.0\nCREATE TABLE base (id int);',
      '0002_json.json': jsonMigration('0002_json', '1.2.0', { pluginId: 'kb' }),
      '0003_plain.mjs': `export default ${jsonMigration('0003_plain', '1.10.0')
        .replace(/^\{"format":"portable-migration-v1","migration":/, '')
        .slice(0, -1)};\n`,
      'README.md': '# not a migration',
    });
    const plugin = await loadPlugin({ dir, id: 'kb', name: 'Knowledge base', description: 'KB' });
    expect(plugin).toMatchObject({
      id: 'kb',
      version: '1.10.0',
      name: 'Knowledge base',
      description: 'KB',
      dir,
    });
    expect(plugin.migrations.map((m) => [m.id, m.pluginId, m.source?.format])).toEqual([
      ['0001_base', 'kb', 'sql'],
      ['0002_json', 'kb', 'json'],
      ['0003_plain', 'kb', 'module'],
    ]);
    expect(plugin.migrations[0]?.source?.file).toBe(join(dir, '0001_base.sql'));
  });

  it('uses the given version, else 0.0.0 for an empty directory', async () => {
    const dir = makeDir({ '1.sql': 'SELECT 1;' });
    expect((await loadPlugin({ dir, id: 'p', version: '3.0.0' })).version).toBe('3.0.0');
    expect(await loadPlugin({ dir: makeDir({}), id: 'p' })).toMatchObject({
      version: '0.0.0',
      migrations: [],
    });
  });

  it('refuses a file that names another plugin', async () => {
    const dir = makeDir({ '1.json': jsonMigration('one', '1.0.0', { pluginId: 'other' }) });
    const err = await fails(loadPlugin({ dir, id: 'kb' }));
    expect(err).toBeInstanceOf(MigrationParseError);
    expect((err as MigrationParseError).code).toBe('E_PLUGIN_MISMATCH');
    expect((err as MigrationParseError).location).toEqual({
      file: join(dir, '1.json'),
      field: 'migration.pluginId',
    });
  });

  it('refuses duplicate ids, naming both files', async () => {
    const dir = makeDir({ '1_a.sql': '-- @id: same\nSELECT 1;', '2_b.json': jsonMigration('same', '1.0.0') });
    const err = (await fails(loadPlugin({ dir, id: 'kb' }))) as MigrationParseError;
    expect(err.code).toBe('E_DUPLICATE_ID');
    expect(err.message).toContain(join(dir, '1_a.sql'));
    expect(err.message).toContain(join(dir, '2_b.json'));
  });

  it('passes parse errors through with their file', async () => {
    const dir = makeDir({ '1.sql': '-- @owner: me\nSELECT 1;' });
    const err = (await fails(loadPlugin({ dir, id: 'kb' }))) as MigrationParseError;
    expect(err.code).toBe('E_UNKNOWN_HEADER');
    expect(err.location.file).toBe(join(dir, '1.sql'));
  });

  it('a missing directory is a ConfigError naming it', async () => {
    const missing = join(root, 'nope');
    const err = await fails(loadPlugin({ dir: missing, id: 'kb' }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(missing);
  });

  it('refuses an invalid plugin id or version', async () => {
    const dir = makeDir({});
    expect(await fails(loadPlugin({ dir, id: 'Not Valid' }))).toBeInstanceOf(ConfigError);
    expect(await fails(loadPlugin({ dir, id: 'ok', version: 'latest' }))).toBeInstanceOf(ConfigError);
  });

  describe('10,000 files', () => {
    const dir = join(root, 'many');
    beforeAll(() => {
      mkdirSync(dir);
      for (let i = 0; i < 10_000; i++) {
        const id = `m${String(i).padStart(5, '0')}`;
        if (i % 2 === 0)
          writeFileSync(join(dir, `${id}.sql`), `-- @version: 1.0.${i}\nCREATE TABLE t${i} (id int);\n`);
        else writeFileSync(join(dir, `${id}.json`), jsonMigration(id, `1.0.${i}`));
      }
      // Writing 10,000 files is slow when every package's tests share two cores in CI.
    }, 120_000);

    // How fast is bench/'s business; this checks that 10,000 mixed files load right.
    it('loads all of them in file order', { timeout: 120_000 }, async () => {
      const plugin = await loadPlugin({ dir, id: 'big' });
      expect(plugin.migrations).toHaveLength(10_000);
      expect(plugin.version).toBe('1.0.9999');
      expect(plugin.migrations[9_999]?.id).toBe('m09999');
    });
  });
});
