import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connection, defineMigration, type Plugin } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPackage } from './archive-reader.js';
import { type InstallEvent, installPackage } from './install.js';
import { generateKeyPair } from './keys.js';
import { packPlugin } from './pack.js';
import { failureOf } from './testing/fixtures.js';

// installPackage on SQLite files; the cross-engine suites are in test/package.

const dialect = new SqliteDialect();
const key = generateKeyPair();
let dir: string;
let conn: Connection;
const open: Connection[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cmpkg-install-unit-'));
  conn = await dialect.connect(`sqlite:${join(dir, 'app.db')}`);
});

afterEach(async () => {
  for (const c of [conn, ...open.splice(0)]) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

function plugin(table: string, primaryKey = true): Plugin {
  return {
    id: 'unit',
    version: '1.0.0',
    migrations: [
      defineMigration({
        id: '0001_table',
        pluginId: 'unit',
        version: '1.0.0',
        name: 'table',
        steps: {
          up: [
            {
              id: 'up',
              name: 'up',
              sql: {
                universal: `CREATE TABLE ${table} (id INTEGER${primaryKey ? ' PRIMARY KEY' : ''}, name TEXT NOT NULL)`,
              },
            },
          ],
          down: [{ id: 'down', name: 'down', sql: { universal: `DROP TABLE ${table}` } }],
        },
      }),
    ],
  };
}

/** Packs `plugin(table)` with two rows of `table` exported from a SQLite source. */
async function pack(table: string, primaryKey = true) {
  const source = await dialect.connect(`sqlite:${join(dir, `source-${table}.db`)}`);
  open.push(source);
  await source.execute(
    `CREATE TABLE ${table} (id INTEGER${primaryKey ? ' PRIMARY KEY' : ''}, name TEXT NOT NULL)`,
  );
  await source.execute(`INSERT INTO ${table} VALUES (1, 'one'), (2, 'two')`);
  return packPlugin({
    plugin: plugin(table, primaryKey),
    key,
    outDir: join(dir, `dist-${table}`),
    createdAt: '2024-01-01T00:00:00.000Z',
    data: { db: { dialect, connection: source }, tables: [table] },
  });
}

const userTables = async () =>
  (
    await conn.execute<{ name: string }>(
      "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name <> 'cmpkg_lock' order by name",
    )
  ).rows.map((r) => r.name);

describe('installPackage', () => {
  it('installs an opened package (which the caller keeps and disposes), reporting progress in order', async () => {
    const packed = await pack('items');
    const pkg = await openPackage(packed.file);
    try {
      const events: InstallEvent['type'][] = [];
      const result = await installPackage({
        package: pkg,
        dialect,
        connection: conn,
        onEvent: (e) => events.push(e.type),
      });
      expect(result.error).toBeUndefined();
      expect(result).toMatchObject({
        action: 'install',
        toVersion: '1.0.0',
        mode: 'transaction',
        digest: packed.digest,
      });
      expect(result.data?.written).toBe(2);
      const first = (type: InstallEvent['type']) => events.indexOf(type);
      expect(first('verified')).toBe(0);
      expect(first('plan')).toBeLessThan(first('migration:start'));
      expect(first('migration:done')).toBeLessThan(first('data:done'));
      expect((await conn.execute('select id, name from items order by id')).rows).toEqual([
        { id: 1, name: 'one' },
        { id: 2, name: 'two' },
      ]);
      // Not ours to dispose.
      expect(existsSync(pkg.dir)).toBe(true);
    } finally {
      await pkg.dispose();
    }
  });

  it('refuses an opened package of another plugin or version than expected', async () => {
    const packed = await pack('items');
    const pkg = await openPackage(packed.file);
    try {
      const base = { package: pkg, dialect, connection: conn };
      expect((await failureOf(installPackage({ ...base, expect: { pluginId: 'other' } }))).code).toBe(
        'E_PKG_UNEXPECTED',
      );
      expect((await failureOf(installPackage({ ...base, expect: { version: '2.0.0' } }))).code).toBe(
        'E_PKG_UNEXPECTED',
      );
    } finally {
      await pkg.dispose();
    }
    expect(
      (
        await failureOf(
          installPackage({ package: packed.file, dialect, connection: conn, expect: { version: '9.9.9' } }),
        )
      ).code,
    ).toBe('E_PKG_UNEXPECTED');
    expect(await userTables()).toEqual([]);
  });

  it('refuses a connection that is already inside a transaction', async () => {
    const packed = await pack('items');
    await conn.execute('BEGIN');
    const refused = await failureOf(installPackage({ package: packed.file, dialect, connection: conn }));
    expect(refused.code).toBe('E_USAGE');
    expect(refused.message).toContain('inside a transaction');
    await conn.execute('ROLLBACK');
    expect(await userTables()).toEqual([]);
  });

  it('puts everything back when the data cannot be merged (a table without a primary key)', async () => {
    const packed = await pack('loose_rows', false);
    const result = await installPackage({ package: packed.file, dialect, connection: conn });
    expect(result.error?.code).toBe('E_INSTALL_FAILED');
    expect(result.error?.details.cause).toBe('E_MAPPING');
    expect(result.error?.message).toMatch(/primary key/);
    expect(result.restored).toBe(true);
    expect(result.data).toBeUndefined();
    expect(await userTables()).toEqual([]);
  });

  it('refuses with a cmpkg error (not a raw fs error) when a required backup cannot be written', async () => {
    const base = plugin('items');
    const needsBackup: Plugin = {
      ...base,
      migrations: base.migrations.map((m) => ({ ...m, requiresBackup: true })),
    };
    const packed = await packPlugin({
      plugin: needsBackup,
      key,
      outDir: join(dir, 'dist-backup'),
      createdAt: '2024-01-01T00:00:00.000Z',
    });
    // A file where the backup directory should be: mkdir fails with ENOTDIR/EEXIST.
    const backupDirectory = join(dir, 'app.db');
    const refused = await failureOf(
      installPackage({ package: packed.file, dialect, connection: conn, backupDirectory }),
    );
    expect(refused.code).toBe('E_BACKUP_REQUIRED');
    expect(refused.message).toContain(backupDirectory);
    expect(await userTables()).toEqual([]);
  });

  it('dry run plans and writes nothing', async () => {
    const packed = await pack('items');
    const result = await installPackage({ package: packed.file, dialect, connection: conn, dryRun: true });
    expect(result).toMatchObject({ dryRun: true, action: 'install', pinned: true });
    expect(result.migrations.map((m) => [m.migrationId, m.status])).toEqual([['0001_table', 'planned']]);
    expect((await conn.execute("select name from sqlite_master where type = 'table'")).rows).toEqual([]);
  });
});
