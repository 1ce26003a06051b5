import {
  type Connection,
  defineMigration,
  MIGRATION_LOCK_NAME,
  type MigrationInput,
  Migrator,
  type MigratorOptions,
} from '@cmpkg/core';
import { afterEach, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';

/**
 * The Migrator inside a caller's transaction (what an install from a package does): savepoints
 * instead of BEGIN/COMMIT, nothing committed, the caller's ROLLBACK undoes everything; migrations
 * that need their own transactions are refused before anything runs. And `lockHeld`.
 */

const migration = (id: string, sql: string, extra: Partial<MigrationInput> = {}) =>
  defineMigration({
    id,
    pluginId: 'app',
    version: '1.0.0',
    name: id,
    steps: { up: [{ id: 'up', name: 'up', sql: { universal: sql } }] },
    ...extra,
  });

describeEngines("Migrator inside the caller's transaction", (engine) => {
  let db: TestDatabase;
  const open: Connection[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    await db?.drop();
  });

  async function setup(migrations: ReturnType<typeof migration>[], extra: Partial<MigratorOptions> = {}) {
    db = await createTestDatabase(engine);
    const dialect = testDialect(engine);
    const connection = await dialect.connect(db.url);
    open.push(connection);
    const plugin = { id: 'app', version: '1.0.0', migrations };
    return {
      connection,
      dialect,
      migrator: new Migrator({ dialect, connection, plugin, user: 'tester', ...extra }),
    };
  }

  // MySQL has no transactional DDL: there the Migrator refuses to run inside a caller's
  // transaction (the refusal tests below), so these two do not apply and are not registered.
  const transactionalDdl = engine !== 'mysql';
  const itTransactional = transactionalDdl ? it : () => undefined;

  itTransactional('runs in savepoints, commits nothing, and the caller decides', async () => {
    const { connection, migrator } = await setup([
      migration('0001_a', 'CREATE TABLE a (id int); INSERT INTO a VALUES (1)'),
      migration('0002_b', 'CREATE TABLE b (id int)', { dependencies: ['0001_a'] }),
    ]);
    await connection.execute('BEGIN');
    const run = await migrator.up();
    expect(run.error).toBeUndefined();
    expect(run.results.map((r) => [r.migrationId, r.status])).toEqual([
      ['0001_a', 'applied'],
      ['0002_b', 'applied'],
    ]);
    // Still the caller's transaction: the run neither committed nor ended it.
    expect(connection.inTransaction).toBe(true);
    await connection.execute('ROLLBACK');
    const rolledBack = await db.tableNames();
    expect(rolledBack.filter((t) => t !== 'cmpkg_lock')).toEqual([]);

    // The same migrator again, outside any transaction: the history tables it created inside the
    // rolled-back transaction are gone, and it asks again instead of trusting what it saw.
    expect((await migrator.up()).error).toBeUndefined();
    expect(await db.tableNames()).toEqual(expect.arrayContaining(['a', 'b', 'cmpkg_migrations']));
    expect((await db.history()).map((h) => h.migration_id)).toEqual(['0001_a', '0002_b']);
  });

  itTransactional(
    'a failed migration rolls back to its savepoint and leaves the transaction usable',
    async () => {
      const { connection, migrator } = await setup([
        migration('0001_a', 'CREATE TABLE a (id int)'),
        migration('0002_b', 'CREATE TABLE b (id int); INSERT INTO missing VALUES (1)', {
          dependencies: ['0001_a'],
        }),
      ]);
      await connection.execute('BEGIN');
      const run = await migrator.up();
      expect(run.error?.code).toBe('E_STEP_FAILED');
      expect(run.results.map((r) => r.status)).toEqual(['applied', 'failed']);
      expect(connection.inTransaction).toBe(true);
      // The transaction still works (on PostgreSQL a failed statement would otherwise abort it).
      const { rows } = await connection.execute<{ n: unknown }>(
        "select count(*) as n from cmpkg_migrations where migration_id = '0001_a'",
      );
      expect(Number(rows[0]?.n)).toBe(1);
      await connection.execute('COMMIT');
      expect(await db.tableNames()).toContain('a');
      expect(await db.tableNames()).not.toContain('b');
    },
  );

  it('refuses a migration with non-transactional steps before running anything', async () => {
    // As an install does: the lock first (on MySQL taking it writes a holder row, which would
    // commit an open transaction), then the transaction.
    const { connection, dialect, migrator } = await setup(
      [
        migration('0001_a', 'CREATE TABLE a (id int)'),
        defineMigration({
          id: '0002_loose',
          pluginId: 'app',
          version: '1.0.0',
          name: 'loose',
          dependencies: ['0001_a'],
          steps: {
            up: [
              { id: 'big', name: 'big', sql: { universal: 'CREATE TABLE c (id int)' }, transactional: false },
            ],
          },
        }),
      ],
      { lockHeld: true },
    );
    const release = await dialect.acquireLock(connection, MIGRATION_LOCK_NAME, { timeoutMs: 5_000 });
    await connection.execute('BEGIN');
    const run = await migrator.up();
    expect(run.error?.code).toBe('E_NOT_TRANSACTIONAL');
    expect(run.error?.category).toBe('input');
    expect(run.error?.message).toMatch(/caller's transaction/);
    expect(run.error?.details.migrations).toEqual(
      engine === 'mysql' ? ['0001_a', '0002_loose'] : ['0002_loose'],
    );
    expect(run.results).toEqual([]);
    expect(connection.inTransaction).toBe(true);
    await connection.execute('COMMIT');
    await release();
    // Nothing ran: not the first migration, not even the history tables.
    expect((await db.tableNames()).filter((t) => t !== 'cmpkg_lock')).toEqual([]);
  });

  it('with lockHeld, runs while the caller holds the migration lock', async () => {
    const { connection, dialect, migrator } = await setup([migration('0001_a', 'CREATE TABLE a (id int)')], {
      lockHeld: true,
      lockTimeoutMs: 300,
    });
    const release = await dialect.acquireLock(connection, MIGRATION_LOCK_NAME, { timeoutMs: 5_000 });
    try {
      const run = await migrator.up();
      expect(run.error).toBeUndefined();
      expect(run.results.map((r) => r.status)).toEqual(['applied']);
    } finally {
      await release();
    }
    expect(await db.tableNames()).toContain('a');
  });
});

describeEngines(
  'Migrator.lockHeld',
  (engine) => {
    let db: TestDatabase | undefined;
    afterEach(async () => db?.drop());

    it('without lockHeld, a run on a connection whose caller holds the (not re-entrant) SQLite lock waits for itself', async () => {
      db = await createTestDatabase(engine);
      const dialect = testDialect(engine);
      const connection = await dialect.connect(db.url);
      try {
        const plugin = {
          id: 'app',
          version: '1.0.0',
          migrations: [migration('0001_a', 'CREATE TABLE a (id int)')],
        };
        const release = await dialect.acquireLock(connection, MIGRATION_LOCK_NAME, { timeoutMs: 5_000 });
        try {
          const run = await new Migrator({ dialect, connection, plugin, lockTimeoutMs: 300 }).up();
          expect(run.error?.code).toBe('E_LOCK_TIMEOUT');
          const held = await new Migrator({
            dialect,
            connection,
            plugin,
            lockHeld: true,
            lockTimeoutMs: 300,
          }).up();
          expect(held.error).toBeUndefined();
        } finally {
          await release();
        }
      } finally {
        await connection.close();
      }
    });
  },
  ['sqlite'],
);
