import type { Connection, Dialect, SchemaSnapshot, TableSnapshot } from '@cmpkg/core';
import { afterEach, expect, it } from 'vitest';
import { comparableTable, portableSchema } from '../fixtures/portable-schema.js';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';

/**
 * The type round trip on every engine, through the public entries: render a schema that uses every
 * portable type, every index kind the engine has and a foreign key; apply it; introspect it; get
 * the same schema back. Then recreate it from the snapshot's own CREATE statements elsewhere and
 * introspect that too.
 */

async function apply(conn: Connection, statements: string[]): Promise<void> {
  for (const s of statements) await conn.execute(s);
}

describeEngines('conformance: portable schema round trip', (engine) => {
  const dbs: TestDatabase[] = [];
  const conns: Connection[] = [];
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close();
    for (const d of dbs.splice(0)) await d.drop();
  });
  async function open(dialect: Dialect): Promise<Connection> {
    const db = await createTestDatabase(engine);
    dbs.push(db);
    const conn = await dialect.connect(db.url);
    conns.push(conn);
    return conn;
  }

  it('introspects every portable type, index kind and foreign key as it was declared', async () => {
    const dialect = testDialect(engine);
    const schema = portableSchema(dialect.capabilities);
    const conn = await open(dialect);
    for (const table of schema) await apply(conn, dialect.renderDdl({ kind: 'createTable', table }));

    const snapshot = await dialect.introspect(conn);
    expect(snapshot.format).toBe('cmpkg-schema/1');
    expect(snapshot.engine).toBe(engine);
    expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_authors', 'rt_posts']);
    for (const table of schema) {
      const got = snapshot.tables.find((t) => t.name === table.name) as TableSnapshot;
      expect(comparableTable(got)).toEqual(comparableTable(table));
      // Native types are reported too, and mapped from the dialect's one table.
      for (const c of got.columns) expect(c.nativeType.length).toBeGreaterThan(0);
    }

    // The snapshot's CREATE statements recreate the same schema in a fresh database.
    const copy = await open(dialect);
    await apply(
      copy,
      snapshot.tables.flatMap((t) => t.createSql),
    );
    const again: SchemaSnapshot = await dialect.introspect(copy);
    expect(again.tables.map(comparableTable)).toEqual(snapshot.tables.map(comparableTable));
  });

  it('counts rows and hides cmpkg history tables unless asked', async () => {
    const dialect = testDialect(engine);
    const conn = await open(dialect);
    const [authors] = portableSchema(dialect.capabilities);
    await apply(conn, dialect.renderDdl({ kind: 'createTable', table: authors! }));
    await apply(
      conn,
      dialect.renderDdl({ kind: 'createTable', table: { ...authors!, name: 'cmpkg_fake', indexes: [] } }),
    );
    const q = (name: string) => dialect.quoteIdentifier(name);
    for (const email of ['a@x', 'b@x', 'c@x']) {
      await conn.execute(`insert into ${q('rt_authors')} (${q('email')}) values ('${email}')`);
    }
    const exact = await dialect.introspect(conn, { exactCounts: true });
    expect(exact.tables.map((t) => t.name)).toEqual(['rt_authors']);
    expect(exact.tables[0]).toMatchObject({ rowCount: 3, rowCountExact: true });
    const all = await dialect.introspect(conn, { includeHistoryTables: true, tables: ['cmpkg_fake'] });
    expect(all.tables.map((t) => t.name)).toEqual(['cmpkg_fake']);
  });
});
