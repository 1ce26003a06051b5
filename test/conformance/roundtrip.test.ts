import type { Connection, Dialect, SchemaSnapshot, TableDefinition, TableSnapshot } from '@cmpkg/core';
import { MysqlDialect } from '@cmpkg/dialect-mysql';
import { PostgresDialect } from '@cmpkg/dialect-postgres';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { afterEach, expect, it } from 'vitest';
import { normalizeExpression, portableSchema } from '../fixtures/portable-schema.js';
import {
  createTestDatabase,
  describeEngines,
  type TestDatabase,
  type TestEngine,
} from '../helpers/engines.js';

/**
 * The type round trip on every engine, through the public entries: render a schema that uses every
 * portable type, every index kind the engine has and a foreign key; apply it; introspect it; get
 * the same schema back. Then recreate it from the snapshot's own CREATE statements elsewhere and
 * introspect that too.
 */
const DIALECTS: Record<TestEngine, () => Dialect> = {
  sqlite: () => new SqliteDialect(),
  postgresql: () => new PostgresDialect(),
  mysql: () => new MysqlDialect(),
};

/** What the round trip must preserve, in a shape that compares across spellings. */
function comparable(t: TableDefinition) {
  return {
    name: t.name,
    columns: t.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      default: c.default ?? null,
      autoIncrement: c.autoIncrement ?? false,
    })),
    primaryKey: t.primaryKey?.columns ?? [],
    indexes: [...t.indexes]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((i) => ({
        name: i.name,
        unique: i.unique,
        parts: i.parts.map((p) => ({
          column: p.column ?? null,
          expression: p.expression !== undefined ? normalizeExpression(p.expression) : null,
          descending: p.descending ?? false,
        })),
        where: i.where !== undefined ? normalizeExpression(i.where) : null,
      })),
    foreignKeys: t.foreignKeys.map((f) => ({
      name: f.name,
      columns: f.columns,
      referencedTable: f.referencedTable,
      referencedColumns: f.referencedColumns,
      onDelete: f.onDelete,
      onUpdate: f.onUpdate,
    })),
    checks: t.checks.map((c) => ({ name: c.name, expression: normalizeExpression(c.expression) })),
  };
}

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
    const dialect = DIALECTS[engine]();
    const schema = portableSchema(dialect.capabilities);
    const conn = await open(dialect);
    for (const table of schema) await apply(conn, dialect.renderDdl({ kind: 'createTable', table }));

    const snapshot = await dialect.introspect(conn);
    expect(snapshot.format).toBe('cmpkg-schema/1');
    expect(snapshot.engine).toBe(engine);
    expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_authors', 'rt_posts']);
    for (const table of schema) {
      const got = snapshot.tables.find((t) => t.name === table.name) as TableSnapshot;
      expect(comparable(got)).toEqual(comparable(table));
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
    expect(again.tables.map(comparable)).toEqual(snapshot.tables.map(comparable));
  });

  it('counts rows and hides cmpkg history tables unless asked', async () => {
    const dialect = DIALECTS[engine]();
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
