import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connection, defineMigration, HISTORY_TABLES, HistoryStore, Migrator } from '@cmpkg/core';
import { afterEach, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';

/**
 * The history additions installs from packages rely on: `cmpkg_package_migrations` (created with
 * the other tables, added to databases that predate it, large documents on MySQL), exact restores
 * of `cmpkg_plugins`, and `Migrator.backup`.
 */

describeEngines('history: package documents and plugin records', (engine) => {
  let db: TestDatabase;
  let conn: Connection;
  afterEach(async () => {
    await conn?.close();
    await db?.drop();
  });
  async function open() {
    db = await createTestDatabase(engine);
    conn = await testDialect(engine).connect(db.url);
    return new HistoryStore(conn);
  }

  it('creates cmpkg_package_migrations with the others, and adds it to a database that predates it', async () => {
    const store = await open();
    expect(await store.readPackageDocuments('kb')).toEqual([]);
    await store.ensureTables();
    expect(await db.tableNames()).toEqual(expect.arrayContaining(Object.values(HISTORY_TABLES)));
    await store.writePlugin('kb', '1.0.0');
    await conn.execute(`DROP TABLE ${HISTORY_TABLES.packageMigrations}`);

    // A database with only the four original tables still has a history...
    const old = new HistoryStore(conn);
    expect(await old.exists()).toBe(true);
    expect((await old.readPlugin('kb'))?.version).toBe('1.0.0');
    expect(await old.readPackageDocuments('kb')).toEqual([]);
    await old.deletePackageDocuments('kb', ['x']);
    // ...and ensureTables adds the new one.
    await old.ensureTables();
    expect(await db.tableNames()).toContain(HISTORY_TABLES.packageMigrations);
  });

  it('stores, replaces and deletes migration documents (large ones too)', async () => {
    const store = await open();
    await store.ensureTables();
    const big = `{"format":"portable-migration-v1","pad":"${'x'.repeat(200_000)}"}`;
    const doc = (id: string, document: string) => ({
      pluginId: 'kb',
      migrationId: id,
      version: '1.0.0',
      checksum: `sha256:${'0'.repeat(64)}`,
      document,
    });
    await store.writePackageDocuments([doc('0001', '{}'), doc('0002', big)]);
    await store.writePackageDocuments([doc('0001', '{"v":2}')]);
    const read = await store.readPackageDocuments('kb');
    expect(read.map((d) => [d.migrationId, d.document.length])).toEqual([
      ['0001', 7],
      ['0002', big.length],
    ]);
    expect(read[1]?.document).toBe(big);
    expect(await store.readPackageDocuments('other')).toEqual([]);
    await store.deletePackageDocuments('kb', ['0002']);
    expect((await store.readPackageDocuments('kb')).map((d) => d.migrationId)).toEqual(['0001']);
  });

  it('restores a cmpkg_plugins row exactly, or removes it', async () => {
    const store = await open();
    await store.ensureTables();
    await store.writePlugin('kb', '1.0.0', { packageDigest: 'sha256:aa', keyId: 'RWQkey' });
    const before = await store.readPlugin('kb');
    await new Promise((r) => setTimeout(r, 5));
    await store.writePlugin('kb', '2.0.0', { packageDigest: 'sha256:bb', keyId: 'RWQother' });
    await store.restorePlugin('kb', before);
    expect(await store.readPlugin('kb')).toEqual(before);
    await store.restorePlugin('kb', null);
    expect(await store.readPlugin('kb')).toBeNull();
  });
});

describeEngines(
  'Migrator.backup',
  (engine) => {
    const dirs: string[] = [];
    afterEach(() => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });

    it('backs up for a plan, recording an execution only where the history tables exist', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cmpkg-backup-'));
      dirs.push(dir);
      const dialect = testDialect(engine);
      const conn = await dialect.connect(`sqlite:${join(dir, 'app.db')}`);
      try {
        const plugin = {
          id: 'app',
          version: '1.0.0',
          migrations: [
            defineMigration({
              id: '0001_big',
              pluginId: 'app',
              version: '1.0.0',
              name: 'big',
              requiresBackup: true,
              steps: { up: [{ id: 'up', name: 'up', sql: { universal: 'CREATE TABLE t (id int)' } }] },
            }),
          ],
        };
        const migrator = new Migrator({ dialect, connection: conn, plugin, backupDirectory: dir });
        const run = await migrator.up({ dryRun: true });
        expect(run.plan?.backupRequired).toBe(true);
        const fresh = await migrator.backup(run.plan!);
        expect(existsSync(fresh.location)).toBe(true);
        // A database cmpkg never touched: a backup, but no history tables just to record it.
        expect(await new HistoryStore(conn).exists()).toBe(false);

        await new HistoryStore(conn).ensureTables();
        await migrator.backup(run.plan!);
        const { rows } = await conn.execute<{ kind: string; status: string }>(
          'select kind, status from cmpkg_executions',
        );
        expect(rows).toEqual([{ kind: 'backup', status: 'succeeded' }]);
      } finally {
        await conn.close();
      }
    });
  },
  ['sqlite'],
);
